"""Admin endpoints: refunds, payouts, trial balance, reconciliation, the audit log (suspensions: quality/routes.py).

Every action that changes something takes a reason and is written to the audit log in the same
transaction; the log has no update or delete endpoint (and the database refuses both).
"""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN
from marketplace.admin import schemas, services
from marketplace.db import transaction, utcnow
from marketplace.ledger import reports
from marketplace.pagination import page_of
from marketplace.payments import idempotency, payouts, reconcile, refunds
from marketplace.payments.schemas import PayoutOut, PayoutPageOut

bp = Blueprint("admin", __name__, description="Admin: suspensions, refunds, payouts, ledger, audit log")


@bp.route("/admin/audit-log")
class AuditLog(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.AuditListArgs, location="query")
    @bp.response(200, schemas.AuditPageOut)
    def get(self, args):
        """Read the audit log of admin actions, newest first."""
        return page_of(services.log(**args), args["limit"])


@bp.route("/admin/refunds")
class Refunds(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.RefundListArgs, location="query")
    @bp.response(200, schemas.RefundPageOut)
    def get(self, args):
        """List refunds, newest first."""
        return page_of(refunds.listing(**args), args["limit"])

    @requires(ADMIN)
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
                services.audit(admin_id=current_account().id, action="refund", target=("refund", refund.id),
                               reason=body["reason"], now=now,
                               details={"funding_id": refund.funding_id, "amount_cents": refund.amount_cents})
            return refund


@bp.route("/admin/payouts")
class AdminPayouts(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.PayoutAdminListArgs, location="query")
    @bp.response(200, PayoutPageOut)
    def get(self, args):
        """List payouts, newest first, by status or annotator."""
        return page_of(payouts.listing(**args), args["limit"])


@bp.route("/admin/payouts/run")
class RunPayouts(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.AdminReasonIn)
    @bp.response(201, schemas.PayoutRunOut)
    def post(self, body):
        """Open payouts now for every annotator above the minimum (the cron job does this daily)."""
        now = utcnow()
        with transaction():
            ids = payouts.run(now=now)
            services.audit(admin_id=current_account().id, action="payouts_run", target=("payout", 0),
                           reason=body["reason"], now=now, details={"payout_ids": ids[:1000]})
        return {"payout_ids": ids}


@bp.route("/admin/payouts/<int:payout_id>/retry")
class RetryPayout(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.AdminReasonIn)
    @bp.response(200, PayoutOut)
    def post(self, body, payout_id):
        """Send a failed payout again."""
        now = utcnow()
        with transaction():
            payout = payouts.retry(payout_id=payout_id, now=now)
            services.audit(admin_id=current_account().id, action="payout_retry", target=("payout", payout.id),
                           reason=body["reason"], now=now)
            return payout


@bp.route("/admin/ledger/trial-balance")
class TrialBalance(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.TrialBalanceArgs, location="query")
    @bp.response(200, schemas.TrialBalanceOut)
    def get(self, args):
        """The trial balance, now or as of a past time: debits must equal credits."""
        return reports.trial_balance(**args)


@bp.route("/admin/reconciliation")
class Reconciliation(MethodView):
    @requires(ADMIN)
    @bp.response(200, schemas.ReconciliationOut)
    def get(self):
        """The latest comparison of our ledger with Stripe's balance transactions."""
        return reconcile.latest()

    @requires(ADMIN)
    @bp.arguments(schemas.AdminReasonIn)
    @bp.response(201, schemas.ReconciliationOut)
    def post(self, body):
        """Reconcile now."""
        now = utcnow()
        with transaction():
            report = reconcile.run(now=now)
            services.audit(admin_id=current_account().id, action="reconcile", target=("reconciliation", report.id),
                           reason=body["reason"], now=now, details=report.summary)
            return report
