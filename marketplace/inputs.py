"""Input hygiene for every request: numbers and text PostgreSQL can store, or a clear 4xx.

- JSON with NaN or Infinity is refused (400): they are not JSON, and a float column or JSONB cannot hold them.
  A number past a double's range (1e400, which Python reads as infinity) is refused too (422 naming the path).
- JSON integers longer than MAX_INT_DIGITS digits are refused (422 naming the path): no column holds
  them, and Python would spend its time (or refuse, past 4,300 digits) turning them into numbers.
- JSON nested deeper than MAX_DEPTH, a NUL character, or an unpaired UTF-16 surrogate ("\ud800", not
  Unicode: it cannot be stored or encoded) anywhere in a value or key is refused (422 naming the path).
- The same rules hold for every upload format (tasks/parsing.py parses with `loads` and checks with
  `problem`).
- An integer id in the URL or in a body field beyond what a BIGINT column holds is a 404 or 422, not a 500.
- An operation that declares a JSON body (flask-smorest's `@bp.arguments`, required by default, as the
  spec says) refuses a request without one (422) or with a body of another media type (415). The
  schema layer would read either as `{}` and apply the defaults: a bare POST to approve would approve
  every pending answer. An operation whose body may be left out says so with `required=False`.
- Booleans are JSON's true and false (`StrictBoolean`); marshmallow's Boolean also takes 1, "yes", "on".
"""
import functools
import json
import math
import re

import orjson
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import fields, validate
from werkzeug.exceptions import UnsupportedMediaType

from marketplace.errors import DomainError, NotFound, ValidationFailed

MAX_ID = 2**63 - 1
MAX_INT = 2**31 - 1
MAX_DEPTH = 64
MAX_INT_DIGITS = 40


def id_range() -> validate.Range:
    """A validator for ids (BIGINT)."""
    return validate.Range(min=1, max=MAX_ID)


def int_range(minimum: int = 0) -> validate.Range:
    """A validator for counts and durations (INTEGER)."""
    return validate.Range(min=minimum, max=MAX_INT)


class StrictBoolean(fields.Boolean):
    """A JSON boolean, true or false; the spec says `boolean`, so 0, 1, "yes" and "on" are refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class HugeInteger:
    """Stands for a JSON integer too long to turn into a number; problem() reports it at its path."""

    def __init__(self, digits: int):
        self.digits = digits


def _bounded_int(text: str):
    digits = len(text.lstrip("-"))
    return HugeInteger(digits) if digits > MAX_INT_DIGITS else int(text)


# orjson reads an integer past 64 bits as a float (12345678901234567890123 -> 1.2345678901234568e+22): a text
# with a run of this many digits is left to the standard parser, which keeps integers exact.
_DIGIT_RUN = re.compile(r"[0-9]{19}")
_DIGIT_RUN_BYTES = re.compile(rb"[0-9]{19}")


def loads(text, **kwargs):
    """json.loads with this module's rules: no NaN/Infinity, no nesting deep enough to recurse out (ValueError,
    json.JSONDecodeError being one); an integer too long comes back as a HugeInteger for problem() to name.

    orjson parses first (several times faster, and it refuses NaN and Infinity too); whatever it refuses or
    might read differently (long digit runs, deep nesting, UTF-16, 1e400) goes to the standard parser,
    whose result and error message are the ones given.
    """
    if not kwargs and _orjson_reads_alike(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return _standard_loads(text, **kwargs)


def _standard_loads(text, **kwargs):
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_int=_bounded_int, **kwargs)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


def _orjson_reads_alike(text) -> bool:
    """No long digit run, and no nesting orjson would parse where the standard parser recurses out (a 400)."""
    if isinstance(text, str):
        return text.count("[") + text.count("{") <= MAX_DEPTH and _DIGIT_RUN.search(text) is None
    return (isinstance(text, bytes) and text.count(b"[") + text.count(b"{") <= MAX_DEPTH
            and _DIGIT_RUN_BYTES.search(text) is None)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with `loads`' rules on the way in."""

    def loads(self, s, **kwargs):
        return loads(s, **kwargs)


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain unpaired surrogates (not valid Unicode)"
    return None


# What in an ASCII JSON text could make problem() find something, or orjson read otherwise than the standard
# parser: a NUL escaped as \\u0000 or an escaped surrogate (\\uD800-\\uDFFF); a run of 19 digits (orjson reads an
# integer past 64 bits as a float; past MAX_INT_DIGITS problem() refuses it); a three-digit exponent (1e400
# reads as infinity). One pattern, so the text is scanned once.
_SUSPECT = re.compile(r"[0-9.](?:[0-9]{18}|[eE][+-]?[0-9]{3})|\\u(?:0000|[dD][89a-fA-F])")


def surely_clean(text: str) -> bool:
    """True when the value `loads(text)` parses cannot hold anything problem() refuses (a cheap test on the text).

    Nesting needs an opening bracket per level; a NUL, a surrogate, a long integer or an infinite
    number needs the characters tested for here. Non-ASCII text is never called clean. When this
    says False, run problem() on the parsed value: the import hot path skips the walk over every
    value of every row.
    """
    if text.count("{") + text.count("[") > MAX_DEPTH or "\x00" in text or not text.isascii():
        return False
    return _SUSPECT.search(text) is None


def loads_checked(text: str):
    """(value, clean): loads(text), and whether it is surely_clean (no problem() walk needed), testing the text once."""
    if not surely_clean(text):
        return loads(text), False  # non-ASCII text may still go through orjson there
    try:
        return orjson.loads(text), True  # nothing in the text it could read otherwise
    except orjson.JSONDecodeError:
        return _standard_loads(text), False  # its message, or its reading of what orjson refuses


def problem(value, path: str = "json") -> tuple[str, str] | None:
    """(path, message) of the first thing in a parsed JSON value no column can hold, or None.

    Iterative, so a deep value cannot exhaust the stack while being checked.
    """
    stack = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            return where, f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            message = _text_problem(item)
            if message:
                return where, message
        elif isinstance(item, HugeInteger):
            return where, f"an integer of {item.digits} digits; at most {MAX_INT_DIGITS}"
        elif isinstance(item, float) and not math.isfinite(item):
            return where, "a number beyond a double's range"
        elif isinstance(item, dict):
            for key, inner in item.items():
                message = _text_problem(key) if isinstance(key, str) else None
                if message:
                    return f"{where}.{key!r}", message
                stack.append((inner, f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}.{i}", depth + 1) for i, inner in enumerate(item))
    return None


def errors_at(path: str, message: str) -> dict:
    """The error shape's `errors` for a message at a dotted path (json.tasks.3.data -> nested dicts)."""
    parts = path.split(".")
    errors: dict = {parts[-1]: [message]}
    for part in reversed(parts[:-1]):
        errors = {part: errors}
    return errors


@dataclass(frozen=True)
class Operation:
    """What an API operation declares of its input (its `@bp.arguments`), read once per view method."""

    json_body_required: bool
    query_names: frozenset[str]


@functools.cache
def _operation(method) -> Operation:
    json_required, names = False, set()
    for parameter in method._apidoc.get("arguments", {}).get("parameters", ()):
        if parameter["in"] == "json" and parameter.get("required"):
            json_required = True
        elif parameter["in"] == "query":
            schema = parameter["schema"]
            schema = schema() if isinstance(schema, type) else schema
            names |= {field.data_key or name for name, field in schema.fields.items() if not field.dump_only}
    return Operation(json_required, frozenset(names))


def current_operation() -> Operation | None:
    """The operation this request reached, or None outside the API's views (spec, docs, /metrics)."""
    view = current_app.view_functions.get(request.endpoint)
    method = getattr(getattr(view, "view_class", None), request.method.lower(), None)
    return _operation(method) if hasattr(method, "_apidoc") else None


def declares_json_body() -> bool:
    """Whether the view this request reached takes a required JSON body (what the spec's requestBody says)."""
    operation = current_operation()
    return operation is not None and operation.json_body_required


def _require_json_body() -> None:
    if (request.is_json and request.get_data(cache=True)) or not declares_json_body():
        return
    if request.get_data(cache=True):
        raise UnsupportedMediaType(f"Send the body as application/json, not {request.mimetype or 'untyped'}.")
    raise ValidationFailed("A JSON body is required (send {} for the defaults).",
                           errors={"json": {"_body": ["A JSON body is required."]}})


def _check_request() -> None:
    req = request._get_current_object()  # one context lookup for the reads below
    for value in (req.view_args or {}).values():
        if isinstance(value, int) and value > MAX_ID:
            raise NotFound("No such object.")
    _require_json_body()
    if req.is_json and req.content_length:
        # Parsed here under these rules, before the schema layer (webargs) parses it again with plain json.
        data = req.get_data(cache=True)
        try:  # an ASCII body surely_clean holds nothing problem() would find: no walk over it
            body, clean = loads_checked(data.decode("ascii")) if data.isascii() else (loads(data), False)
        except ValueError as exc:
            raise DomainError(f"The body is not JSON this API accepts: {getattr(exc, 'msg', str(exc))}.",
                              errors={"json": {"_body": [str(getattr(exc, "msg", exc))]}}) from None
        found = None if clean else problem(body)
        if found is not None:
            path, message = found
            raise ValidationFailed(f"{path}: {message}", errors=errors_at(path, message))


def register(app: Flask) -> None:
    """Install the strict JSON provider and the per-request checks."""
    app.json_provider_class = StrictJSONProvider
    app.json = StrictJSONProvider(app)
    app.before_request(_check_request)
