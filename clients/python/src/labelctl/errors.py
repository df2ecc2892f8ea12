"""Typed exceptions: every API error is an `ApiError` subclass carrying the server's machine `code`.

The server's error body is `{"status": 404, "type": "...", "code": "not_found", "message": ...,
"param": ..., "errors": {...}, "request_id": ...}`; older servers send `{"code": 404, "status":
"Not Found", "message": ..., "errors": {...}}`. Both are read: the HTTP status always comes from the
response, `code` is the body's when it is a string and otherwise derived from the status, and
`param` is the body's or the first field named in `errors` (`tasks.3.data`).
"""
from __future__ import annotations

import email.utils
import re
import time
from http import HTTPStatus
from typing import Any

import httpx

# Codes for a body that carries none of its own (older servers, proxies): the server's own defaults.
_FALLBACK_CODES = {
    400: "bad_request", 401: "unauthenticated", 402: "insufficient_funds", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_field", 429: "rate_limited", 500: "internal_error", 502: "bad_gateway", 503: "unavailable",
    504: "gateway_timeout",
}
_LOCATIONS = {"json", "query", "form", "files", "headers", "path", "view_args", "cookies"}


class LabelctlError(Exception):
    """Anything this package raises on purpose.

    An error that stops a task import carries `progress`: what went in before it.
    """

    progress: Any = None


class NetworkError(LabelctlError):
    """The server could not be reached (after the allowed retries)."""


class FileFormatError(LabelctlError, ValueError):
    """A task file could not be read: names the file line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class ApiError(LabelctlError):
    """The server answered with an error status.

    A task import's refusal of a row also names its `line` (in the file, or the input's index).
    """

    line: int | None = None

    def __init__(self, status: int, code: str, message: str, param: str | None = None,
                 errors: dict[str, Any] | None = None, request_id: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.errors = errors or {}
        self.request_id = request_id
        self.headers = headers or {}

    def __str__(self) -> str:
        where = f" [{self.param}]" if self.param else ""
        return f"{self.status} {self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class BadRequest(ApiError):
    """400 or 422: the request was refused as invalid; nothing changed."""


ValidationError = BadRequest


class AuthenticationError(ApiError):
    """401: no credential, a wrong one, or an expired token."""


class PaymentRequired(ApiError):
    """402: not enough money (the message names the shortfall)."""


class PermissionDenied(ApiError):
    """403: authenticated, but not allowed (a role, an unmet qualification)."""


class NotFound(ApiError):
    """404: no such object, or not yours."""


class Conflict(ApiError):
    """409: the object's state does not allow this now."""


class RateLimited(ApiError):
    """429: too many requests; `retry_after` says how many seconds to wait."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_s(self.headers.get("retry-after"))


class ServerError(ApiError):
    """5xx: the server failed or is unavailable."""


_BY_STATUS: dict[int, type[ApiError]] = {400: BadRequest, 422: BadRequest, 401: AuthenticationError,
                                         402: PaymentRequired, 403: PermissionDenied, 404: NotFound,
                                         409: Conflict, 429: RateLimited}


def error_class(status: int) -> type[ApiError]:
    """The exception class for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ApiError)


def fallback_code(status: int) -> str:
    """A machine code for a status whose body named none."""
    if status in _FALLBACK_CODES:
        return _FALLBACK_CODES[status]
    try:
        return re.sub(r"[^a-z0-9]+", "_", HTTPStatus(status).phrase.lower()).strip("_")
    except ValueError:
        return "http_error"


def first_param(errors: Any) -> str | None:
    """The dotted path of the first field an `errors` dict names, without its location (`json`)."""
    path: list[str] = []
    while isinstance(errors, dict) and errors:
        key = next(iter(errors))
        errors = errors[key]
        if not path and key in _LOCATIONS and isinstance(errors, dict):
            continue
        path.append(str(key))
    return ".".join(path) or None


def retry_after_s(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def from_response(response: httpx.Response) -> ApiError:
    """Build the typed exception for an error response (the body read already)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:500] if response.content else ""
        body = {"message": text or fallback_code(status).replace("_", " ")}
    code = body.get("code")
    errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
    param = body.get("param") if isinstance(body.get("param"), str) else first_param(errors)
    request_id = body.get("request_id") or response.headers.get("x-request-id")
    return error_class(status)(
        status=status, code=code if isinstance(code, str) and code else fallback_code(status),
        message=str(body.get("message") or fallback_code(status)), param=param, errors=errors,
        request_id=request_id, headers={k.lower(): v for k, v in response.headers.items()},
    )
