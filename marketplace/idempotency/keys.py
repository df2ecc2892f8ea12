"""`@idempotent`: a state-changing request sent again with the same `Idempotency-Key` gets the first response.

Clients retry on timeouts; without a key a retried `POST /projects` makes two projects. The rules
are Stripe's: keys belong to the calling account and live 24 h; the replay is the first response
byte for byte with `Idempotent-Replayed: true`; the same key with a different request (method, path,
query or body) is a 422 `idempotency_key_reused`; a key whose first request has not finished is a
409 `idempotency_key_in_use` (try again in a moment). Only a success (2xx) is kept: a request that
failed changed nothing and may be sent again with its key.

The claim on the key is written in the request's own transaction, so the effect and the claim
commit together (two concurrent requests with one key: the second waits on the unique index, then
finds the first's claim); the response is recorded in a small second commit just after. Fields named
in `secret_fields` (a signing secret shown once) are blanked in the stored copy: a secret is never
kept in a second place, so a replay shows it as null.

Usage, below the role guard (the key belongs to the account it authenticated):

    @requires(REQUESTER)
    @idempotent
    @bp.arguments(...)
    @bp.response(201, ...)
    def post(self, body): ...
"""
import functools
import hashlib
import json
from datetime import timedelta

from flask import Response, g, request
from flask_smorest import Blueprint

from marketplace.db import utcnow
from marketplace.errors import Conflict, ValidationFailed
from marketplace.idempotency import store

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
TTL = timedelta(hours=24)
MAX_LENGTH = 100
KEPT_HEADERS = ("Content-Type", "Location")

PARAMETER = {
    "name": HEADER, "in": "header", "required": False, "schema": {"type": "string", "maxLength": MAX_LENGTH},
    "description": "Send the same value to retry safely: within 24 h the first success is replayed "
                   "(with `Idempotent-Replayed: true`) instead of doing the work twice.",
}


def key_from_request() -> str | None:
    """The request's Idempotency-Key, checked (at most 100 printable characters), or None."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_LENGTH or not key.isprintable():
        raise ValidationFailed(f"The {HEADER} header must be at most {MAX_LENGTH} printable characters.",
                               errors={"headers": {HEADER: ["invalid"]}}, code="invalid_field")
    return key


def request_hash() -> str:
    """What makes two requests the same request: method, path with query, and the raw body.

    A multipart upload (an import file of gigabytes) is hashed from its parsed fields and files,
    read in pieces from where werkzeug spooled them, never held in memory whole.
    """
    digest = hashlib.sha256(f"{request.method} {request.full_path}\n".encode())
    if request.mimetype != "multipart/form-data":
        digest.update(request.get_data(cache=True))
        return digest.hexdigest()
    for name, value in sorted(request.form.items(multi=True)):
        digest.update(f"field {name}={value}\n".encode())
    for name, upload in sorted(request.files.items(multi=True), key=lambda pair: pair[0]):
        digest.update(f"file {name} {upload.filename}\n".encode())
        while piece := upload.stream.read(1 << 20):
            digest.update(piece)
        upload.stream.seek(0)
    return digest.hexdigest()


def idempotent(view=None, *, secret_fields: tuple[str, ...] = ()):
    """Make a view replay its first success for a repeated Idempotency-Key (see the module docstring)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            key = key_from_request()
            if key is None:
                return view(*args, **kwargs)
            account_id, asked, now = g.account.id, request_hash(), utcnow()
            first = store.find(account_id=account_id, key=key, since=now - TTL)
            if first is not None:
                return _replay(first, asked)
            if not store.claim(account_id=account_id, key=key, method=request.method, path=request.full_path,
                               request_hash=asked, now=now, expired_before=now - TTL):
                raise Conflict("A request with this Idempotency-Key is still being processed; try again shortly.",
                               code="idempotency_key_in_use")
            try:
                response = view(*args, **kwargs)
            except BaseException:
                store.release(account_id=account_id, key=key)  # a failed request leaves the key free
                raise
            return _record(response, account_id, key, secret_fields)

        return Blueprint.doc(parameters=[PARAMETER])(wrapper)

    return decorate(view) if view is not None else decorate


def _replay(first, asked: str) -> Response:
    if first.request_hash != asked:
        raise ValidationFailed(f"This {HEADER} was already used for a different request.",
                               errors={"headers": {HEADER: ["reused with a different request"]}},
                               code="idempotency_key_reused")
    if first.status is None:
        raise Conflict("A request with this Idempotency-Key is still being processed; try again shortly.",
                       code="idempotency_key_in_use")
    response = Response(first.body, status=first.status, headers=first.headers or {})
    response.headers[REPLAYED] = "true"
    return response


def _record(response, account_id: int, key: str, secret_fields: tuple[str, ...]):
    if not isinstance(response, Response) or not 200 <= response.status_code < 300:
        store.release(account_id=account_id, key=key)
        return response
    body = response.get_data(as_text=True)
    if secret_fields and body:
        stored = json.loads(body)
        if isinstance(stored, dict):
            body = json.dumps({k: (None if k in secret_fields else v) for k, v in stored.items()})
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    store.finish(account_id=account_id, key=key, status=response.status_code, body=body, headers=headers)
    return response
