"""Unknown query parameters are a 422 naming them, not silently ignored.

A misspelt filter (`?stauts=open`) that is ignored returns the whole list, and the caller never
learns why. Every operation's query parameters are the fields of the schema it declares with
`@bp.arguments(..., location="query")` (none when it declares none); anything else is refused before
the view runs. Routes outside the API's blueprints (the spec, the docs page, /metrics) are not checked.
"""
from flask import Flask, request

from marketplace.errors import ValidationFailed
from marketplace.inputs import current_operation


def _check_query() -> None:
    if not request.args or request.method == "OPTIONS":
        return
    operation = current_operation()
    if operation is None:
        return
    allowed = operation.query_names
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        hint = f"; this operation takes {', '.join(sorted(allowed))}" if allowed else "; this operation takes none"
        raise ValidationFailed(f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}{hint}.",
                               errors={"query": {name: ["Unknown field."] for name in unknown}},
                               code="unknown_parameter")


def register(app: Flask) -> None:
    """Check every API request's query string against the operation's declared parameters."""
    app.before_request(_check_query)
