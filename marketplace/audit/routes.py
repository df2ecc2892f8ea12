"""The audit log of admin actions (GET /admin/audit-log).

Every admin action that changes something takes a reason and is written here, by the feature it
acts on, in the same transaction; the log has no update or delete endpoint (and the database
refuses both). The actions themselves live with their features: refunds, payouts and reconciliation
in payments, the trial balance in ledger, suspensions and skills in quality, dispute rulings in disputes.
"""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import requires
from marketplace.accounts.models import ADMIN
from marketplace.audit import schemas, services
from marketplace.pagination import page_of

bp = Blueprint("audit", __name__, description="The audit log of admin actions")


@bp.route("/admin/audit-log")
class AuditLog(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.AuditListArgs, location="query")
    @bp.response(200, schemas.AuditPageOut)
    def get(self, args):
        """Read the audit log of admin actions, newest first."""
        return page_of(services.log(**args), args["limit"])
