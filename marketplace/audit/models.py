"""The audit log of admin actions: who did what to which object, when and why. Append-only."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime, utcnow
from marketplace.extensions import db


class AdminAction(IdMixin, db.Model):
    __tablename__ = "admin_actions"
    __table_args__ = (Index("ix_admin_actions_target", "target_type", "target_id"),)

    admin_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    action: Mapped[str] = mapped_column(String(48))
    target_type: Mapped[str] = mapped_column(String(24))
    target_id: Mapped[int] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
