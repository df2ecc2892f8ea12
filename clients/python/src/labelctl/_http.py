"""The HTTP layer under every call: base URL, bearer, Idempotency-Key, bounded retries, errors, paging.

A call that changes something (POST, PATCH, DELETE) gets a fresh `Idempotency-Key` (uuid4) unless
the caller passes their own or opts out; every retry of that call sends the same key and the same
body bytes, so a server that honours keys applies it once. Retries: connection failures that
happened before the request went out, 429 and 503 (the server did nothing) always; other 5xx and
read failures only for calls that are safe to repeat (GET, DELETE, or carrying a key). A
`Retry-After` header is waited out when it is no longer than `Retries.max_retry_after_s`.
"""
from __future__ import annotations

import json as jsonlib
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from labelctl import errors

VERSION = "0.1.0"
API_PREFIX = "/api/v1"
_CHANGES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_SAFE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Failures where the request certainly never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# What a caller passes as `idempotency_key`: None makes one, a string is used as is, False sends none.
IdempotencyKey = str | bool | None


@dataclass(frozen=True)
class Retries:
    """How a failed call is retried: `attempts` more tries at most, exponential backoff with jitter."""

    attempts: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        return float(min(self.max_backoff_s, self.backoff_s * 2.0 ** attempt) * (0.5 + random.random() / 2))


NO_RETRIES = Retries(attempts=0)


def api_root(base_url: str) -> str:
    """The API's root URL: `base_url` with /api/v1 appended unless it is there already."""
    root = base_url.rstrip("/")
    return root if root.endswith(API_PREFIX) else root + API_PREFIX


class Http:
    """One httpx.Client bound to the API root, sending the bearer and applying the rules above."""

    def __init__(self, base_url: str, *, bearer: str | None, transport: httpx.BaseTransport | None,
                 timeout: float | httpx.Timeout, retries: Retries, idempotency: bool) -> None:
        self.bearer = bearer
        self.retries = retries
        self.idempotency = idempotency
        self._client = httpx.Client(
            base_url=api_root(base_url), transport=transport, timeout=timeout, follow_redirects=False,
            headers={"User-Agent": f"labelctl/{VERSION} httpx/{httpx.__version__}", "Accept": "application/json"},
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url).rstrip("/")

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
                content: bytes | None = None, headers: Mapping[str, str] | None = None,
                idempotency_key: IdempotencyKey = None) -> Any:
        """Make one API call (with its retries) and return the decoded JSON body (None for 204)."""
        request = self._build(method, path, json=json, params=params, content=content, headers=headers,
                              idempotency_key=idempotency_key)
        response = self._send(request, stream=False)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    @contextmanager
    def stream(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
               accept: str = "*/*", headers: Mapping[str, str] | None = None) -> Iterator[httpx.Response]:
        """Make a call whose body is read by the caller in chunks (exports); errors raise before yielding."""
        request = self._build(method, path, params=params, headers={"Accept": accept, **(headers or {})})
        response = self._send(request, stream=True)
        try:
            yield response
        finally:
            response.close()

    def upload(self, path: str, file: Path, *, field: str = "file", params: Mapping[str, Any] | None = None,
               idempotency_key: IdempotencyKey = None) -> Any:
        """POST a file as multipart form data, streamed from disk (re-read from the start on a retry)."""
        key = self._key("POST", idempotency_key)
        handles: list[IO[bytes]] = []

        def build() -> httpx.Request:
            for handle in handles:
                handle.close()
            handles[:] = [open(file, "rb")]
            headers = {"Authorization": f"Bearer {self.bearer}"} if self.bearer else {}
            if key:
                headers["Idempotency-Key"] = key
            query = {k: v for k, v in (params or {}).items() if v is not None}
            return self._client.build_request("POST", path.lstrip("/"), params=query, headers=headers,
                                              files={field: (file.name, handles[0], "application/octet-stream")})

        try:
            response = self._send(build(), stream=False, rebuild=build)
        finally:
            for handle in handles:
                handle.close()
        return response.json()

    def pages(self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 100) -> Iterator[Any]:
        """Every item of a cursor-paged list (`?limit=&cursor=` -> `items`, `next_cursor`), page by page."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        query["limit"] = page_size
        while True:
            page = self.request("GET", path, params=query)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if cursor is None:
                return
            query["cursor"] = cursor

    def _build(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
               content: bytes | None = None, headers: Mapping[str, str] | None = None,
               idempotency_key: IdempotencyKey = None) -> httpx.Request:
        method = method.upper()
        sent = dict(headers or {})
        if self.bearer:
            sent["Authorization"] = f"Bearer {self.bearer}"
        if json is not None:
            # Serialised once: every retry sends the very same bytes under the same key.
            content = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        key = self._key(method, idempotency_key)
        if key:
            sent["Idempotency-Key"] = key
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return self._client.build_request(method, path.lstrip("/"), params=query, content=content, headers=sent)

    def _key(self, method: str, given: IdempotencyKey) -> str | None:
        if isinstance(given, str):
            return given
        if given is False or method not in _CHANGES or not self.idempotency:
            return None
        return str(uuid.uuid4())

    def _send(self, request: httpx.Request, *, stream: bool,
              rebuild: Callable[[], httpx.Request] | None = None) -> httpx.Response:
        """Send with the retry rules; `rebuild` makes a fresh request for each retry (a streamed body is read once)."""
        repeatable = request.method in _SAFE or "Idempotency-Key" in request.headers
        attempt = 0
        while True:
            try:
                response = self._client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt < self.retries.attempts and (repeatable or isinstance(exc, _NOT_SENT)):
                    self.retries.sleep(self.retries.backoff(attempt))
                    attempt += 1
                    request = rebuild() if rebuild is not None else request
                    continue
                raise errors.NetworkError(f"{request.method} {request.url}: {exc or type(exc).__name__}") from exc
            if response.status_code < 400:
                return response
            response.read()
            wait = self._retry_wait(response, attempt, repeatable)
            if wait is None:
                raise errors.from_response(response)
            response.close()
            self.retries.sleep(wait)
            attempt += 1
            request = rebuild() if rebuild is not None else request

    def _retry_wait(self, response: httpx.Response, attempt: int, repeatable: bool) -> float | None:
        """Seconds to wait before retrying this error response, or None to raise it."""
        status = response.status_code
        if attempt >= self.retries.attempts:
            return None
        if not (status in (429, 503) or (status >= 500 and repeatable)):
            return None
        asked = errors.retry_after_s(response.headers.get("Retry-After"))
        if asked is None:
            return self.retries.backoff(attempt)
        return asked if asked <= self.retries.max_retry_after_s else None
