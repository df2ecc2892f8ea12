"""Annotator endpoints: lease the next task, answer it, release it, list your assignments."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ANNOTATOR
from marketplace.assignments import answering, schemas, services
from marketplace.db import transaction, utcnow
from marketplace.pagination import page_of
from marketplace.idempotency.keys import idempotent

bp = Blueprint("assignments", __name__, description="Leases and answers")


@bp.route("/projects/<int:project_id>/assignments")
class ProjectAssignments(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.response(201, schemas.LeaseOut)
    def post(self, project_id):
        """Lease the next task of a project; 404 when none is available to you."""
        with transaction():
            return services.lease_next_task(project_id=project_id, annotator=current_account(), now=utcnow())


@bp.route("/assignments")
class Assignments(MethodView):
    @requires(ANNOTATOR)
    @bp.arguments(schemas.AssignmentListArgs, location="query")
    @bp.response(200, schemas.AssignmentPageOut)
    def get(self, args):
        """List your assignments, newest first."""
        return page_of(services.list_own(annotator=current_account(), **args), args["limit"])


@bp.route("/assignments/<int:assignment_id>")
class AssignmentItem(MethodView):
    @requires(ANNOTATOR)
    @bp.response(200, schemas.AssignmentOut)
    def get(self, assignment_id):
        """Read one of your assignments."""
        return services.own_assignment(assignment_id=assignment_id, annotator=current_account())


@bp.route("/assignments/<int:assignment_id>/answer")
class AssignmentAnswer(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.arguments(schemas.AnswerIn)
    @bp.response(200, schemas.SubmissionOut)
    def post(self, body, assignment_id):
        """Submit the answer of a live lease; 409 if it expired (its slot goes back to the pool)."""
        with transaction():
            return answering.submit_answer(
                assignment_id=assignment_id, annotator=current_account(), answer=body["answer"], now=utcnow()
            )


@bp.route("/assignments/<int:assignment_id>/skip")
class AssignmentSkip(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.arguments(schemas.SkipIn, required=False)
    @bp.response(200, schemas.AssignmentOut)
    def post(self, body, assignment_id):
        """Skip a leased task (optionally saying why): it is not offered to you again; the requester sees the count."""
        with transaction():
            return services.skip(assignment_id=assignment_id, annotator=current_account(),
                                 reason=(body or {}).get("reason", ""), now=utcnow())


@bp.route("/assignments/<int:assignment_id>/release")
class AssignmentRelease(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.response(200, schemas.AssignmentOut)
    def post(self, assignment_id):
        """Give a live lease back without answering."""
        with transaction():
            return services.release(assignment_id=assignment_id, annotator=current_account(), now=utcnow())
