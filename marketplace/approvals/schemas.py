"""Schemas for approving, rejecting and listing answers, and for bonuses."""
from marshmallow import Schema, fields, validate

from marketplace.approvals.services import CATEGORIES, MAX_BATCH
from marketplace.inputs import id_range
from marketplace.pagination import PageArgs, page_schema, updated_since


class DecisionFilter(Schema):
    assignment_ids = fields.List(fields.Integer(strict=True, validate=id_range()), load_default=None,
                                 validate=validate.Length(min=1, max=MAX_BATCH))
    annotator = fields.String(load_default=None, validate=validate.Length(max=64),
                              metadata={"description": "an annotator's pseudonym in this project"})
    submitted_before = fields.AwareDateTime(load_default=None, default_timezone=None)


class RejectIn(DecisionFilter):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    reason = fields.String(required=True, validate=validate.Length(min=20, max=2000),
                           metadata={"description": "shown to the annotator"})


class DecisionOut(Schema):
    decision = fields.String()
    decided = fields.Integer()
    more_pending = fields.Boolean(metadata={"description": "more answers match the filter: send it again"})


class AnswerListArgs(PageArgs):
    state = fields.String(load_default=None, validate=validate.OneOf(("pending", "approved", "rejected")))
    updated_since = updated_since(metadata={"description": "only answers submitted, approved or rejected at or after this time"})


class AnswerOut(Schema):
    assignment_id = fields.Integer()
    task_id = fields.Integer()
    external_id = fields.String()
    annotator = fields.String()
    answer = fields.Dict(allow_none=True, metadata={"component": "Answer"})
    submitted_at = fields.DateTime()
    payment_status = fields.String()
    rejection_category = fields.String(allow_none=True)
    rejection_reason = fields.String(allow_none=True)


AnswerPageOut = page_schema(AnswerOut, "AnswerPageOut")


class BonusIn(Schema):
    assignment_id = fields.Integer(strict=True, required=True, validate=id_range())
    amount_cents = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=100_000))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class BonusOut(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    project_id = fields.Integer()
    amount_cents = fields.Integer()
    fee_cents = fields.Integer()
    currency = fields.String()
    reason = fields.String()
    created_at = fields.DateTime()


BonusPageOut = page_schema(BonusOut, "BonusPageOut")
