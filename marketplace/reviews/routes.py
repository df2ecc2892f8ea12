"""Review stage endpoints: reviewers lease, decide and return tasks; requesters send tasks to review."""
from types import SimpleNamespace

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace import pseudonyms
from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.reviews import schemas, services
from marketplace.reviews.models import Review
from marketplace.tasks.schemas import TaskOut
from marketplace.idempotency.keys import idempotent
from marketplace.pagination import PageArgs, page_of

bp = Blueprint("reviews", __name__, description="The review stage")


@bp.route("/projects/<int:project_id>/reviews")
class ProjectReviews(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.response(201, schemas.LeasedReviewOut)
    def post(self, project_id):
        """Lease the next task waiting for review (reviewer standing required)."""
        with transaction():
            review, task, candidates = services.lease_review(project_id=project_id, reviewer=current_account(),
                                                             now=utcnow())
        fields = {column.name: getattr(review, column.name) for column in Review.__table__.columns}
        return SimpleNamespace(**fields, candidates=candidates,
                               task={"ref": pseudonyms.task_ref(task.id, review.reviewer_id), "data": task.data})


@bp.route("/reviews")
class Reviews(MethodView):
    @requires(ANNOTATOR)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.ReviewListOut)
    def get(self, args):
        """List your reviews, newest first."""
        return page_of(services.own_reviews(reviewer=current_account(), **args), args["limit"])


@bp.route("/reviews/<int:review_id>/decision")
class ReviewDecision(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.arguments(schemas.DecisionIn)
    @bp.response(200, schemas.ReviewOut)
    def post(self, body, review_id):
        """Decide the task under review: your label becomes its result."""
        with transaction():
            return services.decide(review_id=review_id, reviewer=current_account(), answer=body["answer"], now=utcnow())


@bp.route("/reviews/<int:review_id>/rework")
class ReviewRework(MethodView):
    @requires(ANNOTATOR)
    @idempotent
    @bp.arguments(schemas.ReworkIn)
    @bp.response(200, schemas.ReviewOut)
    def post(self, body, review_id):
        """Return the task for one more answer, with a note the next annotators will see."""
        with transaction():
            return services.rework(review_id=review_id, reviewer=current_account(), note=body["note"], now=utcnow())


@bp.route("/tasks/<int:task_id>/review")
class TaskReview(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(200, TaskOut)
    def post(self, task_id):
        """Send a closed task of your project to the review queue."""
        with transaction():
            return services.send_to_review(account=current_account(), task_id=task_id)
