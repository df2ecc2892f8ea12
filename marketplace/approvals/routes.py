"""Requesters' verdicts on answers (approve, reject, list) and bonuses."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER
from marketplace.approvals import bonuses, schemas, services
from marketplace.db import transaction, utcnow
from marketplace.pagination import PageArgs, page_of
from marketplace.payments import idempotency
from marketplace.projects import services as projects
from marketplace.idempotency.keys import idempotent

bp = Blueprint("approvals", __name__, description="Approving and rejecting answers; bonuses")


def _decide(project_id: int, body: dict, decision: str) -> dict:
    with transaction():
        project = projects.owned(account=current_account(), project_id=project_id, lock=True)
        return services.decide(account=current_account(), project=project, decision=decision,
                               filters=services.filters(project=project, body=body), now=utcnow(),
                               category=body.get("category"), reason=body.get("reason"))


@bp.route("/projects/<int:project_id>/answers/approve")
class Approve(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.DecisionFilter)
    @bp.response(200, schemas.DecisionOut)
    def post(self, body, project_id):
        """Approve pending answers by ids or filter: rewards become payable."""
        return _decide(project_id, body, "approve")


@bp.route("/projects/<int:project_id>/answers/reject")
class Reject(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.RejectIn)
    @bp.response(200, schemas.DecisionOut)
    def post(self, body, project_id):
        """Reject pending answers (category and reason shown to the annotator); their task slots reopen."""
        return _decide(project_id, body, "reject")


@bp.route("/projects/<int:project_id>/answers")
class Answers(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.AnswerListArgs, location="query")
    @bp.response(200, schemas.AnswerPageOut)
    def get(self, args, project_id):
        """List a project's answers with their payment status, oldest first."""
        project = projects.owned(account=current_account(), project_id=project_id)
        rows = services.answers(project=project, **args)
        return page_of(rows, args["limit"], key=lambda row: row["assignment_id"])


@bp.route("/bonuses")
class Bonuses(MethodView):
    @requires(REQUESTER, ANNOTATOR)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.BonusPageOut)
    def get(self, args):
        """Bonuses you received (annotator) or gave (requester), newest first."""
        return page_of(bonuses.listing(account=current_account(), **args), args["limit"])

    @requires(REQUESTER)
    @idempotent
    @bp.arguments(schemas.BonusIn)
    @bp.response(201, schemas.BonusOut)
    def post(self, body):
        """Pay an annotator a bonus for an answer (Idempotency-Key header required; a replay returns the first)."""
        key = idempotency.key_from_request(required=True)
        with transaction():
            return bonuses.grant(requester=current_account(), key=key, body_hash=idempotency.request_hash(body),
                                 now=utcnow(), **body)
