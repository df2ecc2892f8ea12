"""A dispute of one rejected answer, with the evidence attached when it was opened."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime, utcnow
from marketplace.extensions import db

OPEN = "open"
UPHELD = "upheld"
OVERTURNED = "overturned"
STATUSES = (OPEN, UPHELD, OVERTURNED)


class Dispute(IdMixin, db.Model):
    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_status_id", "status", "id"),)

    assignment_id: Mapped[int] = mapped_column(BigId, ForeignKey("assignments.id"), unique=True)
    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict] = mapped_column(Json)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
