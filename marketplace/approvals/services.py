"""Approving and rejecting answers: the requester's verdict on the work, and the money that follows.

A submitted answer is pending: its reward sits in the annotator's pending balance, its fee reserved
on the project's escrow. Approval moves the reward to the annotator's available balance and the fee
to platform fees. Rejection (a category and a reason of at least 20 characters, shown to the
annotator) moves the reward back to escrow, releases the fee's reservation and reopens the task's
slot. Both work on a batch (ids or a filter) as one balanced ledger transaction; the conditional
update on each assignment (still pending?) makes a repeated or racing decision a no-op.
"""
import hashlib
import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from marketplace import pseudonyms
from marketplace.accounts.models import Account
from marketplace.assignments import store as assignment_store
from marketplace.assignments.models import PENDING_STATES, SUBMITTED, SUPERSEDED, Assignment, payment_status
from marketplace.errors import DomainError, field_error
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, ANNOTATOR_PENDING, PLATFORM_FEES
from marketplace.payments import escrow
from marketplace.projects import store as project_store
from marketplace.projects.models import CLOSED as PROJECT_CLOSED
from marketplace.projects.models import Project
from marketplace.results import store as results_store
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.tasks import store as tasks_store
from marketplace.tasks.models import Task

log = logging.getLogger(__name__)

CATEGORIES = ("wrong_answer", "spam", "ignored_instructions", "incomplete", "other", "quality_rule")
MIN_REASON = 20
MAX_BATCH = 5_000


_pending = assignment_store.awaiting_decision


def pending_ids(*, project_id: int, assignment_ids: list[int] | None = None, annotator_id: int | None = None,
                submitted_before: datetime | None = None, limit: int = MAX_BATCH) -> list[int]:
    """Pending answers of a project matching a filter, oldest first."""
    query = select(Assignment.id).where(_pending(project_id)).order_by(Assignment.id).limit(limit)
    if assignment_ids is not None:
        query = query.where(Assignment.id.in_(assignment_ids))
    if annotator_id is not None:
        query = query.where(Assignment.annotator_id == annotator_id)
    if submitted_before is not None:
        query = query.where(Assignment.submitted_at < submitted_before)
    return list(db.session.scalars(query))


def _batch_key(kind: str, ids: list[int]) -> str:
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:24]
    return f"{kind}-{ids[0]}-{len(ids)}-{digest}"


def approve(*, project: Project, ids: list[int], actor_id: int | None, now: datetime) -> int:
    """Approve pending answers: reward pending -> available, fee escrow -> platform fees. Returns how many."""
    if not ids:
        return 0
    rows = assignment_store.mark_approved(project_id=project.id, ids=ids, actor_id=actor_id, now=now)
    owed, fees = _owed(project, rows)
    if not owed:
        return len(rows)
    per_annotator = Counter()
    for (annotator_id, _), cents in owed.items():
        per_annotator[annotator_id] += cents
    moves = [ledger.Move(ledger.account(ANNOTATOR_PENDING, a, project.currency),
                         ledger.account(ANNOTATOR_AVAILABLE, a, project.currency), cents)
             for a, cents in sorted(per_annotator.items())]
    platform = ledger.account(PLATFORM_FEES, None, project.currency)
    moves += [ledger.Move(lane, platform, cents) for lane, cents in sorted(fees.items())]
    done = sorted(row.id for row in rows)
    ledger.post(key=_batch_key("approve", done), kind="approval", reference=("project", project.id), moves=moves,
                holds={lane: -cents for lane, cents in fees.items()}, now=now, details={"assignments": done[:1000]},
                memo=f"{len(rows)} answer(s) approved")
    return len(rows)


def _owed(project: Project, rows) -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    """Some answers' rewards per (annotator, escrow lane account the answer was paid from) and their fees per
    escrow lane account, at the reward each lease was given (a team's or an arm's, else the project's);
    answers that paid nothing are left out."""
    rewards: Counter = Counter()
    fees: Counter = Counter()
    for row in rows:
        reward = project.reward_cents if row.reward_cents is None else row.reward_cents
        if reward:
            rewards[row.annotator_id, row.escrow_lane] += reward
            fees[row.escrow_lane] += escrow.fee_cents(reward, project.fee_bps)
    if not rewards:
        return {}, {}
    lanes = escrow.escrow_lanes(project)
    return ({(a, lanes[lane]): cents for (a, lane), cents in rewards.items()},
            {lanes[lane]: cents for lane, cents in fees.items() if cents})


def check_rejection(category: str, reason: str) -> None:
    """A rejection needs a known category and a reason the annotator can act on."""
    if category not in CATEGORIES:
        raise field_error(f"must be one of {', '.join(CATEGORIES)}", "category")
    if len((reason or "").strip()) < MIN_REASON:
        raise field_error(f"give a reason of at least {MIN_REASON} characters", "reason")


def reject(*, project: Project, ids: list[int], category: str, reason: str, actor_id: int | None,
           now: datetime) -> int:
    """Reject pending answers: reward back to escrow, fee reservation released, task slots reopened."""
    check_rejection(category, reason)
    if not ids:
        return 0
    if project.status == PROJECT_CLOSED:  # its escrow will be released: lock the project before any ledger row,
        db.session.execute(select(Project.id).where(Project.id == project.id).with_for_update(key_share=True))
        escrow.lock_lanes(project_id=project.id, currency=project.currency)  # and every lane before refunding to some
    def rejected(status: str):
        return assignment_store.mark_rejected(project_id=project.id, ids=ids, status=status, category=category,
                                              reason=reason.strip(), actor_id=actor_id, now=now)

    counted = rejected(SUBMITTED)
    # A superseded answer already gave its slot back when its guideline version was replaced.
    rows = counted + rejected(SUPERSEDED)
    if not rows:
        return 0
    _reopen_slots(project, sorted(row.task_id for row in counted if not row.is_gold))
    owed, fees = _owed(project, rows)
    if owed:  # each reward back to the lane that paid it
        moves = [ledger.Move(ledger.account(ANNOTATOR_PENDING, a, project.currency), lane, cents)
                 for (a, lane), cents in sorted(owed.items())]
        done = sorted(row.id for row in rows)
        ledger.post(key=_batch_key("reject", done), kind="rejection", reference=("project", project.id), moves=moves,
                    holds={lane: -cents for lane, cents in fees.items()}, now=now, details={"assignments": done[:1000]},
                    memo=f"{len(rows)} answer(s) rejected: {category}")
        if project.status == PROJECT_CLOSED:
            escrow.release(project=project, now=now)
    return len(rows)


def _reopen_slots(project: Project, task_ids: list[int]) -> None:
    """Take rejected answers off their tasks: one slot each opens again and stale results go."""
    if not task_ids:
        return
    tasks_store.take_back_answers(Counter(task_ids))
    removed = results_store.delete_results(sorted(set(task_ids)))
    if removed:
        AGGREGATE_PROJECT.after_commit(project.id)  # recounts the progress once this commits
        project_store.reopen_if_completed(project)


def filters(*, project: Project, body: dict) -> dict:
    """Turn a decision's filter (ids, an annotator's pseudonym, a date) into pending_ids arguments."""
    annotator_id = None
    if body.get("annotator"):
        ids = db.session.scalars(select(Assignment.annotator_id).where(Assignment.project_id == project.id).distinct())
        annotator_id = next((a for a in ids if pseudonyms.annotator(project.id, a) == body["annotator"]), None)
        if annotator_id is None:
            raise field_error("no annotator with this pseudonym worked on the project", "annotator")
    return {"assignment_ids": body.get("assignment_ids"), "annotator_id": annotator_id,
            "submitted_before": body.get("submitted_before")}


def answers(*, project: Project, state: str | None, cursor: int | None, limit: int,
            updated_since: datetime | None = None) -> list[dict]:
    """A project's answers with their payment status, oldest first (annotators by pseudonym)."""
    query = (select(Assignment, Task.external_id).join(Task, Task.id == Assignment.task_id)
             .where(Assignment.project_id == project.id, Assignment.submitted_at.is_not(None))
             .order_by(Assignment.id).limit(limit + 1))
    if cursor:
        query = query.where(Assignment.id > cursor)
    if updated_since is not None:
        query = query.where(or_(Assignment.submitted_at >= updated_since, Assignment.approved_at >= updated_since,
                                Assignment.rejected_at >= updated_since))
    if state == "approved":
        query = query.where(Assignment.approved_at.is_not(None))
    elif state == "rejected":
        query = query.where(Assignment.rejected_at.is_not(None), Assignment.approved_at.is_(None))
    elif state == "pending":
        query = query.where(_pending(project.id))
    return [{"assignment_id": a.id, "task_id": a.task_id, "external_id": external_id,
             "annotator": pseudonyms.annotator(project.id, a.annotator_id), "answer": a.answer,
             "submitted_at": a.submitted_at, "payment_status": payment_status(a),
             "rejection_category": a.rejection_category, "rejection_reason": a.rejection_reason}
            for a, external_id in db.session.execute(query)]


def decide(*, account: Account, project: Project, decision: str, filters: dict, now: datetime,
           category: str | None = None, reason: str | None = None) -> dict:
    """Approve or reject a project's pending answers by ids or by filter (up to MAX_BATCH at a time)."""
    ids = pending_ids(project_id=project.id, **filters)
    actor = account.id
    if decision == "approve":
        count = approve(project=project, ids=ids, actor_id=actor, now=now)
    else:
        count = reject(project=project, ids=ids, category=category, reason=reason, actor_id=actor, now=now)
    left = len(pending_ids(project_id=project.id, **{**filters, "limit": 1})) if len(ids) == MAX_BATCH else 0
    return {"decided": count, "more_pending": bool(left), "decision": decision}


def approve_due(*, now: datetime, batch: int = MAX_BATCH) -> int:
    """Approve every answer left pending longer than its project's auto-approval delay."""
    total = 0
    projects = db.session.scalars(
        select(Project).where(Project.id.in_(
            select(Assignment.project_id).where(Assignment.status.in_(PENDING_STATES), Assignment.approved_at.is_(None),
                                                Assignment.rejected_at.is_(None)).distinct()))
        .order_by(Project.id)
    ).all()
    for project in projects:
        due = now - timedelta(seconds=project.auto_approve_after_s)
        try:
            done = 0
            with db.session.begin_nested():  # one project's trouble must not hold up everyone's pay
                while True:
                    ids = pending_ids(project_id=project.id, submitted_before=due, limit=batch)
                    done += approve(project=project, ids=ids, actor_id=None, now=now)
                    if len(ids) < batch:
                        break
            total += done
        except DomainError:
            log.exception("auto-approval of project %s failed; the others go on", project.id)
    return total

