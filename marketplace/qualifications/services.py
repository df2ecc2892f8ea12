"""Qualification tests: a bank of gold questions, random draws per attempt, grading, grants."""
import random
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from marketplace import labels
from marketplace.accounts.models import ADMIN, ANNOTATOR, Account
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.qualifications.models import EXPIRED, GRADED, STARTED, Attempt, Grant, Qualification, Question

_rng = random.Random()


class AttemptExpired(Conflict):
    """The time limit passed before the answers came; the attempt is closed (and stays closed)."""

    code = "attempt_expired"
    keeps_changes = True


def create(*, owner: Account, fields: dict) -> Qualification:
    """Create a qualification owned by the requester."""
    minimum = min_retry_delay_s()
    if fields["retry_delay_s"] < minimum:
        raise field_error(f"must be at least {minimum} seconds: with quick retries the scores of repeated attempts "
                          "give the answers away", "retry_delay_s")
    try:
        schema = labels.validate_schema(fields["label_schema"])
    except labels.LabelError as exc:
        raise field_error(exc.message, "label_schema", *exc.path)
    qualification = Qualification(owner_id=owner.id, question_count=0, **{**fields, "label_schema": schema})
    db.session.add(qualification)
    db.session.flush()
    return qualification


def min_retry_delay_s() -> int:
    """The shortest wait between attempts the platform allows (QUALIFICATION_MIN_RETRY_DELAY_S).

    Each attempt's score says how many of its drawn questions were right; retried at will, an
    annotator varies one answer at a time and reads the bank's answers off the scores.
    """
    return current_app.config["QUALIFICATION_MIN_RETRY_DELAY_S"]


def visible(*, account: Account, qualification_id: int, lock: bool = False) -> Qualification:
    """Return a qualification: annotators see every one (without questions), requesters their own."""
    query = select(Qualification).where(Qualification.id == qualification_id)
    qualification = db.session.scalar(query.with_for_update() if lock else query)
    if qualification is None or (account.role not in (ADMIN, ANNOTATOR) and qualification.owner_id != account.id):
        raise NotFound("No such qualification.")
    return qualification


def owned(*, account: Account, qualification_id: int, lock: bool = False) -> Qualification:
    """Return a qualification the account owns (any, for an admin)."""
    qualification = visible(account=account, qualification_id=qualification_id, lock=lock)
    if account.role != ADMIN and qualification.owner_id != account.id:
        raise NotFound("No such qualification.")
    return qualification


def listing(*, account: Account, cursor: int | None, limit: int) -> list[Qualification]:
    """List qualifications: a requester's own; every one for annotators and admins."""
    query = select(Qualification).where(Qualification.id > (cursor or 0)).order_by(Qualification.id).limit(limit + 1)
    if account.role not in (ADMIN, ANNOTATOR):
        query = query.where(Qualification.owner_id == account.id)
    return list(db.session.scalars(query))


def add_questions(*, account: Account, qualification_id: int, items: list[dict]) -> Qualification:
    """Add gold questions to a qualification's bank; every answer is checked against its schema."""
    qualification = owned(account=account, qualification_id=qualification_id, lock=True)
    for i, item in enumerate(items):
        try:
            labels.validate_task_data(qualification.label_schema, item.get("data"))
        except labels.LabelError as exc:
            raise field_error(f"question {i}: {exc.message}", "questions", str(i), *exc.path)
        try:
            item["answer"] = labels.validate_answer(qualification.label_schema, item["answer"], item.get("data"))
        except labels.LabelError as exc:
            raise field_error(f"question {i}: {exc.message}", "questions", str(i), "answer", *exc.path)
    db.session.add_all(Question(qualification_id=qualification.id, **item) for item in items)
    qualification.question_count += len(items)
    db.session.flush()
    return qualification


def start_attempt(*, annotator: Account, qualification_id: int, now: datetime, rng: random.Random = _rng) -> tuple[Attempt, list[Question]]:
    """Start an attempt: a random draw of questions, shown without their answers."""
    qualification = visible(account=annotator, qualification_id=qualification_id)
    if qualification.question_count < qualification.questions_per_attempt:
        raise Conflict("This qualification does not have enough questions yet.", code="qualification_not_ready")
    previous = list(db.session.scalars(
        select(Attempt).where(Attempt.annotator_id == annotator.id, Attempt.qualification_id == qualification.id)
        .order_by(Attempt.id.desc()).with_for_update()
    ))
    if previous and previous[0].status == STARTED and previous[0].deadline > now:
        raise Conflict(f"Finish attempt {previous[0].id} first (it ends at {previous[0].deadline.isoformat()}).", code="attempt_in_progress")
    if len(previous) >= qualification.max_attempts:
        raise Conflict(f"You have used all {qualification.max_attempts} attempts at this qualification.", code="attempts_exhausted")
    if previous:
        delay = max(qualification.retry_delay_s, min_retry_delay_s())  # older qualifications may have less
        ready = previous[0].started_at + timedelta(seconds=delay)
        if ready > now:
            wait = int((ready - now).total_seconds()) + 1
            raise Conflict(f"You may try again in {wait} seconds.", headers={"Retry-After": str(wait)}, code="retry_too_soon")
    bank = list(db.session.scalars(select(Question.id).where(Question.qualification_id == qualification.id)))
    drawn = rng.sample(bank, qualification.questions_per_attempt)
    attempt = Attempt(qualification_id=qualification.id, annotator_id=annotator.id, question_ids=drawn,
                      status=STARTED, started_at=now, deadline=now + timedelta(seconds=qualification.time_limit_s))
    db.session.add(attempt)
    db.session.flush()
    return attempt, _questions(drawn)


def _questions(ids: list[int]) -> list[Question]:
    by_id = {q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(ids)))}
    return [by_id[i] for i in ids]


def own_attempt(*, annotator: Account, attempt_id: int, lock: bool = False) -> Attempt:
    """Return one of the annotator's attempts."""
    query = select(Attempt).where(Attempt.id == attempt_id)
    attempt = db.session.scalar(query.with_for_update() if lock else query)
    if attempt is None or attempt.annotator_id != annotator.id:
        raise NotFound("No such attempt.")
    return attempt


def submit_attempt(*, annotator: Account, attempt_id: int, answers: list, now: datetime) -> tuple[Attempt, Grant | None]:
    """Grade an attempt at once; a pass grants the qualification with its score and expiry.

    Only the score is returned: which questions were wrong, and their answers, stay secret.
    """
    attempt = own_attempt(annotator=annotator, attempt_id=attempt_id, lock=True)
    if attempt.status != STARTED:
        raise Conflict(f"This attempt is {attempt.status}.", code="attempt_not_open")
    if attempt.deadline <= now:
        attempt.status = EXPIRED
        attempt.graded_at, attempt.score, attempt.passed = now, 0.0, False
        raise AttemptExpired("The time limit of this attempt has passed; it counts as failed.")
    qualification = db.session.get(Qualification, attempt.qualification_id)
    if len(answers) != len(attempt.question_ids):
        raise field_error(f"send exactly {len(attempt.question_ids)} answers, in the order of the questions", "answers")
    questions = _questions(attempt.question_ids)
    correct = 0
    for i, (question, given) in enumerate(zip(questions, answers)):
        try:
            clean = labels.validate_answer(qualification.label_schema, given, question.data)
        except labels.LabelError as exc:
            raise field_error(f"answer {i}: {exc.message}", "answers", str(i), *exc.path)
        correct += labels.agrees(qualification.label_schema, clean, question.answer, question.data)
    attempt.status, attempt.graded_at = GRADED, now
    attempt.score = correct / len(questions)
    attempt.passed = attempt.score >= qualification.pass_score
    grant = None
    if attempt.passed:
        grant = _grant(qualification, annotator.id, attempt.score, now, source="attempt")
    db.session.flush()
    return attempt, grant


def _grant(qualification: Qualification, annotator_id: int, score: float, now: datetime, source: str,
           validity_s: int | None = None) -> Grant:
    validity = validity_s if validity_s is not None else qualification.validity_s
    grant = Grant(qualification_id=qualification.id, annotator_id=annotator_id, score=score, source=source,
                  expires_at=now + timedelta(seconds=validity) if validity else None, revoked=False)
    db.session.add(grant)
    return grant


def grant(*, owner: Account, qualification_id: int, annotator_id: int, score: float, validity_s: int | None,
          now: datetime) -> Grant:
    """Grant a qualification to an annotator directly."""
    qualification = owned(account=owner, qualification_id=qualification_id)
    annotator = db.session.get(Account, annotator_id)
    if annotator is None or annotator.role != ANNOTATOR:
        raise field_error("no such annotator", "annotator_id")
    granted = _grant(qualification, annotator_id, score, now, source="owner", validity_s=validity_s)
    db.session.flush()
    return granted


def revoke(*, owner: Account, qualification_id: int, annotator_id: int) -> int:
    """Revoke every grant of a qualification to an annotator; returns how many were live."""
    qualification = owned(account=owner, qualification_id=qualification_id)
    return db.session.execute(
        update(Grant).where(Grant.qualification_id == qualification.id, Grant.annotator_id == annotator_id, ~Grant.revoked)
        .values(revoked=True)
    ).rowcount


def grants(*, owner: Account, qualification_id: int, cursor: int | None, limit: int) -> list[Grant]:
    """List a qualification's grants."""
    qualification = owned(account=owner, qualification_id=qualification_id)
    return list(db.session.scalars(
        select(Grant).where(Grant.qualification_id == qualification.id, Grant.id > (cursor or 0))
        .order_by(Grant.id).limit(limit + 1)
    ))


def attempts_of(*, annotator: Account, qualification_id: int | None, cursor: int | None, limit: int) -> list[Attempt]:
    """List the annotator's attempts, newest first (one page, +1)."""
    query = select(Attempt).where(Attempt.annotator_id == annotator.id)
    if qualification_id:
        query = query.where(Attempt.qualification_id == qualification_id)
    return list(db.session.scalars(keyset(query, Attempt.id, cursor, limit)))

