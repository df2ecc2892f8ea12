"""The submit path's statements, per dialect: read what an answer needs, then write it.

PostgreSQL: one read (context_row), then one statement that marks the lease submitted only if it
is still live and, in the same statement, counts the answer on its task (tasks' COUNT_ANSWER), in
the annotator's trust counters (quality's COUNT_ANSWER) and pays its reward (the ledger's
PAY_ANSWER). Each owner exports its step; this module only composes them. SQLite: the same reads
and writes through each owner's portable function.
"""
from datetime import datetime
from typing import NamedTuple

from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, func, select, update

from marketplace.assignments.models import LEASED, SUBMITTED, Assignment
from marketplace.db import core, is_postgres, pg_one, pg_sql
from marketplace.extensions import db
from marketplace.ledger import store as ledger_store
from marketplace.ledger.models import PROJECT_ESCROW, LedgerAccount
from marketplace.projects.models import Project
from marketplace.quality import rules as _rules
from marketplace.quality import store as quality_store
from marketplace.quality.models import AnnotatorStats
from marketplace.tasks import store as tasks_store
from marketplace.tasks.models import Task
from marketplace.webhooks.models import WebhookEndpoint


class Written(NamedTuple):
    """What writing an answer left: the annotator's counters (for the rules) and the task's status."""

    counters: object
    task_status: str | None


_PG_CONTEXT = pg_sql("""
SELECT a.id, a.annotator_id, a.project_id, a.task_id, a.status, a.leased_at, a.expires_at, a.is_gold, a.guideline_version,
       p.status AS project_status, p.label_schema, p.gold_feedback, p.quality_rules, p.target_confidence,
       p.min_answers, p.max_answers, p.aggregation, p.class_priors, p.truth_model, p.model_as_annotator, p.model_confusion,
       p.budget_cents, coalesce(a.reward_cents, p.reward_cents) AS reward_cents, p.currency, e.id AS escrow_id,
       p.review_enabled, p.task_count, t.external_id, t.answer_count, t.slot_limit, t.gold_answer, t.gold_explanation,
       coalesce(s.answers, 0) AS annotator_answers,
       EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.owner_id = p.requester_id AND w.active) AS has_webhooks,
       -- only types whose answers point into the data (boxes, spans...) need it: skip it for classes
       CASE WHEN p.label_schema->>'type' = 'classification' THEN NULL ELSE t.data END AS task_data
FROM assignments a JOIN projects p ON p.id = a.project_id JOIN tasks t ON t.id = a.task_id
LEFT JOIN annotator_stats s ON s.project_id = a.project_id AND s.annotator_id = a.annotator_id
LEFT JOIN ledger_accounts e ON e.kind = 'project_escrow' AND e.owner_id = p.id AND e.currency = p.currency
                           AND e.lane = a.escrow_lane
WHERE a.id = :assignment_id
""")
# The same read for SQLite, where the column types do the JSON decoding.
_CONTEXT = (
    select(
        Assignment.id, Assignment.annotator_id, Assignment.project_id, Assignment.task_id, Assignment.status,
        Assignment.leased_at, Assignment.expires_at, Assignment.is_gold, Assignment.guideline_version,
        Project.status.label("project_status"), Project.label_schema, Project.gold_feedback, Project.quality_rules,
        Project.target_confidence, Project.min_answers, Project.max_answers, Project.aggregation, Project.class_priors,
        Project.truth_model, Project.model_as_annotator, Project.model_confusion, Project.budget_cents,
        func.coalesce(Assignment.reward_cents, Project.reward_cents).label("reward_cents"),
        Project.currency, LedgerAccount.id.label("escrow_id"),
        Project.review_enabled, Project.task_count, Task.external_id, Task.answer_count, Task.slot_limit,
        select(WebhookEndpoint.id).where(WebhookEndpoint.owner_id == Project.requester_id, WebhookEndpoint.active)
        .exists().label("has_webhooks"),
        Task.gold_answer, Task.gold_explanation, Task.data.label("task_data"),
        func.coalesce(AnnotatorStats.answers, 0).label("annotator_answers"),
    )
    .join(Project, Project.id == Assignment.project_id)
    .join(Task, Task.id == Assignment.task_id)
    .outerjoin(AnnotatorStats, (AnnotatorStats.project_id == Assignment.project_id)
               & (AnnotatorStats.annotator_id == Assignment.annotator_id))
    .outerjoin(LedgerAccount, (LedgerAccount.kind == PROJECT_ESCROW) & (LedgerAccount.owner_id == Project.id)
               & (LedgerAccount.currency == Project.currency) & (LedgerAccount.lane == Assignment.escrow_lane))
    .where(Assignment.id == bindparam("assignment_id"))
)


def context_row(assignment_id: int):
    """The assignment with what answering it needs of its project, task and escrow lane, and how many answers
    its annotator has in the project (None: no such assignment)."""
    if is_postgres():
        return pg_one(_PG_CONTEXT, {"assignment_id": assignment_id})
    return core(_CONTEXT, {"assignment_id": assignment_id}).first()


_PG_WRITE = pg_sql("""
WITH done AS (
    UPDATE assignments SET status = 'submitted', answer = :answer, submitted_at = :now, ended_at = :now,
           duration_ms = :duration_ms, gold_correct = :gold_correct
    WHERE id = :assignment_id AND status = 'leased'
    RETURNING task_id
), """ + tasks_store.COUNT_ANSWER + ", " + quality_store.COUNT_ANSWER + ", " + ledger_store.PAY_ANSWER + """
SELECT counters.*, (SELECT status FROM counted) AS task_status,
       CASE WHEN :median_window > 0 THEN ARRAY(
           SELECT r.duration_ms FROM assignments r
           WHERE r.annotator_id = :annotator_id AND r.project_id = :project_id AND r.status = 'submitted'
             AND r.duration_ms IS NOT NULL
           ORDER BY r.task_id DESC LIMIT :median_window) END AS recent_durations
FROM counters
""")


def write_answer(row, annotator_id: int, answer: dict, duration_ms: int, gold_correct: bool | None,
                 now: datetime, *, pay_later: bool = False) -> Written | None:
    """Submit a live lease's answer, count it on the task and in the annotator's trust, pay its reward.

    None if the lease was no longer live (nothing written). On PostgreSQL: one statement (the
    payment too, when the project has an escrow). Elsewhere: the same writes, one owner's function each.
    `pay_later`: leave the payment to pay() (PostgreSQL), which the caller runs after its own
    follow-up work: paying locks the lease's escrow lane until the commit, and the leases and answers
    of the project on that lane wait for it, so it is the transaction's last step.
    """
    if is_postgres():
        counters = _write_postgres(row, annotator_id, answer, duration_ms, gold_correct, now, pay=not pay_later)
        paid = row.escrow_id is not None and not pay_later  # the statement paid it
    else:
        counters = _write_portable(row, annotator_id, answer, duration_ms, gold_correct, now)
        paid = False
    if counters is None:
        return None
    if not paid and not (pay_later and is_postgres()):
        ledger_store.pay_answer(project_id=row.project_id, currency=row.currency, reward_cents=row.reward_cents,
                                assignment_id=row.id, annotator_id=annotator_id, escrow_id=row.escrow_id, now=now)
    return Written(counters, counters.task_status)


_PG_PAY = pg_sql("WITH done AS (SELECT 1), " + ledger_store.PAY_ANSWER + " SELECT count(*) AS entries FROM pay_entries")


def pay(row, annotator_id: int, now: datetime) -> None:
    """Pay an answer written with pay_later (PostgreSQL; elsewhere write_answer already paid it)."""
    if not is_postgres():
        return
    if row.escrow_id is None:
        ledger_store.pay_answer(project_id=row.project_id, currency=row.currency, reward_cents=row.reward_cents,
                                assignment_id=row.id, annotator_id=annotator_id, escrow_id=None, now=now)
        return
    pg_one(_PG_PAY, {"assignment_id": row.id, "now": now, **ledger_store.pay_params(
        project_id=row.project_id, currency=row.currency, reward_cents=row.reward_cents, escrow_id=row.escrow_id,
        annotator_id=annotator_id)})


def _write_postgres(row, annotator_id: int, answer: dict, duration_ms: int, gold_correct: bool | None, now: datetime,
                    *, pay: bool):
    paying = ledger_store.pay_params(project_id=row.project_id, currency=row.currency, reward_cents=row.reward_cents,
                                     escrow_id=row.escrow_id, annotator_id=annotator_id)
    counters = pg_one(_PG_WRITE, {
        "assignment_id": row.id, "answer": Jsonb(answer), "now": now, "duration_ms": duration_ms, "gold_correct": gold_correct,
        "fixed": row.target_confidence is None, "is_gold": row.is_gold, "annotator_id": annotator_id,
        "project_id": row.project_id, **quality_store.count_params(gold_correct),
        **paying, "pay": paying["pay"] and pay,
        # The previous answers' times come back with the write when a rule will want their median.
        "median_window": _rules.MEDIAN_WINDOW - 1 if any(
            rule["metric"] == _rules.MEDIAN_TIME for rule in row.quality_rules or ()) else 0,
    })
    return counters


def _write_portable(row, annotator_id: int, answer: dict, duration_ms: int, gold_correct: bool | None, now: datetime):
    submitted = db.session.execute(
        update(Assignment)
        .where(Assignment.id == row.id, Assignment.status == LEASED)
        .values(status=SUBMITTED, answer=answer, submitted_at=now, ended_at=now, duration_ms=duration_ms,
                gold_correct=gold_correct)
        .returning(Assignment.id)
    ).first()
    if submitted is None:
        return None
    status = None if row.is_gold else tasks_store.count_answer(task_id=row.task_id, fixed=row.target_confidence is None,
                                                                now=now)
    counters = quality_store.count_answer(annotator_id=annotator_id, project_id=row.project_id,
                                          duration_ms=duration_ms, gold_correct=gold_correct, now=now)
    return _Counters(*counters, task_status=status)


class _Counters(NamedTuple):
    """The portable path's counters row, shaped like the PostgreSQL statement's (no recent_durations)."""

    answers: int
    gold_seen: int
    gold_correct: int
    agreement: float | None
    agreement_answers: int
    blocked: bool
    task_status: str | None
