"""Unknown query parameters are a 422 naming them, not silently ignored.

A misspelt filter (`?stauts=open`) that is ignored returns the whole list, and the caller never
learns why. Every operation's query parameters are the fields of the schema it declares with
`@bp.arguments(..., location="query")` (none when it declares none); anything else is refused before
the view runs. Routes outside the API's blueprints (the spec, the docs page, /metrics) are not checked.
"""
from flask import Flask, current_app, request
from marshmallow import Schema

from marketplace.errors import ValidationFailed


def _declared(view_method) -> set[str] | None:
    """The query parameter names a view method takes, or None when it is not an API operation."""
    apidoc = getattr(view_method, "_apidoc", None)
    if apidoc is None:
        return None
    names: set[str] = set()
    for parameter in apidoc.get("arguments", {}).get("parameters", ()):
        if parameter.get("in") != "query":
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) and issubclass(schema, Schema) else schema
        names |= {field.data_key or name for name, field in schema.fields.items() if not field.dump_only}
    return names


def _check_query() -> None:
    if not request.args or request.method == "OPTIONS":
        return
    view = current_app.view_functions.get(request.endpoint)
    method = getattr(getattr(view, "view_class", None), request.method.lower(), None)
    allowed = _declared(method) if method is not None else None
    if allowed is None:
        return
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        hint = f"; this operation takes {', '.join(sorted(allowed))}" if allowed else "; this operation takes none"
        raise ValidationFailed(f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}{hint}.",
                               errors={"query": {name: ["Unknown field."] for name in unknown}},
                               code="unknown_parameter")


def register(app: Flask) -> None:
    """Check every API request's query string against the operation's declared parameters."""
    app.before_request(_check_query)
