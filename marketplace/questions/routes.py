"""Task questions: annotators ask from an assignment, requesters answer and promote, everyone reads."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER, ROLES
from marketplace.db import transaction, utcnow
from marketplace.idempotency.keys import idempotent
from marketplace.pagination import page_of
from marketplace.questions import schemas, services

bp = Blueprint("questions", __name__, description="Questions annotators ask about tasks, answered for the whole crowd")


@bp.route("/assignments/<int:assignment_id>/questions")
class AskQuestion(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.arguments(schemas.TaskQuestionIn)
    @bp.response(201, schemas.TaskQuestionOut)
    def post(self, body, assignment_id):
        """Ask the requester about the task of one of your assignments."""
        with transaction():
            return services.ask(annotator=current_account(), assignment_id=assignment_id, now=utcnow(), **body)


@bp.route("/projects/<int:project_id>/questions")
class ProjectQuestions(MethodView):
    @requires(*ROLES)
    @bp.arguments(schemas.TaskQuestionListArgs, location="query")
    @bp.response(200, schemas.TaskQuestionPageOut)
    def get(self, args, project_id):
        """A project's questions, newest first: all for its requester, the answered ones for annotators."""
        return page_of(services.listing(account=current_account(), project_id=project_id, **args), args["limit"],
                       key=lambda row: row["id"])


@bp.route("/questions/<int:question_id>/answer")
class AnswerQuestion(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.TaskQuestionAnswerIn)
    @bp.response(200, schemas.TaskQuestionOut)
    def post(self, body, question_id):
        """Answer a question on your project (once): every annotator of the project can read it."""
        with transaction():
            return services.answer(account=current_account(), question_id=question_id, now=utcnow(), **body)


@bp.route("/questions/<int:question_id>/promote")
class PromoteQuestion(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(200, schemas.TaskQuestionOut)
    def post(self, question_id):
        """Add an answered question to the instructions, as a new minor guideline version."""
        with transaction():
            return services.promote(account=current_account(), question_id=question_id, now=utcnow())
