"""Requesters' verdicts on answers (approve, reject, list) and bonuses."""
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from marketplace import pseudonyms
from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER
from marketplace.approvals import bonuses, schemas, services
from marketplace.assignments.models import Assignment
from marketplace.db import transaction, utcnow
from marketplace.errors import field_error
from marketplace.extensions import db
from marketplace.pagination import PageArgs, page_of
from marketplace.payments import idempotency
from marketplace.payments.models import Bonus
from marketplace.projects import services as projects
from marketplace.tasks.models import Task

bp = Blueprint("approvals", __name__, description="Approving and rejecting answers; bonuses")


def _filters(project, body: dict) -> dict:
    annotator_id = None
    if body.get("annotator"):
        ids = db.session.scalars(select(Assignment.annotator_id).where(Assignment.project_id == project.id).distinct())
        annotator_id = next((a for a in ids if pseudonyms.annotator(project.id, a) == body["annotator"]), None)
        if annotator_id is None:
            raise field_error("no annotator with this pseudonym worked on the project", "annotator")
    return {"assignment_ids": body.get("assignment_ids"), "annotator_id": annotator_id,
            "submitted_before": body.get("submitted_before")}


def _decide(project_id: int, body: dict, decision: str) -> dict:
    with transaction():
        project = projects.owned(account=current_account(), project_id=project_id, lock=True)
        return services.decide(account=current_account(), project=project, decision=decision,
                               filters=_filters(project, body), now=utcnow(),
                               category=body.get("category"), reason=body.get("reason"))


@bp.route("/projects/<int:project_id>/answers/approve")
class Approve(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.DecisionFilter)
    @bp.response(200, schemas.DecisionOut)
    def post(self, body, project_id):
        """Approve pending answers by ids or filter: rewards become payable."""
        return _decide(project_id, body, "approve")


@bp.route("/projects/<int:project_id>/answers/reject")
class Reject(MethodView):
    @requires(REQUESTER, ADMIN)
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
        query = (select(Assignment, Task.external_id).join(Task, Task.id == Assignment.task_id)
                 .where(Assignment.project_id == project.id, Assignment.submitted_at.is_not(None))
                 .order_by(Assignment.id).limit(args["limit"] + 1))
        if args["cursor"]:
            query = query.where(Assignment.id > args["cursor"])
        state = args["state"]
        if state == "approved":
            query = query.where(Assignment.approved_at.is_not(None))
        elif state == "rejected":
            query = query.where(Assignment.rejected_at.is_not(None), Assignment.approved_at.is_(None))
        elif state == "pending":
            query = query.where(Assignment.status.in_(services.PENDING_STATES), Assignment.approved_at.is_(None),
                                Assignment.rejected_at.is_(None))
        rows = [{"assignment_id": a.id, "task_id": a.task_id, "external_id": external_id,
                 "annotator": pseudonyms.annotator(project.id, a.annotator_id), "answer": a.answer,
                 "submitted_at": a.submitted_at, "payment_status": services.payment_status(a),
                 "rejection_category": a.rejection_category, "rejection_reason": a.rejection_reason}
                for a, external_id in db.session.execute(query)]
        return page_of(rows, args["limit"], key=lambda row: row["assignment_id"])


@bp.route("/bonuses")
class Bonuses(MethodView):
    @requires(REQUESTER, ANNOTATOR)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.BonusPageOut)
    def get(self, args):
        """Bonuses you received (annotator) or gave (requester), newest first."""
        account = current_account()
        if account.role == ANNOTATOR:
            return page_of(bonuses.of_annotator(annotator_id=account.id, **args), args["limit"])
        query = select(Bonus).where(Bonus.requester_id == account.id).order_by(Bonus.id.desc()).limit(args["limit"] + 1)
        if args["cursor"]:
            query = query.where(Bonus.id < args["cursor"])
        return page_of(list(db.session.scalars(query)), args["limit"])

    @requires(REQUESTER)
    @bp.arguments(schemas.BonusIn)
    @bp.response(201, schemas.BonusOut)
    def post(self, body):
        """Pay an annotator a bonus for an answer (Idempotency-Key header required; a replay returns the first)."""
        key = idempotency.key_from_request(required=True)
        with transaction():
            return bonuses.grant(requester=current_account(), key=key, body_hash=idempotency.request_hash(body),
                                 now=utcnow(), **body)
