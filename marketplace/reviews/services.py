"""The review stage: reviewers with standing lease escalated tasks, then decide them or return them.

A decision becomes the task's result (method "review", confidence 1); a return reopens the task for
one more answer with the reviewer's note shown to the next annotators. Reviewers never review a task
they answered. The project recompute later compares decisions with the inferred truth (reviewer trust).
"""
import json
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from marketplace import labels
from marketplace.accounts.models import Account
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.errors import Conflict, Forbidden, NotFound, field_error
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.projects import services as projects
from marketplace.projects import store as project_store
from marketplace.projects.models import Project
from marketplace.quality import eligibility
from marketplace.results import store as results_store
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.reviews.models import DECIDED, LEASED, RETURNED, Review
from marketplace.reviews.reviewer_trust import REVIEW_METHOD
from marketplace.tasks import store as tasks_store
from marketplace.tasks.models import CLOSED, ESCALATED, Task
from marketplace.teams import workforce


def ensure_reviewer(*, reviewer: Account, project: Project, now: datetime) -> None:
    """Raise 403 unless the account has reviewer standing on the project."""
    if not project.review_enabled:
        raise Conflict("This project has no review stage.", code="review_not_enabled")
    if project.review_qualification_id is not None and eligibility.best_grant(
        annotator_id=reviewer.id, qualification_id=project.review_qualification_id, now=now
    ) is not None:
        return
    if workforce.is_team_reviewer(project=project, account_id=reviewer.id):
        return
    if project.review_min_trust is not None:
        if eligibility.reputation_of(annotator_id=reviewer.id, now=now).mean >= project.review_min_trust:
            return
    raise Forbidden("You do not have reviewer standing on this project.", code="not_a_reviewer")


def lease_review(*, project_id: int, reviewer: Account, now: datetime) -> tuple[Review, Task, list[dict]]:
    """Lease the next escalated task of the project to a reviewer; returns the review, task and candidates."""
    project = db.session.get(Project, project_id)
    if project is not None and workforce.restricted(project.workforce) and not (
            workforce.may_see(project=project, annotator_id=reviewer.id, now=now)
            or workforce.is_team_reviewer(project=project, account_id=reviewer.id)):
        raise NotFound("No such project.")  # outside a team's project, as for its leases
    projects.ensure_open_for_work(project)
    ensure_reviewer(reviewer=reviewer, project=project, now=now)
    live = exists().where(Review.task_id == Task.id, Review.status == LEASED, Review.expires_at > now)
    answered = exists().where(Assignment.task_id == Task.id, Assignment.annotator_id == reviewer.id)
    passed: list[int] = []
    for _ in range(5):
        task = db.session.scalar(
            select(Task).where(Task.project_id == project.id, Task.status == ESCALATED, ~live, ~answered,
                               Task.id.not_in(passed) if passed else True)
            .order_by(Task.id).limit(1).with_for_update(skip_locked=True)
        )
        if task is None:
            break
        # The row lock is ours now; a fresh read sees a review another reviewer committed just before.
        taken = exists().where(Review.task_id == task.id, Review.status == LEASED, Review.expires_at > now)
        if not db.session.scalar(select(taken)):
            break
        passed.append(task.id)
        task = None
    if task is None:
        raise NotFound("No task is waiting for your review in this project right now.")
    review = Review(task_id=task.id, project_id=project.id, reviewer_id=reviewer.id, status=LEASED, leased_at=now,
                    expires_at=now + timedelta(seconds=project.assignment_duration_s))
    db.session.add(review)
    db.session.flush()
    return review, task, candidates(project=project, task_id=task.id)


def candidates(*, project: Project, task_id: int) -> list[dict]:
    """The answers a task received, as labels with their counts (who gave them stays hidden)."""
    chosen = db.session.scalars(
        select(Assignment.answer).where(Assignment.task_id == task_id, Assignment.status == SUBMITTED)).all()
    found = [labels.result_label(project.label_schema, answer) for answer in chosen]
    # Equal answers (a class, or the same boxes / spans / text) are counted together.
    counts = Counter(json.dumps(label, sort_keys=True) for label in found)
    return [{"label": json.loads(key), "count": count} for key, count in counts.most_common()]


def _own_live_review(review_id: int, reviewer: Account, now: datetime) -> tuple[Review, Project, Task]:
    review = db.session.scalar(select(Review).where(Review.id == review_id).with_for_update())
    if review is None or review.reviewer_id != reviewer.id:
        raise NotFound("No such review.")
    if review.status != LEASED:
        raise Conflict(f"This review is {review.status}.", code="review_not_open")
    if review.expires_at <= now:
        raise Conflict("This review lease has expired; lease the task again if it still needs review.", code="review_lease_expired")
    task = db.session.scalar(select(Task).where(Task.id == review.task_id).with_for_update())
    if task.status != ESCALATED:  # reopened or decided meanwhile (a block, a new guideline version)
        raise Conflict(f"This task is no longer waiting for review; it is {task.status}.", code="task_not_in_review")
    return review, db.session.get(Project, review.project_id), task


def decide(*, review_id: int, reviewer: Account, answer, now: datetime) -> Review:
    """Decide the task: the reviewer's label becomes its result (method "review")."""
    review, project, task = _own_live_review(review_id, reviewer, now)
    try:
        clean = labels.validate_answer(project.label_schema, answer, task.data)
    except labels.LabelError as exc:
        raise field_error(exc.message, "answer", *exc.path)
    review.status, review.decided_at, review.label = DECIDED, now, clean
    tasks_store.close_reviewed(task, now)
    label = labels.result_label(project.label_schema, clean)
    results_store.set_reviewed(task_id=task.id, project_id=project.id, label=label, method=REVIEW_METHOD,
                               answer_count=task.answer_count, now=now)
    db.session.flush()
    AGGREGATE_PROJECT.after_commit(project.id)
    return review


def rework(*, review_id: int, reviewer: Account, note: str, now: datetime) -> Review:
    """Return the task for one more answer, with the reviewer's note for the next annotators."""
    review, project, task = _own_live_review(review_id, reviewer, now)
    review.status, review.decided_at, review.note = RETURNED, now, note
    tasks_store.send_back(task, note)
    results_store.delete_results([task.id])
    _reopen_project(project)
    db.session.flush()
    return review


def send_to_review(*, account: Account, task_id: int) -> Task:
    """Put a closed task of the requester's project into the review queue."""
    task = db.session.scalar(select(Task).where(Task.id == task_id).with_for_update())
    if task is None:
        raise NotFound("No such task.")
    project = projects.owned(account=account, project_id=task.project_id, lock=True)
    if not project.review_enabled:
        raise Conflict("This project has no review stage; enable it first.", code="review_not_enabled")
    if task.status not in (CLOSED, ESCALATED):
        raise Conflict(f"Only a closed task can be sent to review; this one is {task.status}.", code="task_not_closed")
    tasks_store.queue_for_review(task)
    _reopen_project(project)
    db.session.flush()
    return task


def _reopen_project(project: Project) -> None:
    AGGREGATE_PROJECT.after_commit(project.id)  # recounts the progress once this commits
    project_store.reopen_if_completed(project)


def own_reviews(*, reviewer: Account, cursor: int | None, limit: int) -> list[Review]:
    """The reviewer's reviews, newest first (one page, +1)."""
    return list(db.session.scalars(keyset(select(Review).where(Review.reviewer_id == reviewer.id), Review.id, cursor,
                                          limit)))
