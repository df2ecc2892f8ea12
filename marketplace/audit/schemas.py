"""Audit log schemas, and the reason every admin action must give."""
from marshmallow import Schema, fields, validate

from marketplace.inputs import id_range
from marketplace.pagination import PageArgs, page_schema


class AdminReasonIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=5, max=2000))


class AuditOut(Schema):
    id = fields.Integer()
    admin_id = fields.Integer()
    action = fields.String()
    target_type = fields.String()
    target_id = fields.Integer()
    reason = fields.String()
    details = fields.Dict(allow_none=True)
    created_at = fields.DateTime()


AuditPageOut = page_schema(AuditOut, "AuditPageOut")


class AuditListArgs(PageArgs):
    target_type = fields.String(load_default=None, validate=validate.Length(max=24))
    target_id = fields.Integer(load_default=None, validate=id_range())
