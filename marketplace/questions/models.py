"""Questions annotators ask about tasks, and the requester's answers."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, UTCDateTime, utcnow
from marketplace.extensions import db


class TaskQuestion(IdMixin, db.Model):
    """One question, asked from an assignment (so about a task the annotator was given), and its answer."""

    __tablename__ = "task_questions"
    __table_args__ = (Index("ix_task_questions_project_id", "project_id", "id"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"))
    assignment_id: Mapped[int] = mapped_column(BigId, ForeignKey("assignments.id"))
    asked_by: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The guideline version the question and its answer went into, when the requester promoted them.
    promoted_version: Mapped[int | None] = mapped_column(Integer)
