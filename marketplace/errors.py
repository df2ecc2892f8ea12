"""Domain errors and the one JSON error shape: {code, status, message, errors}.

Schema errors from flask-smorest, HTTP errors from werkzeug and DomainErrors from services are all
rendered by the same handler, so the documented ErrorSchema holds for every 4xx and 5xx.
"""
import logging
import re
from http import HTTPStatus

from flask import Flask, jsonify
from sqlalchemy.exc import DataError, IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain was broken; carries the HTTP status it maps to."""

    status = 400
    keeps_changes = False

    def __init__(self, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


class Unauthorized(DomainError):
    status = 401


class InsufficientFunds(DomainError):
    status = 402


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class ValidationFailed(DomainError):
    status = 422


def field_error(message: str, *path) -> ValidationFailed:
    """Build a 422 naming the failing field, as nested keys under the `json` location."""
    errors: dict = {path[-1]: [message]} if path else {}
    for key in reversed(path[:-1]):
        errors = {key: errors}
    return ValidationFailed(message, errors={"json": errors})


def body(code: int, message: str, errors: dict | None = None) -> dict:
    """Return the error payload for a status code."""
    return {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "message": message,
        "errors": errors or {},
    }


def _domain(error: DomainError):
    response = jsonify(body(error.status, error.message, error.errors))
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


def _http(error: HTTPException):
    data = getattr(error, "data", None) or {}
    message = (
        data.get("message")
        or first_problem(data.get("messages"))
        or error.description
        or HTTPStatus(error.code).phrase
    )
    response = jsonify(body(error.code, message, data.get("messages")))
    response.status_code = error.code
    response.headers.update(data.get("headers") or {})
    if error.code == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


# PostgreSQL's SQLSTATEs for a value the schema refuses: a reference to a row that does not exist, a
# number out of its column's range. A check that should have caught it first is missing, but the
# caller still sent a bad field: 422 naming it (the constraint's column), not a 500.
_FIELD_STATES = {"23503": "refers to nothing that exists", "22003": "is out of range"}
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
    return _domain(ValidationFailed(f"{column}: {_FIELD_STATES[state]}", errors={"json": {column: [_FIELD_STATES[state]]}}))


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
    app.register_error_handler(Exception, _unexpected)
