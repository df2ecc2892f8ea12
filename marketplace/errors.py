"""Domain errors and the one JSON error shape.

    {"status": 409, "type": "conflict", "code": "project_not_open", "message": "...",
     "param": "answer.label", "errors": {"json": {"answer": {"label": ["..."]}}}, "request_id": "..."}

`status` is the HTTP status; `type` its family (what a client does about it: fix the request, sign in,
wait, retry); `code` a stable machine-readable reason a client may branch on (README: error codes);
`param` the first failing field, dotted, or null; `errors` every failing field by location;
`request_id` the id of the request in the logs. Schema errors from flask-smorest, HTTP errors from
werkzeug and DomainErrors from services are all rendered here, so the documented shape holds for
every 4xx and 5xx.
"""
import logging
import re
from http import HTTPStatus

from flask import Flask, g, has_request_context, jsonify
from marshmallow import Schema, fields
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# Families of statuses: what the client should do.
TYPES = {400: "invalid_request", 401: "authentication", 402: "payment", 403: "permission", 404: "not_found",
         405: "invalid_request", 409: "conflict", 413: "invalid_request", 415: "invalid_request",
         422: "invalid_request", 429: "rate_limit", 503: "unavailable"}
# The code of an error nothing more specific was said about.
DEFAULT_CODES = {400: "bad_request", 401: "unauthenticated", 402: "insufficient_funds", 403: "forbidden",
                 404: "not_found", 405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                 415: "unsupported_media_type", 422: "invalid_field", 429: "rate_limited", 500: "internal_error",
                 503: "unavailable"}


class DomainError(Exception):
    """A rule of the domain was broken; carries the HTTP status it maps to and a stable code."""

    status = 400
    code = "bad_request"
    keeps_changes = False

    def __init__(self, message: str, errors: dict | None = None, headers: dict | None = None,
                 code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}
        self.code = code or type(self).code
        self.param = param


class Unauthorized(DomainError):
    status = 401
    code = "unauthenticated"


class InsufficientFunds(DomainError):
    status = 402
    code = "insufficient_funds"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class ValidationFailed(DomainError):
    status = 422
    code = "invalid_field"


def field_error(message: str, *path, code: str = "invalid_field") -> ValidationFailed:
    """Build a 422 naming the failing field, as nested keys under the `json` location."""
    errors: dict = {path[-1]: [message]} if path else {}
    for key in reversed(path[:-1]):
        errors = {key: errors}
    return ValidationFailed(message, errors={"json": errors}, code=code)


def first_param(errors) -> str | None:
    """The dotted path of the first failing field in a webargs-style error dict (location left out)."""
    path = []
    while isinstance(errors, dict) and errors:
        key = next(iter(errors))
        path.append(str(key))
        errors = errors[key]
    if path and path[0] in ("json", "query", "form", "files", "headers", "path", "view_args"):
        path = path[1:]
    return ".".join(path) or None


def body(status: int, message: str, errors: dict | None = None, code: str | None = None,
         param: str | None = None) -> dict:
    """Return the error payload for a status code."""
    return {
        "status": status,
        "type": TYPES.get(status, "api_error" if status >= 500 else "invalid_request"),
        "code": code or DEFAULT_CODES.get(status, "internal_error" if status >= 500 else "bad_request"),
        "message": message,
        "param": param if param is not None else first_param(errors),
        "errors": errors or {},
        "request_id": g.get("request_id") if has_request_context() else None,
    }


class ErrorSchema(Schema):
    """The one error shape (documented on every operation)."""

    status = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    type = fields.String(required=True, metadata={"description": "the family: " + ", ".join(sorted(set(TYPES.values()) | {"api_error"}))})
    code = fields.String(required=True, metadata={"description": "a stable machine-readable reason (README: error codes)",
                                                  "example": "project_not_open"})
    message = fields.String(required=True)
    param = fields.String(required=True, allow_none=True, metadata={"description": "the first failing field, dotted"})
    errors = fields.Dict(required=True, metadata={"description": "every failing field, by location"})
    request_id = fields.String(required=True, allow_none=True)


def _domain(error: DomainError):
    response = jsonify(body(error.status, error.message, error.errors, error.code, error.param))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def first_problem(errors) -> str | None:
    """Describe the first leaf of a nested error dict as `path.to.field: message`."""
    path = []
    while isinstance(errors, dict) and errors:
        key = next(iter(errors))
        path.append(str(key))
        errors = errors[key]
    if isinstance(errors, list) and errors:
        leaf = errors[0]
        if isinstance(leaf, (dict, list)):
            return first_problem(leaf)
        return f"{'.'.join(path)}: {leaf}" if path else str(leaf)
    return None


# Codes of werkzeug's errors that say more than their status (by exception class name).
_HTTP_CODES = {"RateLimitExceeded": "rate_limited", "RequestEntityTooLarge": "payload_too_large",
               "NotFound": "not_found", "MethodNotAllowed": "method_not_allowed"}


def _http(error: HTTPException):
    data = getattr(error, "data", None) or {}
    message = (
        data.get("message")
        or first_problem(data.get("messages"))
        or error.description
        or HTTPStatus(error.code).phrase
    )
    response = jsonify(body(error.code, message, data.get("messages"), _HTTP_CODES.get(type(error).__name__)))
    response.status_code = error.code
    response.headers.update(data.get("headers") or {})
    if error.code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


# PostgreSQL's SQLSTATEs for a value the schema refuses: a reference to a row that does not exist, a
# number out of its column's range. A check that should have caught it first is missing, but the
# caller still sent a bad field: 422 naming it (the constraint's column), not a 500.
_FIELD_STATES = {"23503": "refers to nothing that exists", "22003": "is out of range"}
DATABASE_CODES = {"23503": "unknown_reference", "22003": "out_of_range"}
_KEY_COLUMN = re.compile(r"Key \((\w+)\)")


def _database(error: Exception):
    orig = getattr(error, "orig", None)
    state = getattr(orig, "sqlstate", None)
    if state not in _FIELD_STATES:
        return _unexpected(error)
    diag = getattr(orig, "diag", None)
    found = _KEY_COLUMN.search(getattr(diag, "message_detail", None) or "")
    column = (found.group(1) if found else None) or getattr(diag, "column_name", None) or "_body"
    log.warning("database refused a value (%s): %s", state, getattr(diag, "message_primary", orig))
    return _domain(ValidationFailed(f"{column}: {_FIELD_STATES[state]}", errors={"json": {column: [_FIELD_STATES[state]]}},
                                    code=DATABASE_CODES[state]))


# How long a client should wait before retrying when the database is out of reach: a restart or a
# failover takes seconds, and the pool replaces its connections on the next request.
DATABASE_RETRY_AFTER_S = 2


def _database_unavailable(error: OperationalError):
    """The database could not be reached or dropped the connection (a restart, a failover), or refused
    the transaction for a retryable reason (a deadlock, a serialization failure): nothing was committed,
    so a 503 the client retries, never a 500. SQLAlchemy has invalidated the pool's dead connections."""
    log.warning("database unavailable: %s", getattr(error, "orig", error))
    response = jsonify(body(503, "The database is unavailable for a moment; nothing was saved. Retry shortly."))
    response.status_code = 503
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    return response


def _unexpected(error: Exception):
    log.exception("unhandled error")
    response = jsonify(body(500, "Internal error; it has been logged."))
    response.status_code = 500
    return response


def register(app: Flask) -> None:
    """Install the handlers that render every error in the one shape."""
    app.register_error_handler(DomainError, _domain)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(IntegrityError, _database)
    app.register_error_handler(DataError, _database)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
