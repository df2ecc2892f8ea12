"""Results: the inferred truth of a closed task."""
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, Json, UTCDateTime, utcnow
from marketplace.extensions import db


class Result(db.Model):
    __tablename__ = "results"
    __table_args__ = (Index("ix_results_project_task", "project_id", "task_id"),)

    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    label: Mapped[dict] = mapped_column(Json)
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(32))
    answer_count: Mapped[int] = mapped_column(Integer)
    tie: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
