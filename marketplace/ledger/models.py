"""Ledger tables: accounts with a cached balance, append-only transactions and their entries.

An entry's `amount_cents` is signed: positive is a debit, negative a credit, so the entries of every
transaction sum to zero (a deferred constraint trigger on PostgreSQL refuses a commit where they do
not) and the whole book sums to zero. `balance_cents` on an account is its balance on its normal
side: debits minus credits for the assets (cash at Stripe, what requesters owe), credits minus debits
for everything else (what the platform owes requesters, annotators, itself). `held_cents` is escrow spoken for by
live leases and unapproved answers' fees: a reservation, not a movement, so it has no entries.

A project's escrow is split over lanes (`lane` 0 to ESCROW_LANES - 1, one account each; every other
kind has lane 0 only): each lease reserves on one lane and its answer is paid from that lane, so the
project's leases and answers do not all queue for one row's lock (payments/escrow.py).
"""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime, utcnow
from marketplace.extensions import db

# Account kinds (DESIGN.md §8). Platform accounts have owner_id 0.
CURRENCIES = ("usd", "eur", "gbp")  # what accounts, fundings and projects may be kept in
STRIPE_CASH = "stripe_cash"
REQUESTER_AVAILABLE = "requester_available"
PROJECT_ESCROW = "project_escrow"
ANNOTATOR_PENDING = "annotator_pending"
ANNOTATOR_AVAILABLE = "annotator_available"
PLATFORM_FEES = "platform_fees"
REFUNDS = "refunds"
# What a requester owes the platform: money it advanced (an overturned dispute the requester's
# escrow and balance could not pay), settled from their next funding.
REQUESTER_RECEIVABLE = "requester_receivable"
KINDS = (STRIPE_CASH, REQUESTER_AVAILABLE, PROJECT_ESCROW, ANNOTATOR_PENDING, ANNOTATOR_AVAILABLE, PLATFORM_FEES,
         REFUNDS, REQUESTER_RECEIVABLE)
DEBIT_NORMAL = frozenset({STRIPE_CASH, REQUESTER_RECEIVABLE})
# Balances that must never go negative; checked under a row lock before anything is written.
PROTECTED = frozenset({REQUESTER_AVAILABLE, PROJECT_ESCROW, ANNOTATOR_PENDING, ANNOTATOR_AVAILABLE, REFUNDS})
PLATFORM_OWNER = 0
# How many accounts a project's escrow is split over. A lease or an answer locks its lane's row until
# its commit (the WAL flush included), so one row caps a project at one commit at a time; eight lanes
# let eight of a project's writers commit at once, beyond the 2-4 gunicorn workers per core a
# deployment runs, while a top-up still splits a few answers' cost over few enough rows.
ESCROW_LANES = 8


class LedgerAccount(IdMixin, db.Model):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("kind", "owner_id", "currency", "lane", name="uq_ledger_accounts_kind_owner_currency_lane"),
        CheckConstraint(
            "balance_cents >= 0 OR kind NOT IN ('requester_available', 'project_escrow', 'annotator_pending', "
            "'annotator_available', 'refunds')", name="ck_ledger_accounts_protected_not_negative"),
        CheckConstraint("held_cents >= 0", name="ck_ledger_accounts_held_not_negative"),
    )

    kind: Mapped[str] = mapped_column(String(24))
    # An account id (requester, annotator), a project id (escrow) or 0 (platform).
    owner_id: Mapped[int] = mapped_column(BigId)
    currency: Mapped[str] = mapped_column(String(3))
    lane: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # a project escrow's part
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    held_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTransaction(IdMixin, db.Model):
    """One money movement: what caused it, its idempotency key, and (through entries) where money went."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_transactions_reference", "reference_type", "reference_id"),)

    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # What caused it: funding, project, assignment, approval, bonus, payout, dispute, refund.
    reference_type: Mapped[str] = mapped_column(String(24))
    reference_id: Mapped[int] = mapped_column(BigId)
    # The Stripe object behind a cash movement (PaymentIntent, refund, transfer), for reconciliation.
    external_id: Mapped[str | None] = mapped_column(String(64))
    memo: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerEntry(IdMixin, db.Model):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_account_created", "account_id", "created_at"),
        CheckConstraint("amount_cents <> 0", name="ck_ledger_entries_not_zero"),
    )

    transaction_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_accounts.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)  # + debit, - credit
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
