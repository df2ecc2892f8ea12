"""Escrow: a project's money for the answers it may still buy.

Publishing (and importing tasks into an open project, or an explicit top-up) moves the worst-case
cost of the remaining answers from the requester's available balance into the project's escrow:
answers x reward x (1 + platform fee), where the answers are every slot a task may still fill
(max_answers under an adaptive policy) plus a gold allowance at the project's gold rate.
Every lease reserves one answer's cost on the escrow (`held_cents`), in the lease statement itself,
only if that much is free: a project whose escrow cannot cover one more answer hands out no more
work. A submitted answer moves its reward to the annotator's pending balance (its fee stays
reserved until approval); an ended lease gives its reservation back; closing a project returns
what is free to the requester.
"""
import logging
import math
from datetime import datetime

from sqlalchemy import case, func, select

from marketplace.assignments.models import LEASED, PENDING_STATES, SUBMITTED, Assignment
from marketplace.db import greatest
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import (PROJECT_ESCROW, REQUESTER_AVAILABLE, LedgerAccount, LedgerEntry,
                                       LedgerTransaction)
from marketplace.projects.models import Project
from marketplace.tasks.models import OPEN as TASK_OPEN
from marketplace.tasks.models import Task


def fee_cents(reward_cents: int, fee_bps: int) -> int:
    """The platform fee on an amount, rounded up to a whole cent (integer arithmetic: no float in money)."""
    return -(-reward_cents * fee_bps // 10_000)


def cost_of(reward_cents: int, fee_bps: int) -> int:
    """What one answer at this reward costs the requester: reward plus fee."""
    return reward_cents + fee_cents(reward_cents, fee_bps)


def reward_ceiling(project) -> int:
    """The most one answer of the project may pay: its reward, a targeted team's or a running arm's."""
    rewards = [project.reward_cents]
    rewards += [t["reward_cents"] for t in (project.workforce or {}).get("teams") or [] if t.get("reward_cents")]
    rewards += [arm["reward_cents"] for arm in (project.experiment or {}).get("arms", []) if arm.get("reward_cents")]
    return max(rewards)


def answer_cost(project) -> int:
    """The most one answer may cost the requester (reward plus fee): at the project's reward, or at a
    targeted team's or a running experiment arm's when higher. Funding is sized on it."""
    return cost_of(reward_ceiling(project), project.fee_bps)


def answer_spend(project, *where) -> tuple[int, int, int, int]:
    """Submitted (not rejected) answers of a project, approved and pending, and their rewards and fees in cents,
    each at the reward its lease was given (a team's or an experiment arm's, else the project's)."""
    reward = func.coalesce(Assignment.reward_cents, project.reward_cents)
    rows = db.session.execute(
        select(reward, func.count(Assignment.approved_at), func.count() - func.count(Assignment.approved_at))
        .where(Assignment.project_id == project.id, Assignment.status == SUBMITTED, *where).group_by(reward)).all()
    approved = sum(int(a) for _, a, _ in rows)
    pending = sum(int(p) for _, _, p in rows)
    rewards = sum(int(r) * (int(a) + int(p)) for r, a, p in rows)
    fees = sum(fee_cents(int(r), project.fee_bps) * (int(a) + int(p)) for r, a, p in rows)
    return approved, pending, rewards, fees


def escrow_account(project) -> int:
    """The project's escrow ledger account (created on first use)."""
    return ledger.account(PROJECT_ESCROW, project.id, project.currency)


def worst_case_answers(project) -> int:
    """Every answer the project may still lease: free slots up to their cap, plus a gold allowance."""
    adaptive = project.target_confidence is not None
    cap = project.max_answers if adaptive else Task.slot_limit
    # Slots taken by live leases are already reserved on the escrow; answered ones are paid for.
    remaining = greatest(cap - Task.slots_taken, 0)
    statuses = (TASK_OPEN, "closed") if adaptive else (TASK_OPEN,)  # an adaptive task may be reopened
    ordinary = int(db.session.scalar(
        select(func.coalesce(func.sum(case((Task.status.in_(statuses), remaining), else_=0)), 0))
        .where(Task.project_id == project.id)
    ))
    gold = 0
    if project.gold_count and project.gold_rate > 0:
        gold = math.ceil(ordinary * project.gold_rate / (1 - min(project.gold_rate, 0.99)))
    return ordinary + gold


def _next_key(project, purpose: str) -> str:
    """The next sequence-numbered key of an escrow movement; the project's row lock keeps it unique."""
    db.session.execute(select(Project.id).where(Project.id == project.id).with_for_update(key_share=True))
    count = db.session.scalar(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.reference_type == "project", LedgerTransaction.reference_id == project.id,
        LedgerTransaction.kind == purpose))
    return f"{purpose}-{project.id}-{count + 1}"


def top_up(*, project, amount_cents: int | None, now: datetime, key: str | None = None,
           details: dict | None = None) -> int:
    """Move money from the requester's available balance to the project's escrow; None: to the worst case.

    Returns the cents moved (0 when the escrow already covers the worst case). The caller holds the
    project's row lock, so the sequence number in the idempotency key is stable.
    """
    escrow = escrow_account(project)
    if amount_cents is None:
        free = ledger.spare_cents(ledger.locked([escrow])[escrow])
        amount_cents = max(worst_case_answers(project) * answer_cost(project) - free, 0)
    if amount_cents == 0 and key is None:
        return 0
    source = ledger.account(REQUESTER_AVAILABLE, project.requester_id, project.currency)
    # With a client's key even "nothing to move" is recorded, so a replay cannot move money later.
    ledger.post(key=key or _next_key(project, "escrow"), kind="escrow", reference=("project", project.id),
                moves=[ledger.Move(source, escrow, amount_cents)], now=now, details=details,
                memo=f"escrow for project {project.id}")
    return amount_cents


def moved_by(key: str) -> tuple[int, dict] | None:
    """How much a posted escrow movement moved, and its details (None: nothing was posted under this key)."""
    txn = ledger.posted(key)
    if txn is None:
        return None
    return int(db.session.scalar(select(func.sum(LedgerEntry.amount_cents)).where(
        LedgerEntry.transaction_id == txn.id, LedgerEntry.amount_cents > 0)) or 0), txn.details or {}


def release(*, project, now: datetime) -> int:
    """Return the escrow's free money (beyond reservations) to the requester; returns the cents moved."""
    existing = ledger.find_account(PROJECT_ESCROW, project.id, project.currency)
    if existing is None:
        return 0
    free = ledger.spare_cents(ledger.locked([existing.id])[existing.id])
    if free <= 0:
        return 0
    target = ledger.account(REQUESTER_AVAILABLE, project.requester_id, project.currency)
    ledger.post(key=_next_key(project, "escrow_release"), kind="escrow_release", reference=("project", project.id),
                moves=[ledger.Move(existing.id, target, free)], now=now, memo=f"escrow released, project {project.id}")
    return free


def state(project) -> dict:
    """The escrow's balance, what is reserved on it and what is free."""
    return states([project])[project.id]


def states(projects) -> dict[int, dict]:
    """state() of several projects, their escrow accounts read in one query (a page of GET /projects)."""
    ids = [p.id for p in projects]
    accounts = {(a.owner_id, a.currency): a for a in db.session.scalars(select(LedgerAccount).where(
        LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id.in_(ids)))} if ids else {}
    found = {}
    for project in projects:
        existing = accounts.get((project.id, project.currency.lower()))
        balance, held = (existing.balance_cents, existing.held_cents) if existing else (0, 0)
        found[project.id] = {"escrow_cents": balance, "escrow_held_cents": held, "escrow_free_cents": balance - held,
                             "answer_cost_cents": answer_cost(project), "fee_bps": project.fee_bps}
    return found


def free_cents(*, project_id: int) -> int | None:
    """What is free on a project's escrow right now (None: it has none)."""
    project = db.session.get(Project, project_id)
    existing = ledger.find_account(PROJECT_ESCROW, project_id, project.currency)
    if existing is None:
        return None
    db.session.refresh(existing)
    return existing.balance_cents - existing.held_cents


class OutOfFunds(Conflict):
    """The project cannot pay for more work right now."""

    code = "insufficient_escrow"


def release_lease_holds(*, project_id: int, rewards: list[int | None]) -> None:
    """Give back the reservations of leases that ended without an answer (each lease's reward; None: the project's)."""
    if not rewards:
        return
    project = db.session.get(Project, project_id)
    existing = ledger.find_account(PROJECT_ESCROW, project_id, project.currency)
    if existing is not None:
        cents = sum(cost_of(project.reward_cents if r is None else r, project.fee_bps) for r in rewards)
        ledger.change_hold(account_id=existing.id, cents=-cents)


def expected_hold(project) -> int:
    """What a project's escrow should hold: live leases' cost and pending answers' fees."""
    reward = func.coalesce(Assignment.reward_cents, project.reward_cents)
    live = db.session.execute(select(reward, func.count()).where(
        Assignment.project_id == project.id, Assignment.status == LEASED).group_by(reward)).all()
    pending = db.session.execute(select(reward, func.count()).where(
        Assignment.project_id == project.id, Assignment.status.in_(PENDING_STATES),
        Assignment.approved_at.is_(None), Assignment.rejected_at.is_(None)).group_by(reward)).all()
    return (sum(n * cost_of(r, project.fee_bps) for r, n in live)
            + sum(n * fee_cents(r, project.fee_bps) for r, n in pending))


def check_holds() -> list[dict]:
    """Compare every escrow's reservation with what its leases and pending answers need; correct drift.

    Holding the escrow's row lock while counting is exact: a lease or submission that has not
    committed yet changes the reservation only after this transaction, by its own amount. Any
    difference found is a bug somewhere, so it is logged loudly and returned.
    """
    found = []
    escrows = db.session.execute(select(LedgerAccount.id, LedgerAccount.owner_id, LedgerAccount.held_cents).where(
        LedgerAccount.kind == PROJECT_ESCROW).order_by(LedgerAccount.id)).all()
    for account_id, project_id, held in escrows:
        project = db.session.get(Project, project_id)
        if held == expected_hold(project):
            continue  # read without a lock: only a difference is worth the escrow's lock (it stalls leases)
        row = ledger.locked([account_id])[account_id]
        expected = expected_hold(project)
        if row.held_cents != expected:
            found.append({"project_id": project_id, "held_cents": row.held_cents, "expected_cents": expected})
            ledger.correct_hold(account_id=account_id, cents=expected)
    if found:
        logging.getLogger(__name__).error("escrow reservations drifted and were corrected: %s", found)
    return found
