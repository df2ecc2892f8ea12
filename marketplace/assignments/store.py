"""Writes to the assignments table that other features make: decisions on answers, ended leases.

The assignments table belongs to this feature; approvals, guidelines (projects) and closing a
project change assignments through these functions, each one statement.
"""
from datetime import datetime

from sqlalchemy import and_, update

from marketplace.assignments.models import LEASED, PENDING_STATES, REJECTED, RELEASED, SUBMITTED, SUPERSEDED, Assignment
from marketplace.extensions import db


def awaiting_decision(project_id: int):
    """The clause of a project's answers still awaiting approval or rejection."""
    return and_(Assignment.project_id == project_id, Assignment.status.in_(PENDING_STATES),
                Assignment.approved_at.is_(None), Assignment.rejected_at.is_(None))


def mark_approved(*, project_id: int, ids: list[int], actor_id: int | None, now: datetime) -> list:
    """Approve those of `ids` still awaiting a decision; return (id, annotator_id, reward_cents, escrow_lane) of each."""
    return db.session.execute(
        update(Assignment).where(Assignment.id.in_(ids), awaiting_decision(project_id))
        .values(approved_at=now, decided_by=actor_id)
        .returning(Assignment.id, Assignment.annotator_id, Assignment.reward_cents, Assignment.escrow_lane)
        .execution_options(synchronize_session=False)
    ).all()


def mark_rejected(*, project_id: int, ids: list[int], status: str, category: str, reason: str,
                  actor_id: int | None, now: datetime) -> list:
    """Reject those of `ids` in `status` still awaiting a decision; return (id, annotator_id, task_id, is_gold,
    reward_cents, escrow_lane) of each."""
    return db.session.execute(
        update(Assignment).where(Assignment.id.in_(ids), awaiting_decision(project_id), Assignment.status == status)
        .values(status=REJECTED, rejected_at=now, ended_at=now, rejection_category=category,
                rejection_reason=reason, decided_by=actor_id)
        .returning(Assignment.id, Assignment.annotator_id, Assignment.task_id, Assignment.is_gold, Assignment.reward_cents,
                   Assignment.escrow_lane)
        .execution_options(synchronize_session=False)
    ).all()


def supersede_older_answers(*, project_id: int, version: int, now: datetime) -> list:
    """Answers given under instructions older than `version` are superseded; return (task_id, is_gold) of each."""
    return db.session.execute(
        update(Assignment)
        # Gold answers are superseded too: a status only ordinary answers could reach would single out gold.
        .where(Assignment.project_id == project_id, Assignment.status == SUBMITTED,
               Assignment.guideline_version < version)
        .values(status=SUPERSEDED, ended_at=now)
        .returning(Assignment.task_id, Assignment.is_gold)
    ).all()


def end_live_leases(*, project_id: int, now: datetime) -> list[tuple[int | None, int]]:
    """A closed project's live leases end (released); return the (reward, escrow lane) of each (reward None: the project's)."""
    return [tuple(row) for row in db.session.execute(
        update(Assignment).where(Assignment.project_id == project_id, Assignment.status == LEASED)
        .values(status=RELEASED, ended_at=now).returning(Assignment.reward_cents, Assignment.escrow_lane)
        .execution_options(synchronize_session=False)
    )]


def approve_after_dispute(assignment, now: datetime) -> None:
    """A rejection overturned on dispute: the answer counts as approved after all."""
    assignment.approved_at = now
