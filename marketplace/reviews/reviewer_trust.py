"""Reviewer trust: decisions compared with the truth the crowd's answers imply (at each recompute)."""
import numpy as np
from sqlalchemy import select

from marketplace import labels
from marketplace.extensions import db
from marketplace.quality import services as quality
from marketplace.reviews.models import DECIDED, Review

REVIEW_METHOD = "review"


def check_reviews(*, project_id: int, task_ids: np.ndarray, labels: np.ndarray, classes: list, label_type) -> int:
    """Mark each decided review as agreeing or not with the inferred truth; count it in the reviewer's stats."""
    truth = {int(t): classes[int(k)] for t, k in zip(task_ids.tolist(), labels.tolist())}
    reviews = db.session.scalars(
        select(Review).where(Review.project_id == project_id, Review.status == DECIDED,
                             Review.agrees_with_truth.is_(None))
    ).all()
    checked = 0
    for review in reviews:
        if review.task_id not in truth:
            continue
        _record(review, label_type.class_of(review.label) == truth[review.task_id])
        checked += 1
    return checked


def _record(review: Review, agrees: bool) -> None:
    """Mark the decision and count it in the reviewer's trust on the project."""
    review.agrees_with_truth = agrees
    quality.count_review(reviewer_id=review.reviewer_id, project_id=review.project_id, agrees=agrees)


def check_structured_reviews(*, project, task_answers) -> int:
    """The same for label types aggregated by their module: the decision agrees with the aggregate of
    the task's answers when their agreement reaches the schema's gold threshold (as gold is scored)."""
    reviews = db.session.scalars(
        select(Review).where(Review.project_id == project.id, Review.status == DECIDED,
                             Review.agrees_with_truth.is_(None))
    ).all()
    if not reviews:
        return 0
    tasks = task_answers(project, sorted({review.task_id for review in reviews}))
    found = dict(zip((task.task_id for task in tasks), zip(tasks, labels.aggregate(project.label_schema, tasks))))
    checked = 0
    for review in reviews:
        task, truth = found.get(review.task_id, (None, None))
        if truth is None:  # no answers to compare with
            continue
        _record(review, labels.agrees(project.label_schema, review.label, truth.label, task.data))
        checked += 1
    return checked
