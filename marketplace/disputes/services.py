"""Disputes: an annotator contests a rejection within the window; an admin upholds or overturns it.

Opening a dispute attaches an evidence pack built from the database (the task, the answer, the
inferred truth and its posterior, the annotator's gold record on the project, time spent), so the
admin judges facts, not claims. Resolution is a conditional update from `open`: a dispute is
resolved once. Overturning pays the reward and fee from the project's escrow (or, if the escrow
cannot cover it, the requester's available balance) and the rejection stops counting against the
annotator's reputation (it only counts once the window has closed without a dispute that won).
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, literal, select, update

from marketplace.accounts.models import ADMIN, ANNOTATOR, Account
from marketplace.assignments import store as assignment_store
from marketplace.assignments.models import REJECTED, Assignment
from marketplace.disputes.models import OPEN, OVERTURNED, UPHELD, Dispute
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, PLATFORM_FEES, REQUESTER_AVAILABLE, REQUESTER_RECEIVABLE
from marketplace.payments import escrow
from marketplace.projects.models import Project
from marketplace.quality.models import AnnotatorStats
from marketplace.results.models import Result
from marketplace.tasks.models import Task

MIN_REASON = 20


def window() -> timedelta:
    """How long after a rejection it may be disputed."""
    return timedelta(days=current_app.config["DISPUTE_WINDOW_DAYS"])


def open_dispute(*, annotator: Account, assignment_id: int, reason: str, now: datetime) -> Dispute:
    """Dispute one of the annotator's rejected answers, within the window, once."""
    assignment = db.session.scalar(select(Assignment).where(Assignment.id == assignment_id).with_for_update())
    if assignment is None or assignment.annotator_id != annotator.id:
        raise NotFound("No such assignment.")
    if assignment.status != REJECTED or assignment.rejected_at is None:
        raise Conflict("Only a rejected answer can be disputed.", code="answer_not_rejected")
    if now > assignment.rejected_at + window():
        raise Conflict(f"The {window().days}-day dispute window for this rejection has closed.", code="dispute_window_closed")
    if db.session.scalar(select(Dispute.id).where(Dispute.assignment_id == assignment.id)) is not None:
        raise Conflict("This rejection is already disputed.", code="already_disputed")
    if len(reason.strip()) < MIN_REASON:
        raise field_error(f"explain in at least {MIN_REASON} characters", "reason")
    dispute = Dispute(assignment_id=assignment.id, annotator_id=annotator.id, project_id=assignment.project_id,
                      status=OPEN, reason=reason.strip(), evidence=_evidence(assignment), opened_at=now)
    db.session.add(dispute)
    db.session.flush()
    return dispute


def _evidence(assignment: Assignment) -> dict:
    task = db.session.get(Task, assignment.task_id)
    result = db.session.get(Result, assignment.task_id)
    stats = db.session.scalar(select(AnnotatorStats).where(AnnotatorStats.annotator_id == assignment.annotator_id,
                                                           AnnotatorStats.project_id == assignment.project_id))
    return {
        "task": {"id": task.id, "external_id": task.external_id, "data": task.data, "gold": assignment.is_gold,
                 "gold_answer": task.gold_answer if assignment.is_gold else None},
        "answer": assignment.answer,
        "gold_correct": assignment.gold_correct,
        "truth": None if result is None else {"label": result.label, "confidence": result.confidence,
                                              "posterior": result.posterior, "method": result.method,
                                              "answer_count": result.answer_count},
        "gold_record": {"seen": stats.gold_seen if stats else 0, "correct": stats.gold_correct if stats else 0},
        "duration_ms": assignment.duration_ms,
        "rejection": {"category": assignment.rejection_category, "reason": assignment.rejection_reason,
                      "rejected_at": assignment.rejected_at.isoformat()},
    }


def visible(*, account: Account, dispute_id: int) -> Dispute:
    """A dispute its annotator, the project's requester or an admin may read; others get a 404."""
    dispute = db.session.get(Dispute, dispute_id)
    if dispute is None or not _may_see(account, dispute):
        raise NotFound("No such dispute.")
    return dispute


def _may_see(account: Account, dispute: Dispute) -> bool:
    if account.role == ADMIN:
        return True
    if account.role == ANNOTATOR:
        return dispute.annotator_id == account.id
    return db.session.get(Project, dispute.project_id).requester_id == account.id


def listing(*, account: Account, status: str | None, cursor: int | None, limit: int) -> list[Dispute]:
    """Disputes: an annotator's own, those on a requester's projects, all for an admin (the queue)."""
    query = select(Dispute).order_by(Dispute.id).limit(limit + 1)
    if account.role == ANNOTATOR:
        query = query.where(Dispute.annotator_id == account.id)
    elif account.role != ADMIN:
        query = query.where(Dispute.project_id.in_(select(Project.id).where(Project.requester_id == account.id)))
    if status:
        query = query.where(Dispute.status == status)
    if cursor:
        query = query.where(Dispute.id > cursor)
    return list(db.session.scalars(query))


def resolve(*, admin: Account, dispute_id: int, outcome: str, note: str, now: datetime) -> Dispute:
    """Uphold or overturn an open dispute (once); overturning pays the annotator."""
    if outcome not in (UPHELD, OVERTURNED):
        raise field_error("must be upheld or overturned", "outcome")
    if len(note.strip()) < 5:
        raise field_error("give a note of at least 5 characters", "note")
    changed = db.session.execute(
        update(Dispute).where(Dispute.id == dispute_id, Dispute.status == OPEN)
        .values(status=outcome, resolved_at=now, resolved_by=admin.id, resolution_note=note.strip())
        .returning(Dispute.id).execution_options(synchronize_session=False)
    ).first()
    dispute = db.session.get(Dispute, dispute_id, populate_existing=True)
    if dispute is None:
        raise NotFound("No such dispute.")
    if changed is None:
        raise Conflict(f"This dispute was already resolved ({dispute.status}).", code="dispute_already_resolved")
    if outcome == OVERTURNED:
        _pay_overturned(dispute, now)
    return dispute


def _pay_overturned(dispute: Dispute, now: datetime) -> None:
    assignment = db.session.get(Assignment, dispute.assignment_id)
    project = db.session.scalar(select(Project).where(Project.id == dispute.project_id).with_for_update(key_share=True))
    assignment_store.approve_after_dispute(assignment, now)  # paid after all; a lost dispute's rejection never counts
    reward = project.reward_cents if assignment.reward_cents is None else assignment.reward_cents
    if reward == 0:
        return
    fee = escrow.fee_cents(reward, project.fee_bps)
    lanes = escrow.escrow_lanes(project)
    available = ledger.account(REQUESTER_AVAILABLE, project.requester_id, project.currency)
    held = ledger.locked([*lanes, available])
    cost = reward + fee
    # The escrow pays if one of its lanes can: the answer's own lane first (its rejection refunded it there).
    lane = next((a for a in [lanes[assignment.escrow_lane], *lanes] if ledger.spare_cents(held[a]) >= cost), None)
    if lane is not None:
        source = lane
    elif ledger.spare_cents(held[available]) >= cost:
        source = available
    else:  # the annotator is paid regardless; the platform advances it and the requester owes it
        source = ledger.account(REQUESTER_RECEIVABLE, project.requester_id, project.currency)
    ledger.post(key=f"dispute-{dispute.id}", kind="dispute_overturned", reference=("dispute", dispute.id), now=now,
                memo="rejection overturned on dispute",
                moves=[ledger.Move(source, ledger.account(ANNOTATOR_AVAILABLE, assignment.annotator_id,
                                                          project.currency), reward),
                       ledger.Move(source, ledger.account(PLATFORM_FEES, None, project.currency), fee)])


def final_rejections_query(*, annotator_ids: list[int], now: datetime):
    """Rejections that count against reputation, per annotator: window closed, not overturned, no
    dispute still open. Rows (annotator id, 0, how many, the last one's time), shaped as reputation
    records (right, seen, when); annotators with none have no row. The closing path reads the same in
    SQL (results/posterior_store.py): change both; tests/results/test_closing.py compares them."""
    open_dispute_ids = select(Dispute.assignment_id).where(Dispute.status == OPEN)
    return (
        select(Assignment.annotator_id, literal(0), func.count(), func.max(Assignment.rejected_at))
        .where(Assignment.annotator_id.in_(list(annotator_ids)), Assignment.status == REJECTED,
               Assignment.rejected_at <= now - window(), Assignment.approved_at.is_(None),
               Assignment.id.not_in(open_dispute_ids))
        .group_by(Assignment.annotator_id)
    )