"""Qualification endpoints: requesters build tests and grant; annotators take them."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER, ROLES
from marketplace.db import transaction, utcnow
from marketplace.pagination import PageArgs, page_of
from marketplace.qualifications import schemas, services
from marketplace.idempotency.keys import idempotent

bp = Blueprint("qualifications", __name__, description="Qualification tests built from gold questions")


@bp.route("/qualifications")
class Qualifications(MethodView):
    @requires(*ROLES)
    @bp.arguments(schemas.QualificationListArgs, location="query")
    @bp.response(200, schemas.QualificationPageOut)
    def get(self, args):
        """List qualifications: your own (requester), every one (annotator, admin)."""
        return page_of(services.listing(account=current_account(), **args), args["limit"])

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.QualificationIn)
    @bp.response(201, schemas.QualificationOut)
    def post(self, fields):
        """Create a qualification (add its questions next)."""
        with transaction():
            return services.create(owner=current_account(), fields=fields)


@bp.route("/qualifications/<int:qualification_id>")
class QualificationItem(MethodView):
    @requires(*ROLES)
    @bp.response(200, schemas.QualificationOut)
    def get(self, qualification_id):
        """Read a qualification (never its questions)."""
        return services.visible(account=current_account(), qualification_id=qualification_id)


@bp.route("/qualifications/<int:qualification_id>/questions")
class QualificationQuestions(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.QuestionBatchIn)
    @bp.response(201, schemas.QualificationOut)
    def post(self, batch, qualification_id):
        """Add gold questions (data, answer, explanation) to the bank."""
        with transaction():
            return services.add_questions(account=current_account(), qualification_id=qualification_id,
                                          items=batch["questions"])


@bp.route("/qualifications/<int:qualification_id>/attempts")
class QualificationAttempts(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.response(201, schemas.StartedAttemptOut)
    def post(self, qualification_id):
        """Start an attempt: a random draw of questions, without answers; the clock starts now."""
        with transaction():
            attempt, questions = services.start_attempt(annotator=current_account(), qualification_id=qualification_id,
                                                        now=utcnow())
        return {**{name: getattr(attempt, name) for name in schemas.AttemptOut().fields},
                "questions": [{"ref": str(i), "data": q.data} for i, q in enumerate(questions)]}


@bp.route("/attempts")
class Attempts(MethodView):
    @requires(ANNOTATOR)
    @bp.arguments(schemas.AttemptListArgs, location="query")
    @bp.response(200, schemas.AttemptListOut)
    def get(self, args):
        """List your attempts, newest first."""
        return page_of(services.attempts_of(annotator=current_account(), **args), args["limit"])


@bp.route("/attempts/<int:attempt_id>/answers")
class AttemptAnswers(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.arguments(schemas.AttemptAnswersIn)
    @bp.response(200, schemas.GradedAttemptOut)
    def post(self, body, attempt_id):
        """Submit your answers and be graded at once; only the score is returned."""
        with transaction():
            attempt, grant = services.submit_attempt(annotator=current_account(), attempt_id=attempt_id,
                                                     answers=body["answers"], now=utcnow())
        return {**{name: getattr(attempt, name) for name in schemas.AttemptOut().fields},
                "grant_expires_at": grant.expires_at if grant else None}


@bp.route("/qualifications/<int:qualification_id>/grants")
class QualificationGrants(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.GrantPageOut)
    def get(self, args, qualification_id):
        """List who holds the qualification."""
        return page_of(services.grants(owner=current_account(), qualification_id=qualification_id, **args), args["limit"])

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.GrantIn)
    @bp.response(201, schemas.GrantOut)
    def post(self, body, qualification_id):
        """Grant the qualification to an annotator (by the account id they gave you)."""
        with transaction():
            return services.grant(owner=current_account(), qualification_id=qualification_id, now=utcnow(), **body)


@bp.route("/qualifications/<int:qualification_id>/grants/<int:annotator_id>")
class QualificationGrant(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(200, schemas.RevokedOut)
    def delete(self, qualification_id, annotator_id):
        """Revoke the qualification from an annotator."""
        with transaction():
            return {"revoked": services.revoke(owner=current_account(), qualification_id=qualification_id,
                                               annotator_id=annotator_id)}
