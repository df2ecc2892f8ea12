"""Bonuses: a requester pays an annotator extra for an answer, with a reason; replays return the first."""
from datetime import datetime

from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.assignments.models import Assignment
from marketplace.errors import NotFound, field_error
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, PLATFORM_FEES, REQUESTER_AVAILABLE
from marketplace.payments import escrow, idempotency
from marketplace.approvals.models import Bonus
from marketplace.projects.models import Project

MAX_BONUS_CENTS = 100_000


def grant(*, requester: Account, assignment_id: int, amount_cents: int, reason: str, key: str, body_hash: str,
          now: datetime) -> Bonus:
    """Pay a bonus (plus the platform fee) from the requester's available balance to the annotator's."""
    existing = db.session.scalar(select(Bonus).where(Bonus.requester_id == requester.id, Bonus.idempotency_key == key))
    if existing is not None:
        idempotency.ensure_same(existing.request_hash, body_hash)
        return existing
    found = db.session.execute(
        select(Assignment, Project).join(Project, Project.id == Assignment.project_id)
        .where(Assignment.id == assignment_id)
    ).first()
    if found is None or found.Project.requester_id != requester.id or found.Assignment.submitted_at is None:
        raise NotFound("No such answer on your projects.")
    if not 1 <= amount_cents <= MAX_BONUS_CENTS:
        raise field_error(f"must be between 1 and {MAX_BONUS_CENTS}", "amount_cents")
    if len(reason.strip()) < 3:
        raise field_error("say why (at least 3 characters)", "reason")
    assignment, project = found
    fee = escrow.fee_cents(amount_cents, project.fee_bps)
    bonus = Bonus(requester_id=requester.id, annotator_id=assignment.annotator_id, assignment_id=assignment.id,
                  project_id=project.id, amount_cents=amount_cents, fee_cents=fee, currency=project.currency,
                  reason=reason.strip(), idempotency_key=key, request_hash=body_hash, created_at=now)
    first = idempotency.insert_once(bonus, lambda: db.session.scalar(
        select(Bonus).where(Bonus.requester_id == requester.id, Bonus.idempotency_key == key)))
    if first is not bonus:
        idempotency.ensure_same(first.request_hash, body_hash)
        return first
    source = ledger.account(REQUESTER_AVAILABLE, requester.id, project.currency)
    ledger.post(key=f"bonus-{bonus.id}", kind="bonus", reference=("bonus", bonus.id), now=now, memo=bonus.reason,
                moves=[ledger.Move(source, ledger.account(ANNOTATOR_AVAILABLE, assignment.annotator_id, project.currency),
                                   amount_cents),
                       ledger.Move(source, ledger.account(PLATFORM_FEES, None, project.currency), fee)])
    return bonus


def listing(*, account: Account, cursor: int | None, limit: int) -> list[Bonus]:
    """Bonuses an annotator received or a requester gave, newest first."""
    mine = Bonus.annotator_id if account.role == "annotator" else Bonus.requester_id
    query = select(Bonus).where(mine == account.id).order_by(Bonus.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(Bonus.id < cursor)
    return list(db.session.scalars(query))
