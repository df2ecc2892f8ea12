"""Dispute schemas."""
from marshmallow import Schema, fields, validate

from marketplace.disputes.models import OVERTURNED, STATUSES, UPHELD
from marketplace.inputs import id_range
from marketplace.pagination import PageArgs, page_schema


class DisputeIn(Schema):
    assignment_id = fields.Integer(strict=True, required=True, validate=id_range())
    reason = fields.String(required=True, validate=validate.Length(min=20, max=5000))


class ResolveIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf((UPHELD, OVERTURNED)))
    note = fields.String(required=True, validate=validate.Length(min=5, max=5000))


class DisputeOut(Schema):
    id = fields.Integer()
    assignment_id = fields.Integer()
    project_id = fields.Integer()
    status = fields.String()
    reason = fields.String()
    evidence = fields.Dict()
    opened_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolution_note = fields.String(allow_none=True)


DisputePageOut = page_schema(DisputeOut, "DisputePageOut")


class DisputeListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
