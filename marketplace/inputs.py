"""Input hygiene for every request: numbers and text PostgreSQL can store, or a clear 4xx.

- JSON with NaN or Infinity is refused (400): they are not JSON, and a float column or JSONB cannot hold them.
- A NUL character anywhere in a JSON body is refused (422 naming the path): PostgreSQL text cannot hold it.
- An integer id in the URL or in a body field beyond what a BIGINT column holds is a 404 or 422, not a 500.
"""
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import validate

from marketplace.errors import NotFound, ValidationFailed

MAX_ID = 2**63 - 1
MAX_INT = 2**31 - 1


def id_range() -> validate.Range:
    """A validator for ids (BIGINT)."""
    return validate.Range(min=1, max=MAX_ID)


def int_range(minimum: int = 0) -> validate.Range:
    """A validator for counts and durations (INTEGER)."""
    return validate.Range(min=minimum, max=MAX_INT)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, refusing NaN and Infinity on the way in."""

    def loads(self, s, **kwargs):
        return super().loads(s, parse_constant=_refuse_constant, **kwargs)


def _nul_path(value, path="json"):
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _nul_path(key, f"{path}.{key}") or _nul_path(item, f"{path}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}.{i}")
            if found:
                return found
    return None


def _check_request() -> None:
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and value > MAX_ID:
            raise NotFound("No such object.")
    if request.is_json and request.content_length:
        path = _nul_path(request.get_json(silent=True))
        if path is not None:
            parts = path.split(".")
            errors: dict = {parts[-1]: ["must not contain NUL characters"]}
            for part in reversed(parts[:-1]):
                errors = {part: errors}
            raise ValidationFailed(f"{path}: must not contain NUL characters", errors=errors)


def register(app: Flask) -> None:
    """Install the strict JSON provider and the per-request checks."""
    app.json_provider_class = StrictJSONProvider
    app.json = StrictJSONProvider(app)
    app.before_request(_check_request)
