"""Reading the ledger: trial balance, balances at any past time, an account's statement."""
from datetime import datetime

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.ledger.models import (ANNOTATOR_AVAILABLE, ANNOTATOR_PENDING, DEBIT_NORMAL, REQUESTER_AVAILABLE,
                                       LedgerAccount, LedgerEntry, LedgerTransaction)


def _sums(as_of: datetime | None, currency: str | None):
    query = (
        select(LedgerEntry.account_id,
               func.coalesce(func.sum(LedgerEntry.amount_cents).filter(LedgerEntry.amount_cents > 0), 0).label("debits"),
               func.coalesce(-func.sum(LedgerEntry.amount_cents).filter(LedgerEntry.amount_cents < 0), 0).label("credits"))
        .group_by(LedgerEntry.account_id)
    )
    if as_of is not None:
        query = query.where(LedgerEntry.created_at <= as_of)
    if currency is not None:
        query = query.where(LedgerEntry.currency == currency.lower())
    return {row.account_id: (int(row.debits), int(row.credits)) for row in db.session.execute(query)}


def natural(kind: str, debits: int, credits: int) -> int:
    """An account's balance on its normal side from its debits and credits."""
    return debits - credits if kind in DEBIT_NORMAL else credits - debits


def trial_balance(*, as_of: datetime | None = None, currency: str | None = None) -> dict:
    """Debits, credits and balance per account kind and currency; the book must balance.

    Without `as_of` it also compares every account's cached balance with the sum of its entries
    (`mismatches` lists any that differ: there should never be one).
    """
    sums = _sums(as_of, currency)
    accounts = db.session.scalars(select(LedgerAccount).order_by(LedgerAccount.id)).all()
    rows: dict[tuple[str, str], dict] = {}
    mismatches = []
    for acc in accounts:
        if currency is not None and acc.currency != currency.lower():
            continue
        debits, credits = sums.get(acc.id, (0, 0))
        row = rows.setdefault((acc.kind, acc.currency), {"kind": acc.kind, "currency": acc.currency, "accounts": 0,
                                                         "debits_cents": 0, "credits_cents": 0, "balance_cents": 0})
        row["accounts"] += 1
        row["debits_cents"] += debits
        row["credits_cents"] += credits
        row["balance_cents"] += natural(acc.kind, debits, credits)
        if as_of is None and natural(acc.kind, debits, credits) != acc.balance_cents:
            mismatches.append({"account_id": acc.id, "kind": acc.kind, "cached_cents": acc.balance_cents,
                               "entries_cents": natural(acc.kind, debits, credits)})
    lines = sorted(rows.values(), key=lambda r: (r["currency"], r["kind"]))
    total_debits = sum(r["debits_cents"] for r in lines)
    total_credits = sum(r["credits_cents"] for r in lines)
    unbalanced = db.session.execute(
        select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_cents) != 0).limit(20)
    ).scalars().all()
    return {"as_of": as_of, "lines": lines, "debits_cents": total_debits, "credits_cents": total_credits,
            "balanced": total_debits == total_credits and not unbalanced and not mismatches,
            "unbalanced_transactions": list(unbalanced), "mismatches": mismatches}


def balance_of(account_id: int, *, as_of: datetime | None = None) -> int:
    """An account's balance (normal side), now or at a past time, from its entries."""
    acc = db.session.get(LedgerAccount, account_id)
    query = select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(LedgerEntry.account_id == account_id)
    if as_of is not None:
        query = query.where(LedgerEntry.created_at <= as_of)
    signed = int(db.session.scalar(query))
    return signed if acc.kind in DEBIT_NORMAL else -signed


def statement(*, account_ids: list[int], cursor: int | None, limit: int) -> list[dict]:
    """The entries of some accounts, newest first, with what caused each."""
    if not account_ids:
        return []
    query = (
        select(LedgerEntry, LedgerTransaction, LedgerAccount.kind)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.account_id.in_(account_ids))
        .order_by(LedgerEntry.id.desc()).limit(limit + 1)
    )
    if cursor:
        query = query.where(LedgerEntry.id < cursor)
    return [
        {"id": entry.id, "account": kind, "amount_cents": natural(kind, max(entry.amount_cents, 0),
                                                                  max(-entry.amount_cents, 0)),
         "currency": entry.currency, "kind": txn.kind, "reference_type": txn.reference_type,
         "reference_id": txn.reference_id, "memo": txn.memo, "created_at": entry.created_at}
        for entry, txn, kind in db.session.execute(query)
    ]


# The ledger accounts an account may read as its own, by role.
_OWN_KINDS = {"requester": (REQUESTER_AVAILABLE,), "annotator": (ANNOTATOR_PENDING, ANNOTATOR_AVAILABLE)}


def own_accounts(*, account) -> list[LedgerAccount]:
    """The ledger accounts that hold an account's own money (nobody else's)."""
    return list(db.session.scalars(select(LedgerAccount).where(
        LedgerAccount.owner_id == account.id, LedgerAccount.kind.in_(_OWN_KINDS.get(account.role, ())))))


def own_balances(*, account) -> list[dict]:
    """An account's balances per currency (annotators: pending approval and available)."""
    lines: dict[str, dict] = {}
    annotator = account.role == "annotator"
    for acc in own_accounts(account=account):
        line = lines.setdefault(acc.currency, {"currency": acc.currency, "available_cents": 0,
                                               "pending_cents": 0 if annotator else None})
        line["pending_cents" if acc.kind == ANNOTATOR_PENDING else "available_cents"] = acc.balance_cents
    return sorted(lines.values(), key=lambda line: line["currency"])
