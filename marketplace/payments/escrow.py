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

The escrow is split over ESCROW_LANES ledger accounts (lanes) so that a project's leases and answers
do not all wait for one row's lock through their commits. A top-up spreads its money over the lanes
in whole answers; a lease reserves on its annotator's lane (lane_of) or, when that one is short, on
the lane with the most free, and records the lane on the assignment; the answer's payment, its fee,
a rejection's refund and an ended lease's reservation all go to that lane. When no lane alone can
pay for an answer but the lanes together can, pool_lanes gathers their free money on one lane. What
the escrow holds, reserves and has free is the sum over its lanes.
"""
import logging
import math
from datetime import datetime

from sqlalchemy import case, func, select

from marketplace.assignments import store as assignment_store
from marketplace.assignments.models import LEASED, SUBMITTED, Assignment
from marketplace.db import greatest
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import (ESCROW_LANES, PROJECT_ESCROW, REQUESTER_AVAILABLE, LedgerAccount,
                                       LedgerEntry, LedgerTransaction)
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


def lane_of(annotator_id: int) -> int:
    """The escrow lane an annotator's leases reserve on when it has enough free."""
    return annotator_id % ESCROW_LANES


def _lane_rows(project_id: int, currency: str):
    """(lane, account id) of a project's existing escrow lanes, in lane order."""
    return db.session.execute(select(LedgerAccount.lane, LedgerAccount.id).where(
        LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id == project_id,
        LedgerAccount.currency == currency.lower()).order_by(LedgerAccount.lane)).all()


def escrow_lanes(project) -> list[int]:
    """The account ids of the project's escrow lanes, in lane order (created on first use)."""
    found = dict(_lane_rows(project.id, project.currency))
    return [found.get(lane) or ledger.account(PROJECT_ESCROW, project.id, project.currency, lane)
            for lane in range(ESCROW_LANES)]


def lock_lanes(*, project_id: int, currency: str) -> None:
    """Lock every lane of a project's escrow at once, in id order, before a transaction touches more than one.

    A transaction that locked some lanes and later wants others could wait for a lane another holds
    while that one waits for its own (a close giving back live leases' holds, then releasing the
    rest). Taking them all first keeps the one lock order (ledger.services.locked).
    """
    ledger.locked([account_id for _, account_id in _lane_rows(project_id, currency)])


def lock_pending_lanes(*, project_id: int, currency: str, annotator_id: int) -> None:
    """Lock, in id order, the escrow lanes an annotator's answers awaiting a decision are reserved on: every
    lane a rule's rejection of them touches (usually the annotator's own lane alone, where leases go first)."""
    pending = select(Assignment.escrow_lane).where(assignment_store.awaiting_decision(project_id),
                                                   Assignment.annotator_id == annotator_id)
    db.session.execute(select(LedgerAccount.id).where(
        LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id == project_id,
        LedgerAccount.currency == currency.lower(), LedgerAccount.lane.in_(pending))
        .order_by(LedgerAccount.id).with_for_update())


def split(amount_cents: int, unit_cents: int) -> list[int]:
    """An amount over the lanes in whole units (one answer's cost), evenly; the leftover cents on lane 0."""
    units = amount_cents // unit_cents if unit_cents > 0 else 0
    shares = [(units // ESCROW_LANES + (lane < units % ESCROW_LANES)) * unit_cents for lane in range(ESCROW_LANES)]
    shares[0] += amount_cents - sum(shares)
    return shares


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

    Returns the cents moved (0 when the escrow already covers the worst case), spread over the lanes
    (split). The caller holds the project's row lock, so the sequence number in the idempotency key is stable.
    """
    lanes = escrow_lanes(project)
    if amount_cents is None:
        free = sum(ledger.spare_cents(row) for row in ledger.locked(lanes).values())
        amount_cents = max(worst_case_answers(project) * answer_cost(project) - free, 0)
    if amount_cents == 0 and key is None:
        return 0
    source = ledger.account(REQUESTER_AVAILABLE, project.requester_id, project.currency)
    # With a client's key even "nothing to move" is recorded, so a replay cannot move money later.
    moves = [ledger.Move(source, lane, cents) for lane, cents in zip(lanes, split(amount_cents, answer_cost(project)))]
    ledger.post(key=key or _next_key(project, "escrow"), kind="escrow", reference=("project", project.id),
                moves=moves, now=now, details=details, memo=f"escrow for project {project.id}")
    return amount_cents


def moved_by(key: str) -> tuple[int, dict] | None:
    """How much a posted escrow movement moved, and its details (None: nothing was posted under this key)."""
    txn = ledger.posted(key)
    if txn is None:
        return None
    return int(db.session.scalar(select(func.sum(LedgerEntry.amount_cents)).where(
        LedgerEntry.transaction_id == txn.id, LedgerEntry.amount_cents > 0)) or 0), txn.details or {}


def release(*, project, now: datetime) -> int:
    """Return the escrow's free money (beyond reservations, on every lane) to the requester; returns the cents moved."""
    lanes = [account_id for _, account_id in _lane_rows(project.id, project.currency)]
    if not lanes:
        return 0
    free = {a: ledger.spare_cents(row) for a, row in ledger.locked(lanes).items()}
    moved = sum(cents for cents in free.values() if cents > 0)
    if moved == 0:
        return 0
    target = ledger.account(REQUESTER_AVAILABLE, project.requester_id, project.currency)
    ledger.post(key=_next_key(project, "escrow_release"), kind="escrow_release", reference=("project", project.id),
                moves=[ledger.Move(a, target, cents) for a, cents in sorted(free.items()) if cents > 0], now=now,
                memo=f"escrow released, project {project.id}")
    return moved


def pool_lanes(*, project_id: int, now: datetime) -> int:
    """Gather the free money of a project's escrow lanes on its richest lane; returns the cents moved.

    For a lease that no lane alone can pay for while the lanes together can (answers of different
    costs, rejections, top-ups' leftover cents leave lanes with less than one answer each). Every
    lane is locked, in id order as everywhere, before the sequence number of the key is read: every
    pooling of the project takes all its lanes, so no other can take the same number. (Not the
    project row: the lease that pools holds a task row, which holders of the project row may wait for.)
    """
    project = db.session.get(Project, project_id)
    lanes = [account_id for _, account_id in _lane_rows(project_id, project.currency)]
    free = {a: ledger.spare_cents(row) for a, row in ledger.locked(lanes).items()}
    if not free:
        return 0
    richest = max(free, key=lambda a: (free[a], -a))
    moves = [ledger.Move(a, richest, cents) for a, cents in sorted(free.items()) if a != richest and cents > 0]
    if not moves:
        return 0
    pooled = db.session.scalar(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.reference_type == "project", LedgerTransaction.reference_id == project_id,
        LedgerTransaction.kind == "escrow_pool"))
    posted = ledger.post(key=f"escrow_pool-{project_id}-{pooled + 1}", kind="escrow_pool",
                         reference=("project", project_id), moves=moves, now=now,
                         memo=f"escrow lanes pooled, project {project_id}")
    return 0 if posted is None else sum(m.amount_cents for m in moves)


def state(project) -> dict:
    """The escrow's balance, what is reserved on it and what is free (summed over its lanes)."""
    return states([project])[project.id]


def states(projects) -> dict[int, dict]:
    """state() of several projects, their escrow lanes read in one query (a page of GET /projects)."""
    ids = [p.id for p in projects]
    sums = {(owner, currency): (int(balance), int(held)) for owner, currency, balance, held in db.session.execute(
        select(LedgerAccount.owner_id, LedgerAccount.currency, func.sum(LedgerAccount.balance_cents),
               func.sum(LedgerAccount.held_cents))
        .where(LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id.in_(ids))
        .group_by(LedgerAccount.owner_id, LedgerAccount.currency))} if ids else {}
    found = {}
    for project in projects:
        balance, held = sums.get((project.id, project.currency.lower()), (0, 0))
        found[project.id] = {"escrow_cents": balance, "escrow_held_cents": held, "escrow_free_cents": balance - held,
                             "answer_cost_cents": answer_cost(project), "fee_bps": project.fee_bps}
    return found


def lane_frees(*, project_id: int) -> list[int]:
    """What is free on each lane of a project's escrow right now (empty: it has none)."""
    project = db.session.get(Project, project_id)
    return [int(cents) for cents in db.session.scalars(
        select(LedgerAccount.balance_cents - LedgerAccount.held_cents)
        .where(LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id == project_id,
               LedgerAccount.currency == project.currency.lower()))]


def free_cents(*, project_id: int) -> int | None:
    """What is free on a project's escrow right now, over all its lanes (None: it has none)."""
    frees = lane_frees(project_id=project_id)
    return sum(frees) if frees else None


class OutOfFunds(Conflict):
    """The project cannot pay for more work right now."""

    code = "insufficient_escrow"


def release_lease_holds(*, project_id: int, leases: list[tuple[int | None, int]]) -> None:
    """Give back the reservations of leases that ended without an answer: each lease's (reward, escrow lane),
    the reward None for the project's."""
    if not leases:
        return
    project = db.session.get(Project, project_id)
    per_lane: dict[int, int] = {}
    for reward, lane in leases:
        per_lane[lane] = per_lane.get(lane, 0) + cost_of(project.reward_cents if reward is None else reward,
                                                         project.fee_bps)
    accounts = dict(_lane_rows(project_id, project.currency))
    for account_id, cents in sorted((accounts[lane], cents) for lane, cents in per_lane.items() if lane in accounts):
        ledger.change_hold(account_id=account_id, cents=-cents)


def expected_holds(project) -> dict[int, int]:
    """What each lane of a project's escrow should hold (lane -> cents; lanes holding nothing left out):
    its live leases' cost and its pending answers' fees."""
    reward = func.coalesce(Assignment.reward_cents, project.reward_cents)
    live = Assignment.status == LEASED
    found: dict[int, int] = {}
    for lane, r, is_live, n in db.session.execute(
            select(Assignment.escrow_lane, reward, live, func.count())
            .where(Assignment.project_id == project.id, live | assignment_store.awaiting_decision(project.id))
            .group_by(Assignment.escrow_lane, reward, live)):
        found[lane] = found.get(lane, 0) + n * (cost_of(r, project.fee_bps) if is_live else fee_cents(r, project.fee_bps))
    return found


def check_holds() -> list[dict]:
    """Compare every escrow lane's reservation with what its leases and pending answers need; correct drift.

    Holding the lane's row lock while counting is exact: a lease or submission that has not
    committed yet changes the reservation only after this transaction, by its own amount. Any
    difference found is a bug somewhere, so it is logged loudly and returned.
    """
    found = []
    escrows = db.session.execute(select(LedgerAccount.id, LedgerAccount.owner_id, LedgerAccount.lane,
                                        LedgerAccount.held_cents)
                                 .where(LedgerAccount.kind == PROJECT_ESCROW).order_by(LedgerAccount.id)).all()
    expected_of: dict[int, dict[int, int]] = {}
    for account_id, project_id, lane, held in escrows:
        project = db.session.get(Project, project_id)
        if project_id not in expected_of:
            expected_of[project_id] = expected_holds(project)
        if held == expected_of[project_id].get(lane, 0):
            continue  # read without a lock: only a difference is worth the lane's lock (it stalls leases)
        row = ledger.locked([account_id])[account_id]
        expected = expected_holds(project).get(lane, 0)
        if row.held_cents != expected:
            found.append({"project_id": project_id, "lane": lane, "held_cents": row.held_cents,
                          "expected_cents": expected})
            ledger.correct_hold(account_id=account_id, cents=expected)
    if found:
        logging.getLogger(__name__).error("escrow reservations drifted and were corrected: %s", found)
    return found
