"""Submitting an answer: the hot path after leasing, kept to a few narrow statements.

One read of the assignment with what the answer needs of its project and task, then (on PostgreSQL)
one statement that submits it only if it is still a live lease, counts the answer on its task
(closing the task when full) and in the annotator's trust counters. No row is locked before that
conditional update: two racing submissions of one assignment cannot both match `status = 'leased'`.
"""
from dataclasses import dataclass
from datetime import datetime

from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, case, false, select, update

from marketplace import labels
from marketplace.accounts.models import Account
from marketplace.assignments.models import EXPIRED, LEASED, SUBMITTED, Assignment
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.db import core, is_postgres, pg_one, pg_sql
from marketplace.extensions import db
from marketplace.ledger.models import PROJECT_ESCROW, LedgerAccount
from marketplace.payments import escrow
from marketplace.projects.models import OPEN as PROJECT_OPEN
from marketplace.projects.models import Project
from marketplace.quality import rules as _rules
from marketplace.quality import services as quality
from marketplace.queue import enqueue_after_commit
from marketplace.results import policy
from marketplace.results.jobs import AGGREGATE_PROJECT, RECOMPUTE_IF_DUE
from marketplace.results.cadence import CHECK_EVERY_ANSWERS
from marketplace.tasks.models import CLOSED, Task


class LeaseExpired(Conflict):
    """The lease ran out before the answer came; the slot is returned, so this change is kept."""

    keeps_changes = True


@dataclass(frozen=True)
class Submission:
    """A submitted answer as the annotator sees it, and the gold feedback it earned, if any."""

    id: int
    project_id: int
    task_id: int
    annotator_id: int
    status: str
    leased_at: datetime
    expires_at: datetime
    submitted_at: datetime
    answer: dict
    duration_ms: int
    guideline_version: int
    feedback: quality.Feedback | None


_PG_CONTEXT = pg_sql("""
SELECT a.id, a.annotator_id, a.project_id, a.task_id, a.status, a.leased_at, a.expires_at, a.is_gold, a.guideline_version,
       p.status AS project_status, p.label_schema, p.gold_feedback, p.quality_rules, p.target_confidence,
       p.min_answers, p.max_answers, p.aggregation, p.class_priors, p.truth_model, p.model_as_annotator, p.model_confusion,
       p.budget_cents, p.reward_cents, p.currency, e.id AS escrow_id,
       t.gold_answer, t.gold_explanation,
       -- only types whose answers point into the data (boxes, spans...) need it: skip it for classes
       CASE WHEN p.label_schema->>'type' = 'classification' THEN NULL ELSE t.data END AS task_data
FROM assignments a JOIN projects p ON p.id = a.project_id JOIN tasks t ON t.id = a.task_id
LEFT JOIN ledger_accounts e ON e.kind = 'project_escrow' AND e.owner_id = p.id AND e.currency = p.currency
WHERE a.id = :assignment_id
""")
# The same read for SQLite, where the column types do the JSON decoding.
_CONTEXT = (
    select(
        Assignment.id, Assignment.annotator_id, Assignment.project_id, Assignment.task_id, Assignment.status,
        Assignment.leased_at, Assignment.expires_at, Assignment.is_gold, Assignment.guideline_version,
        Project.status.label("project_status"), Project.label_schema, Project.gold_feedback, Project.quality_rules,
        Project.target_confidence, Project.min_answers, Project.max_answers, Project.aggregation, Project.class_priors,
        Project.truth_model, Project.model_as_annotator, Project.model_confusion, Project.budget_cents, Project.reward_cents,
        Project.currency, LedgerAccount.id.label("escrow_id"),
        Task.gold_answer, Task.gold_explanation, Task.data.label("task_data"),
    )
    .join(Project, Project.id == Assignment.project_id)
    .join(Task, Task.id == Assignment.task_id)
    .outerjoin(LedgerAccount, (LedgerAccount.kind == PROJECT_ESCROW) & (LedgerAccount.owner_id == Project.id)
               & (LedgerAccount.currency == Project.currency))
    .where(Assignment.id == bindparam("assignment_id"))
)


def submit_answer(*, assignment_id: int, annotator: Account, answer, now: datetime) -> Submission:
    """Record the answer of a live lease; score gold; close the task when it has all its answers."""
    if is_postgres():
        row = pg_one(_PG_CONTEXT, {"assignment_id": assignment_id})
    else:
        row = core(_CONTEXT, {"assignment_id": assignment_id}).first()
    if row is None or row.annotator_id != annotator.id:
        raise NotFound("No such assignment.")
    if row.status != LEASED:
        raise Conflict(f"This assignment is {row.status}; it takes no answer.")
    if row.expires_at <= now:
        end_lease(assignment_id=row.id, task_id=row.task_id, is_gold=row.is_gold, status=EXPIRED, now=now)
        raise LeaseExpired("The lease expired before the answer arrived; the task went back to the pool.")
    if row.project_status != PROJECT_OPEN:
        raise Conflict(f"This project is {row.project_status}; it takes no answers.")
    try:
        clean = labels.validate_answer(row.label_schema, answer, row.task_data)
    except labels.LabelError as exc:
        raise field_error(exc.message, "answer", *exc.path)
    duration_ms = int((now - row.leased_at).total_seconds() * 1000)
    gold_correct = labels.agrees(row.label_schema, clean, row.gold_answer, row.task_data) if row.is_gold else None
    write = _write_postgres if is_postgres() else _write_portable
    counters = write(row, annotator.id, clean, duration_ms, gold_correct, now)
    if counters is None:
        raise Conflict("This assignment was answered or ended a moment ago; it takes no answer.")
    if not (is_postgres() and row.escrow_id is not None):  # else the write statement paid it
        escrow.pay_answer(project_id=row.project_id, currency=row.currency, reward_cents=row.reward_cents,
                          assignment_id=row.id, annotator_id=annotator.id, escrow_id=row.escrow_id, now=now)
    if row.target_confidence is not None and not row.is_gold:
        policy.after_answer(project=row, task_id=row.task_id, now=now)
    # Besides the periodic sweep, a project recomputes once enough answers arrived (recompute.queue_if_due).
    enqueue_after_commit(RECOMPUTE_IF_DUE, row.project_id, queue="truth", debounce=True, every=CHECK_EVERY_ANSWERS)
    quality.check_rules(counters=counters, annotator_id=annotator.id, project_id=row.project_id, rules=row.quality_rules,
                        now=now, gold_answered=row.is_gold, duration_ms=duration_ms,
                        recent_durations=getattr(counters, "recent_durations", None))
    feedback = None
    if gold_correct is False and row.gold_feedback:
        feedback = quality.Feedback(False, row.gold_explanation, labels.result_label(row.label_schema, row.gold_answer))
    return Submission(row.id, row.project_id, row.task_id, annotator.id, SUBMITTED, row.leased_at, row.expires_at,
                      now, clean, duration_ms, row.guideline_version, feedback)


_PG_WRITE = pg_sql("""
WITH done AS (
    UPDATE assignments SET status = 'submitted', answer = :answer, submitted_at = :now, ended_at = :now,
           duration_ms = :duration_ms, gold_correct = :gold_correct
    WHERE id = :assignment_id AND status = 'leased'
    RETURNING task_id
), counted AS (
    UPDATE tasks SET answer_count = tasks.answer_count + 1,
           status = CASE WHEN :fixed AND tasks.answer_count + 1 >= tasks.slot_limit THEN 'closed' ELSE tasks.status END,
           closed_at = CASE WHEN :fixed AND tasks.answer_count + 1 >= tasks.slot_limit THEN :now ELSE tasks.closed_at END
    FROM done WHERE tasks.id = done.task_id AND NOT :is_gold
    RETURNING tasks.status
), counters AS (
    INSERT INTO annotator_stats AS s (annotator_id, project_id, answers, duration_ms_total, gold_seen, gold_correct,
                                      agreement_answers, weight, blocked, created_at, updated_at)
    SELECT :annotator_id, :project_id, 1, :duration_ms, :gold_seen, :gold_right, 0, 1.0, false, :now, :now FROM done
    ON CONFLICT (annotator_id, project_id) DO UPDATE SET
        answers = s.answers + 1, duration_ms_total = s.duration_ms_total + :duration_ms,
        gold_seen = s.gold_seen + :gold_seen, gold_correct = s.gold_correct + :gold_right, updated_at = :now
    RETURNING s.answers, s.gold_seen, s.gold_correct, s.agreement, s.agreement_answers, s.blocked
), """ + escrow.PAY_ANSWER_STEPS + """
SELECT counters.*, (SELECT status FROM counted) AS task_status,
       CASE WHEN :median_window > 0 THEN ARRAY(
           SELECT r.duration_ms FROM assignments r
           WHERE r.annotator_id = :annotator_id AND r.project_id = :project_id AND r.status = 'submitted'
             AND r.duration_ms IS NOT NULL
           ORDER BY r.task_id DESC LIMIT :median_window) END AS recent_durations
FROM counters
""")


def _write_postgres(row, annotator_id: int, answer: dict, duration_ms: int, gold_correct: bool | None, now: datetime):
    """Submit, count on the task and in the annotator's trust: one statement. None if no longer live."""
    gold_seen, right = (0, 0) if gold_correct is None else (1, int(gold_correct))
    counters = pg_one(_PG_WRITE, {
        "assignment_id": row.id, "answer": Jsonb(answer), "now": now, "duration_ms": duration_ms, "gold_correct": gold_correct,
        "fixed": row.target_confidence is None, "is_gold": row.is_gold, "annotator_id": annotator_id,
        "project_id": row.project_id, "gold_seen": gold_seen, "gold_right": right,
        **escrow.pay_params(project_id=row.project_id, currency=row.currency, reward_cents=row.reward_cents,
                            escrow_id=row.escrow_id, annotator_id=annotator_id),
        # The previous answers' times come back with the write when a rule will want their median.
        "median_window": _rules.MEDIAN_WINDOW - 1 if any(
            rule["metric"] == _rules.MEDIAN_TIME for rule in row.quality_rules or ()) else 0,
    })
    if counters is not None and counters.task_status == CLOSED:
        enqueue_after_commit(AGGREGATE_PROJECT, row.project_id, queue="truth", debounce=True)
    return counters


def _write_portable(row, annotator_id: int, answer: dict, duration_ms: int, gold_correct: bool | None, now: datetime):
    """The same writes as plain statements, for SQLite."""
    submitted = db.session.execute(
        update(Assignment)
        .where(Assignment.id == row.id, Assignment.status == LEASED)
        .values(status=SUBMITTED, answer=answer, submitted_at=now, ended_at=now, duration_ms=duration_ms,
                gold_correct=gold_correct)
        .returning(Assignment.id)
    ).first()
    if submitted is None:
        return None
    if not row.is_gold:
        full = (Task.answer_count + 1 >= Task.slot_limit) if row.target_confidence is None else false()
        status = db.session.execute(
            update(Task)
            .where(Task.id == row.task_id)
            .values(answer_count=Task.answer_count + 1, status=case((full, CLOSED), else_=Task.status),
                    closed_at=case((full, now), else_=Task.closed_at))
            .returning(Task.status)
        ).scalar_one()
        if status == CLOSED:
            enqueue_after_commit(AGGREGATE_PROJECT, row.project_id, queue="truth", debounce=True)
    return quality.count_answer(annotator_id=annotator_id, project_id=row.project_id, duration_ms=duration_ms,
                                gold_correct=gold_correct, now=now)


def end_lease(*, assignment_id: int, task_id: int, is_gold: bool, status: str, now: datetime) -> bool:
    """End a live lease (released or expired) and give its slot back; False if it was no longer live."""
    ended = db.session.execute(
        update(Assignment).where(Assignment.id == assignment_id, Assignment.status == LEASED)
        .values(status=status, ended_at=now).returning(Assignment.project_id)
    ).first()
    if ended is not None and not is_gold:  # gold has no slots
        db.session.execute(update(Task).where(Task.id == task_id).values(slots_taken=Task.slots_taken - 1))
    if ended is not None:
        escrow.release_lease_holds(project_id=ended.project_id, leases=1)
    return ended is not None
