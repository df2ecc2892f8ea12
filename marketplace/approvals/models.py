"""Approvals' table: bonuses (a requester's extra payment for an answer; approvals/bonuses.py pays them)."""
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, UTCDateTime, utcnow
from marketplace.extensions import db


class Bonus(IdMixin, db.Model):
    """A requester's extra payment to an annotator for an answer, with a reason."""

    __tablename__ = "bonuses"
    __table_args__ = (UniqueConstraint("requester_id", "idempotency_key", name="uq_bonuses_requester_key"),)

    requester_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(BigId, ForeignKey("assignments.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    fee_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
