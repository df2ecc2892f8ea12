"""Money endpoints: fundings, payout accounts and payouts, Stripe's webhook."""
from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.audit import services as audit
from marketplace.audit.schemas import AdminReasonIn
from marketplace.pagination import PageArgs, page_of
from marketplace.payments import events, funding, idempotency, payouts, reconcile, refunds, schemas
from marketplace.idempotency.keys import idempotent

bp = Blueprint("payments", __name__, description="Money: fundings, escrow, balances, payouts, Stripe webhooks")


@bp.route("/payments/fundings")
class Fundings(MethodView):
    @requires(REQUESTER)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.FundingPageOut)
    def get(self, args):
        """List your fundings, newest first."""
        return page_of(funding.listing(requester=current_account(), **args), args["limit"])

    @requires(REQUESTER)
    @idempotent
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


@bp.route("/payouts/account")
class PayoutAccountView(MethodView):
    @requires(ANNOTATOR)
    @bp.response(200, schemas.PayoutAccountOut)
    def get(self):
        """Read your payout account."""
        return payouts.own_payout_account(annotator=current_account())

    @requires(ANNOTATOR)
    @idempotent
    @bp.response(201, schemas.PayoutAccountOut)
    def post(self):
        """Create your Stripe Connect payout account (once; a repeat returns it)."""
        with transaction():
            return payouts.payout_account(annotator=current_account())


@bp.route("/payouts/account/onboarding-link")
class OnboardingLink(MethodView):
    @requires(ANNOTATOR)
    @idempotent
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


# Admin: refunds, payouts, reconciliation (each action written to the audit log with its reason).


@bp.route("/admin/refunds")
class Refunds(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.RefundListArgs, location="query")
    @bp.response(200, schemas.RefundPageOut)
    def get(self, args):
        """List refunds, newest first."""
        return page_of(refunds.listing(**args), args["limit"])

    @requires(ADMIN)
    @idempotent
    @bp.arguments(schemas.RefundIn)
    @bp.response(201, schemas.RefundOut)
    def post(self, body):
        """Refund a requester's unspent money to their card (Idempotency-Key accepted)."""
        key = idempotency.key_from_request(required=False)
        now = utcnow()
        with transaction():
            refund, new = refunds.create(admin_id=current_account().id, key=key, now=now,
                                         body_hash=idempotency.request_hash(body), **body)
            if new:
                audit.audit(admin_id=current_account().id, action="refund", target=("refund", refund.id),
                            reason=body["reason"], now=now,
                               details={"funding_id": refund.funding_id, "amount_cents": refund.amount_cents})
            return refund


@bp.route("/admin/payouts")
class AdminPayouts(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.PayoutAdminListArgs, location="query")
    @bp.response(200, schemas.PayoutPageOut)
    def get(self, args):
        """List payouts, newest first, by status or annotator."""
        return page_of(payouts.listing(**args), args["limit"])


@bp.route("/admin/payouts/run")
class RunPayouts(MethodView):
    @requires(ADMIN)
    @idempotent
    @bp.arguments(AdminReasonIn)
    @bp.response(201, schemas.PayoutRunOut)
    def post(self, body):
        """Open payouts now for every annotator above the minimum (the cron job does this daily)."""
        now = utcnow()
        with transaction():
            ids = payouts.run(now=now)
            audit.audit(admin_id=current_account().id, action="payouts_run", target=("payout", 0),
                           reason=body["reason"], now=now, details={"payout_ids": ids[:1000]})
        return {"payout_ids": ids}


@bp.route("/admin/payouts/<int:payout_id>/retry")
class RetryPayout(MethodView):
    @requires(ADMIN)
    @idempotent
    @bp.arguments(AdminReasonIn)
    @bp.response(200, schemas.PayoutOut)
    def post(self, body, payout_id):
        """Send a failed payout again."""
        now = utcnow()
        with transaction():
            payout = payouts.retry(payout_id=payout_id, now=now)
            audit.audit(admin_id=current_account().id, action="payout_retry", target=("payout", payout.id),
                           reason=body["reason"], now=now)
            return payout


@bp.route("/admin/reconciliation")
class Reconciliation(MethodView):
    @requires(ADMIN)
    @bp.response(200, schemas.ReconciliationOut)
    def get(self):
        """The latest comparison of our ledger with Stripe's balance transactions."""
        return reconcile.latest()

    @requires(ADMIN)
    @idempotent
    @bp.arguments(AdminReasonIn)
    @bp.response(201, schemas.ReconciliationOut)
    def post(self, body):
        """Reconcile now."""
        now = utcnow()
        with transaction():
            report = reconcile.run(now=now)
            audit.audit(admin_id=current_account().id, action="reconcile", target=("reconciliation", report.id),
                           reason=body["reason"], now=now, details=report.summary)
            return report
