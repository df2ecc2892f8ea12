"""Payment rows: fundings, Stripe events, refunds, payout accounts and payouts, reconciliation reports."""
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, TimestampMixin, UTCDateTime, utcnow
from marketplace.extensions import db

# Funding and refund states.
CREATED = "created"
SUCCEEDED = "succeeded"
FAILED = "failed"
PENDING = "pending"
# Payout states: pending -> paid | failed (-> pending again on an admin retry); not_sent in ledger-only mode.
PAID = "paid"
NOT_SENT = "not_sent"
PAYOUT_STATUSES = (PENDING, PAID, FAILED, NOT_SENT)


class Funding(IdMixin, TimestampMixin, db.Model):
    """A requester adding money through a Stripe PaymentIntent."""

    __tablename__ = "fundings"
    __table_args__ = (UniqueConstraint("requester_id", "idempotency_key", name="uq_fundings_requester_key"),)

    requester_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=CREATED)
    payment_intent_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The charge that paid it: Stripe's balance transaction names the charge, not the intent.
    charge_id: Mapped[str | None] = mapped_column(String(64))
    client_secret: Mapped[str | None] = mapped_column(String(255))
    # Ledger-only mode: no Stripe, the funding is simulated (development only) and says so.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    failure_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))


class StripeEvent(IdMixin, db.Model):
    """A verified Stripe webhook event, stored once (its Stripe id is unique) and applied by a job."""

    __tablename__ = "stripe_events"

    stripe_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(Json)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[str | None] = mapped_column(Text)


class Refund(IdMixin, TimestampMixin, db.Model):
    """Money given back to a requester from their available balance (an admin action)."""

    __tablename__ = "refunds"

    requester_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    funding_id: Mapped[int] = mapped_column(BigId, ForeignKey("fundings.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    reason: Mapped[str] = mapped_column(Text)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    failure_message: Mapped[str | None] = mapped_column(Text)
    # The admin who asked for it; None: made at Stripe outside the API and booked from its webhook.
    admin_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))


class PayoutAccount(IdMixin, TimestampMixin, db.Model):
    """An annotator's Stripe Connect account, kept current from account.updated events."""

    __tablename__ = "payout_accounts"

    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), unique=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    payouts_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    details_submitted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Payout(IdMixin, TimestampMixin, db.Model):
    """One transfer of an annotator's available balance to their payout account."""

    __tablename__ = "payouts"
    __table_args__ = (Index("ix_payouts_status", "status", "id"),)

    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    transfer_group: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str | None] = mapped_column(String(64))
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # Admin retries after a failure; each uses a fresh Stripe idempotency key (payout-<id>-retry-<n>).
    retries: Mapped[int] = mapped_column(default=0, server_default="0")
    failure_message: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReconciliationReport(IdMixin, db.Model):
    """What a comparison of our ledger with Stripe's balance transactions found."""

    __tablename__ = "reconciliation_reports"

    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    matched: Mapped[int] = mapped_column(default=0)
    differences: Mapped[list] = mapped_column(Json, default=list)
    summary: Mapped[dict] = mapped_column(Json, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
