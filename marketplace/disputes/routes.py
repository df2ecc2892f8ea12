"""Dispute endpoints: annotators open and follow theirs, requesters see those on their projects, admins resolve."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, ROLES
from marketplace.audit import services as admin
from marketplace.db import transaction, utcnow
from marketplace.disputes import schemas, services
from marketplace.pagination import page_of
from marketplace.idempotency.keys import idempotent

bp = Blueprint("disputes", __name__, description="Disputes of rejected answers")

# What an annotator sees of the evidence: their own work and the rejection, never whether the task was gold.
_ANNOTATOR_EVIDENCE = ("answer", "duration_ms", "rejection")


def _for_caller(dispute):
    if current_account().role != ANNOTATOR:
        return dispute
    out = {name: getattr(dispute, name) for name in schemas.DisputeOut().fields}
    out["evidence"] = {k: v for k, v in dispute.evidence.items() if k in _ANNOTATOR_EVIDENCE}
    return out


@bp.route("/disputes")
class Disputes(MethodView):
    @requires(*ROLES)
    @bp.arguments(schemas.DisputeListArgs, location="query")
    @bp.response(200, schemas.DisputePageOut)
    def get(self, args):
        """Your disputes (annotator), those on your projects (requester), the queue (admin)."""
        page = page_of(services.listing(account=current_account(), **args), args["limit"])
        return {**page, "items": [_for_caller(d) for d in page["items"]]}

    @requires(ANNOTATOR)
    @idempotent
    @bp.arguments(schemas.DisputeIn)
    @bp.response(201, schemas.DisputeOut)
    def post(self, body):
        """Dispute a rejection of your answer within the dispute window; evidence is attached for you."""
        with transaction():
            dispute = services.open_dispute(annotator=current_account(), now=utcnow(), **body)
            return _for_caller(dispute)


@bp.route("/disputes/<int:dispute_id>")
class DisputeItem(MethodView):
    @requires(*ROLES)
    @bp.response(200, schemas.DisputeOut)
    def get(self, dispute_id):
        """Read a dispute and its outcome."""
        return _for_caller(services.visible(account=current_account(), dispute_id=dispute_id))


@bp.route("/admin/disputes/<int:dispute_id>/resolve")
class ResolveDispute(MethodView):
    @requires(ADMIN)
    @idempotent
    @bp.arguments(schemas.ResolveIn)
    @bp.response(200, schemas.DisputeOut)
    def post(self, body, dispute_id):
        """Uphold or overturn an open dispute (once); overturning pays the annotator."""
        now = utcnow()
        with transaction():
            dispute = services.resolve(admin=current_account(), dispute_id=dispute_id, now=now, **body)
            admin.audit(admin_id=current_account().id, action=f"dispute_{body['outcome']}", target=("dispute", dispute.id),
                        reason=body["note"], now=now)
            return dispute
