"""Keyset pagination shared by every list endpoint: `?limit=&cursor=`, newest-safe and O(limit).

Offsets get slower the deeper a client pages (a 1M-task project); a cursor on the primary key
does not. The cursor is the last id of the previous page, opaque to clients.
"""
from marshmallow import Schema, fields, validate

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=2**63 - 1))


def updated_since(**kw) -> fields.AwareDateTime:
    """The `updated_since` query filter of a list that clients sync incrementally (ISO 8601 with a zone)."""
    return fields.AwareDateTime(load_default=None, **kw)


class PageOut(Schema):
    next_cursor = fields.Integer(allow_none=True, metadata={"description": "pass as `cursor` for the next page"})
    has_more = fields.Boolean(metadata={"description": "whether another page follows (then next_cursor is set)"})


def page_of(items: list, limit: int, key=lambda item: item.id) -> dict:
    """Wrap a fetched list of up to limit+1 items as a page with the next cursor."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": key(items[-1]) if more and items else None, "has_more": more and bool(items)}


def keyset(query, column, cursor: int | None, limit: int, newest_first: bool = True):
    """One page of `query` by `column` (an indexed, unique integer): after the cursor, limit+1 rows."""
    if cursor:
        query = query.where(column < cursor if newest_first else column > cursor)
    return query.order_by(column.desc() if newest_first else column.asc()).limit(limit + 1)


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """Build the output schema of a page of items."""
    return type(name, (PageOut,), {"items": fields.List(fields.Nested(item_schema))})

