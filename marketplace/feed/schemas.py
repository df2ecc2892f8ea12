"""The feed's query and its items."""
from marshmallow import Schema, fields, validate

from marketplace.feed.services import KINDS
from marketplace.pagination import DEFAULT_LIMIT, MAX_LIMIT


class FeedArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                           metadata={"description": "next_cursor of the previous page"})
    kind = fields.List(fields.String(validate=validate.OneOf(KINDS)), load_default=None, metadata={
        "description": "only these kinds (repeat the parameter); all by default"})


class FeedItemOut(Schema):
    kind = fields.String(metadata={"description": "rejection, gold_miss, dispute (resolved) or bonus"})
    at = fields.DateTime(metadata={"description": "when it happened: rejected, answered, resolved, paid"})
    project_id = fields.Integer()
    assignment_id = fields.Integer()
    task_ref = fields.String(metadata={"description": "the task as you see it (the same ref as your other views)"})
    reason = fields.String(allow_none=True, metadata={
        "description": "the rejection's reason, the gold task's explanation, the ruling's note or the bonus's reason"})
    category = fields.String(allow_none=True, metadata={
        "optional": True, "description": "rejection: its category"})
    your_answer = fields.Raw(allow_none=True, metadata={
        "optional": True, "description": "rejection and gold_miss: what you answered"})
    expected = fields.Raw(allow_none=True, metadata={
        "optional": True, "description": "gold_miss: the known answer"})
    outcome = fields.String(metadata={
        "optional": True, "description": "dispute: upheld (the rejection stands) or overturned"})
    amount_cents = fields.Integer(metadata={"optional": True, "description": "bonus: what you were paid"})
    currency = fields.String(metadata={"optional": True, "description": "bonus: its currency"})


class FeedPageOut(Schema):
    items = fields.List(fields.Nested(FeedItemOut))
    next_cursor = fields.String(allow_none=True, metadata={"description": "pass as `cursor` for the next page"})
    has_more = fields.Boolean()
