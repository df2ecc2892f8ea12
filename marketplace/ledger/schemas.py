"""Ledger schemas: balance lines, statements, the trial balance (GET /balance adds the gateway: payments.schemas.BalanceOut)."""
from marshmallow import Schema, fields, validate

from marketplace.pagination import page_schema


class BalanceLine(Schema):
    currency = fields.String()
    available_cents = fields.Integer()
    pending_cents = fields.Integer(allow_none=True, metadata={"description": "annotators: answers awaiting approval"})


class EntryOut(Schema):
    id = fields.Integer()
    account = fields.String()
    amount_cents = fields.Integer(metadata={"description": "+ adds to this balance, - takes from it"})
    currency = fields.String()
    kind = fields.String()
    reference_type = fields.String()
    reference_id = fields.Integer()
    memo = fields.String()
    created_at = fields.DateTime()


EntryPageOut = page_schema(EntryOut, "EntryPageOut")


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
