"""Payment schemas: fundings, balances, statements, escrow top-ups, payout accounts, payouts, refunds."""
from marshmallow import Schema, fields, validate

from marketplace.audit.schemas import AdminReasonIn
from marketplace.inputs import id_range
from marketplace.ledger.models import CURRENCIES
from marketplace.ledger.schemas import BalanceLine
from marketplace.pagination import PageArgs, page_schema
from marketplace.payments.models import PAYOUT_STATUSES


class GatewayOut(Schema):
    name = fields.String(metadata={"description": "stripe, or ledger-only (development: no money moves)"})
    moves_money = fields.Boolean()


class BalanceOut(Schema):
    balances = fields.List(fields.Nested(BalanceLine))
    gateway = fields.Nested(GatewayOut)


class FundingIn(Schema):
    amount_cents = fields.Integer(strict=True, required=True, validate=validate.Range(min=50, max=100_000_000))
    currency = fields.String(load_default="usd", validate=validate.OneOf(CURRENCIES))


class FundingOut(Schema):
    id = fields.Integer()
    amount_cents = fields.Integer()
    currency = fields.String()
    status = fields.String(metadata={"description": "created, succeeded or failed"})
    payment_intent_id = fields.String(allow_none=True)
    client_secret = fields.String(allow_none=True, metadata={"description": "confirm the payment with Stripe.js"})
    simulated = fields.Boolean(metadata={"description": "ledger-only mode: credited without any payment"})
    refunded_cents = fields.Integer()
    failure_message = fields.String(allow_none=True)
    created_at = fields.DateTime()


FundingPageOut = page_schema(FundingOut, "FundingPageOut")


class TopUpIn(Schema):
    amount_cents = fields.Integer(strict=True, load_default=None, allow_none=True,
                                  validate=validate.Range(min=1, max=100_000_000),
                                  metadata={"description": "omit: up to the worst-case cost of the remaining answers"})


class EscrowOut(Schema):
    moved_cents = fields.Integer()
    escrow_cents = fields.Integer()
    escrow_held_cents = fields.Integer()
    escrow_free_cents = fields.Integer()
    answer_cost_cents = fields.Integer()
    fee_bps = fields.Integer()


class PayoutAccountOut(Schema):
    stripe_account_id = fields.String(allow_none=True)
    payouts_enabled = fields.Boolean()
    details_submitted = fields.Boolean()
    simulated = fields.Boolean()


class LinkOut(Schema):
    url = fields.String()


class PayoutOut(Schema):
    id = fields.Integer()
    annotator_id = fields.Integer()
    amount_cents = fields.Integer()
    currency = fields.String()
    status = fields.String(metadata={"description": "pending, paid, failed, or not_sent (ledger-only mode)"})
    transfer_group = fields.String()
    stripe_transfer_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    retries = fields.Integer()
    failure_message = fields.String(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


PayoutPageOut = page_schema(PayoutOut, "PayoutPageOut")


class PayoutListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(PAYOUT_STATUSES))


class WebhookReceivedOut(Schema):
    received = fields.Boolean()
    duplicate = fields.Boolean()


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


class ReconciliationOut(Schema):
    id = fields.Integer()
    started_at = fields.DateTime()
    matched = fields.Integer()
    differences = fields.List(fields.Dict())
    summary = fields.Dict()
    note = fields.String()
