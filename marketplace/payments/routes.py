"""Money endpoints: fundings, balances and statements, payout accounts and payouts, Stripe's webhook."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.ledger import reports
from marketplace.pagination import PageArgs, page_of
from marketplace.payments import events, funding, gateway, idempotency, payouts, schemas

bp = Blueprint("payments", __name__, description="Money: fundings, escrow, balances, payouts, Stripe webhooks")


def _gateway() -> dict:
    current = gateway.current()
    return {"name": current.name, "moves_money": current.moves_money}


@bp.route("/payments/fundings")
class Fundings(MethodView):
    @requires(REQUESTER)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.FundingPageOut)
    def get(self, args):
        """List your fundings, newest first."""
        return page_of(funding.listing(requester=current_account(), **args), args["limit"])

    @requires(REQUESTER)
    @bp.arguments(schemas.FundingIn)
    @bp.response(201, schemas.FundingOut)
    def post(self, body):
        """Add money: creates a Stripe PaymentIntent and returns its client secret (Idempotency-Key accepted)."""
        key = idempotency.key_from_request(required=False)
        with transaction():
            return funding.create(requester=current_account(), amount_cents=body["amount_cents"],
                                  currency=body["currency"], key=key, body_hash=idempotency.request_hash(body),
                                  now=utcnow())


@bp.route("/payments/fundings/<int:funding_id>")
class FundingItem(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.FundingOut)
    def get(self, funding_id):
        """Read one of your fundings."""
        return funding.own(requester=current_account(), funding_id=funding_id)


@bp.route("/balance")
class Balance(MethodView):
    @requires(REQUESTER, ANNOTATOR)
    @bp.response(200, schemas.BalanceOut)
    def get(self):
        """Your balances per currency (annotators: pending approval and available)."""
        return {"balances": reports.own_balances(account=current_account()), "gateway": _gateway()}


@bp.route("/balance/entries")
class BalanceEntries(MethodView):
    @requires(REQUESTER, ANNOTATOR)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.EntryPageOut)
    def get(self, args):
        """Every movement of your balances, newest first, with what caused it."""
        rows = reports.statement(account_ids=[a.id for a in reports.own_accounts(account=current_account())], **args)
        return page_of(rows, args["limit"], key=lambda row: row["id"])


@bp.route("/payouts/account")
class PayoutAccountView(MethodView):
    @requires(ANNOTATOR)
    @bp.response(200, schemas.PayoutAccountOut)
    def get(self):
        """Read your payout account."""
        return payouts.own_payout_account(annotator=current_account())

    @requires(ANNOTATOR)
    @bp.response(201, schemas.PayoutAccountOut)
    def post(self):
        """Create your Stripe Connect payout account (once; a repeat returns it)."""
        with transaction():
            return payouts.payout_account(annotator=current_account())


@bp.route("/payouts/account/onboarding-link")
class OnboardingLink(MethodView):
    @requires(ANNOTATOR)
    @bp.response(201, schemas.LinkOut)
    def post(self):
        """Get a one-time Stripe onboarding link for your payout account."""
        return {"url": payouts.onboarding_link(annotator=current_account())}


@bp.route("/payouts")
class Payouts(MethodView):
    @requires(ANNOTATOR)
    @bp.arguments(schemas.PayoutListArgs, location="query")
    @bp.response(200, schemas.PayoutPageOut)
    def get(self, args):
        """List your payouts, newest first."""
        return page_of(payouts.listing(annotator_id=current_account().id, **args), args["limit"])


@bp.route("/payments/stripe/webhook")
class StripeWebhook(MethodView):
    @bp.response(200, schemas.WebhookReceivedOut)
    def post(self):
        """Stripe's webhook: verified on the raw body, stored once per event id, applied by a job."""
        payload = request.get_data(cache=False)
        with transaction():
            new = events.receive(payload=payload, signature=request.headers.get("Stripe-Signature", ""), now=utcnow())
        return {"received": True, "duplicate": not new}
