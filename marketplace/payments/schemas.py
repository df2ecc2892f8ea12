"""Payment schemas: fundings, balances, statements, escrow top-ups, payout accounts, payouts, refunds."""
from marshmallow import Schema, fields, validate

from marketplace.ledger.models import CURRENCIES
from marketplace.pagination import PageArgs, page_schema
from marketplace.payments.models import PAYOUT_STATUSES


class GatewayOut(Schema):
    name = fields.String(metadata={"description": "stripe, or ledger-only (development: no money moves)"})
    moves_money = fields.Boolean()


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


class BalanceLine(Schema):
    currency = fields.String()
    available_cents = fields.Integer()
    pending_cents = fields.Integer(allow_none=True, metadata={"description": "annotators: answers awaiting approval"})


class BalanceOut(Schema):
    balances = fields.List(fields.Nested(BalanceLine))
    gateway = fields.Nested(GatewayOut)


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
