"""Admin schemas: reasons for actions, the audit log, refunds, trial balance, reconciliation."""
from marshmallow import Schema, fields, validate

from marketplace.inputs import id_range
from marketplace.pagination import PageArgs, page_schema
from marketplace.payments.schemas import PayoutListArgs


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


class RefundIn(AdminReasonIn):
    funding_id = fields.Integer(strict=True, required=True, validate=id_range())
    amount_cents = fields.Integer(strict=True, load_default=None, allow_none=True,
                                  validate=validate.Range(min=1, max=100_000_000),
                                  metadata={"description": "omit: all that is left of the funding"})


class RefundOut(Schema):
    id = fields.Integer()
    requester_id = fields.Integer()
    funding_id = fields.Integer()
    amount_cents = fields.Integer()
    currency = fields.String()
    status = fields.String()
    reason = fields.String()
    stripe_refund_id = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    created_at = fields.DateTime()


RefundPageOut = page_schema(RefundOut, "RefundPageOut")


class RefundListArgs(PageArgs):
    requester_id = fields.Integer(load_default=None, validate=id_range())


class PayoutAdminListArgs(PayoutListArgs):
    annotator_id = fields.Integer(load_default=None, validate=id_range())


class PayoutRunOut(Schema):
    payout_ids = fields.List(fields.Integer())


class TrialBalanceArgs(Schema):
    as_of = fields.AwareDateTime(load_default=None, metadata={"description": "balances as they were at this time"})
    currency = fields.String(load_default=None, validate=validate.Length(equal=3))


class TrialLine(Schema):
    kind = fields.String()
    currency = fields.String()
    accounts = fields.Integer()
    debits_cents = fields.Integer()
    credits_cents = fields.Integer()
    balance_cents = fields.Integer()


class TrialBalanceOut(Schema):
    as_of = fields.DateTime(allow_none=True)
    lines = fields.List(fields.Nested(TrialLine))
    debits_cents = fields.Integer()
    credits_cents = fields.Integer()
    balanced = fields.Boolean()
    unbalanced_transactions = fields.List(fields.Integer())
    mismatches = fields.List(fields.Dict())


class ReconciliationOut(Schema):
    id = fields.Integer()
    started_at = fields.DateTime()
    matched = fields.Integer()
    differences = fields.List(fields.Dict())
    summary = fields.Dict()
    note = fields.String()
