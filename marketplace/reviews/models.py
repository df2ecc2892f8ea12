"""Reviews: an escalated (or requester-sent) task decided, or returned for rework, by a reviewer."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime
from marketplace.extensions import db

LEASED = "leased"
DECIDED = "decided"
RETURNED = "returned"
STATUSES = (LEASED, DECIDED, RETURNED)


class Review(IdMixin, db.Model):
    __tablename__ = "reviews"
    __table_args__ = (
        Index("ix_reviews_task_live", "task_id", postgresql_where=text("status = 'leased'"),
              sqlite_where=text("status = 'leased'")),
        Index("ix_reviews_reviewer", "reviewer_id", "id"),
        Index("ix_reviews_project_status", "project_id", "status"),
    )

    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    reviewer_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(16), default=LEASED)
    leased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    label: Mapped[dict | None] = mapped_column(Json)
    note: Mapped[str | None] = mapped_column(Text)
    # Set by the project recompute: did the decision match the truth inferred from the crowd's answers?
    agrees_with_truth: Mapped[bool | None] = mapped_column(Boolean)
