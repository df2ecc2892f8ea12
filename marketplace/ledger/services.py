"""Posting to the ledger: balanced, idempotent, checked under row locks in the caller's transaction.

A movement "A -> B" (DESIGN.md §8) debits A and credits B. `post` locks every account it touches in
id order (so two postings never deadlock), records the transaction under its unique idempotency key
(a replay finds the key taken and changes nothing), refuses to take a protected balance below zero
or below what is held on it, and updates the cached balances. It never commits.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from marketplace.db import greatest, upsert
from marketplace.errors import InsufficientFunds
from marketplace.extensions import db
from marketplace.ledger.models import (DEBIT_NORMAL, PLATFORM_OWNER, PROJECT_ESCROW, PROTECTED, LedgerAccount,
                                       LedgerEntry, LedgerTransaction)

# What a protected account is called in an error message.
_NAMES = {
    "requester_available": "your available balance",
    "project_escrow": "the project's escrow",
    "annotator_pending": "the annotator's pending balance",
    "annotator_available": "the available balance",
    "refunds": "refunds in flight",
}


@dataclass(frozen=True)
class Move:
    """Move `amount_cents` from one ledger account to another (debit `source`, credit `target`)."""

    source: int
    target: int
    amount_cents: int


def account(kind: str, owner_id: int | None, currency: str, lane: int = 0) -> int:
    """Return the id of a ledger account, creating it on first use (race-free)."""
    owner = PLATFORM_OWNER if owner_id is None else owner_id
    currency = currency.lower()
    query = select(LedgerAccount.id).where(LedgerAccount.kind == kind, LedgerAccount.owner_id == owner,
                                           LedgerAccount.currency == currency, LedgerAccount.lane == lane)
    found = db.session.scalar(query)
    if found is not None:
        return found
    db.session.execute(upsert(LedgerAccount).values(kind=kind, owner_id=owner, currency=currency, lane=lane,
                                                     balance_cents=0, held_cents=0, created_at=func.now())
                       .on_conflict_do_nothing())
    return db.session.scalar(query)


def find_account(kind: str, owner_id: int | None, currency: str) -> LedgerAccount | None:
    """Return a ledger account (lane 0 of a project's escrow) if it exists (no row is created)."""
    owner = PLATFORM_OWNER if owner_id is None else owner_id
    return db.session.scalar(select(LedgerAccount).where(
        LedgerAccount.kind == kind, LedgerAccount.owner_id == owner, LedgerAccount.currency == currency.lower(),
        LedgerAccount.lane == 0))


def locked(account_ids) -> dict[int, LedgerAccount]:
    """Lock ledger accounts and return them as the database has them now.

    The lock order is the same everywhere: escrow accounts first, by id (a lease locks one lane of
    its project's escrow, a submission that lane then the annotator's pending, pooling every lane),
    then the rest by id, so two postings can never wait for each other in a circle.
    """
    ids = sorted(set(account_ids))
    rows = db.session.scalars(
        select(LedgerAccount).where(LedgerAccount.id.in_(ids))
        .order_by(LedgerAccount.kind != PROJECT_ESCROW, LedgerAccount.id)
        .with_for_update().execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows}


def spare_cents(row: LedgerAccount) -> int:
    """What an account holds beyond what is reserved on it."""
    return row.balance_cents - row.held_cents


def post(*, key: str, kind: str, reference: tuple[str, int], moves: list[Move], now: datetime,
         external_id: str | None = None, memo: str = "", details: dict | None = None,
         holds: dict[int, int] | None = None) -> int | None:
    """Record one balanced movement and return its id; None if this key was already posted (nothing changes).

    `holds` changes what is reserved on accounts in the same step (account id -> change in cents).
    Raises InsufficientFunds when a protected balance would go below zero or below what it holds.
    """
    moves = [m for m in moves if m.amount_cents]
    if any(m.amount_cents < 0 for m in moves):
        raise ValueError("a move's amount must not be negative")
    holds = {k: v for k, v in (holds or {}).items() if v}
    accounts = locked([a for m in moves for a in (m.source, m.target)] + list(holds))
    currencies = {accounts[a].currency for m in moves for a in (m.source, m.target)}
    if len(currencies) > 1:
        raise ValueError(f"one transaction moves one currency, not {sorted(currencies)}")
    txn_id = db.session.scalar(
        upsert(LedgerTransaction).values(
            idempotency_key=key, kind=kind, reference_type=reference[0], reference_id=reference[1],
            external_id=external_id, memo=memo, details=details, created_at=now,
        ).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(LedgerTransaction.id)
    )
    if txn_id is None:
        return None
    signed: dict[int, int] = {}
    for m in moves:
        signed[m.source] = signed.get(m.source, 0) + m.amount_cents
        signed[m.target] = signed.get(m.target, 0) - m.amount_cents
    for account_id in sorted(set(signed) | set(holds)):
        row = accounts[account_id]
        delta = signed.get(account_id, 0) * (1 if row.kind in DEBIT_NORMAL else -1)
        balance, held = row.balance_cents + delta, max(row.held_cents + holds.get(account_id, 0), 0)
        if row.kind in PROTECTED and balance < held and (delta < 0 or holds.get(account_id, 0) > 0):
            raise InsufficientFunds(
                f"Not enough money in {_NAMES.get(row.kind, row.kind)}: {row.balance_cents - row.held_cents} "
                f"{row.currency} cents free, {-delta + holds.get(account_id, 0)} needed.",
                errors={"amount_cents": [f"needs {-delta + holds.get(account_id, 0)}, "
                                         f"{row.balance_cents - row.held_cents} free"]},
            )
        db.session.execute(update(LedgerAccount).where(LedgerAccount.id == account_id)
                           .values(balance_cents=balance, held_cents=held).execution_options(synchronize_session=False))
        set_committed_value(row, "balance_cents", balance)  # what the row now holds, without a second UPDATE
        set_committed_value(row, "held_cents", held)
    entries = [{"transaction_id": txn_id, "account_id": a, "amount_cents": amount, "currency": accounts[a].currency,
                "created_at": now} for a, amount in sorted(signed.items()) if amount]
    if entries:
        db.session.execute(insert(LedgerEntry), entries)
    return txn_id


def change_hold(*, account_id: int, cents: int) -> bool:
    """Reserve (cents > 0, only if that much is free) or release (cents < 0) money on an account."""
    if cents == 0:
        return True
    if cents > 0:
        done = db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account_id, LedgerAccount.balance_cents - LedgerAccount.held_cents >= cents)
            .values(held_cents=LedgerAccount.held_cents + cents).returning(LedgerAccount.id)
        ).first()
        return done is not None
    db.session.execute(update(LedgerAccount).where(LedgerAccount.id == account_id)
                       .values(held_cents=greatest(LedgerAccount.held_cents + cents, 0)))
    return True


def correct_hold(*, account_id: int, cents: int) -> None:
    """Set what is reserved on an account to `cents` (a drift check found it wrong; the caller holds its lock)."""
    db.session.execute(update(LedgerAccount).where(LedgerAccount.id == account_id).values(held_cents=cents))


def posted(key: str) -> LedgerTransaction | None:
    """Return the transaction posted under an idempotency key, if any."""
    return db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))
