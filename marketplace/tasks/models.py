"""Tasks: the items to label inside a project."""
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime, utcnow
from marketplace.extensions import db

OPEN = "open"
CLOSED = "closed"
# At the policy's max_answers without reaching the target confidence: closed to the crowd, to review.
ESCALATED = "escalated"
# Gold tasks have a known answer, are mixed into live work as honeypots, and never close.
GOLD = "gold"
STATUSES = (OPEN, CLOSED, ESCALATED, GOLD)


class Task(IdMixin, db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_tasks_project_external_id"),
        # The lease scan walks open tasks of one project in id order; gold is looked up the same way.
        Index("ix_tasks_project_status_id", "project_id", "status", "id"),
        # Active ordering walks open tasks most uncertain first.
        Index("ix_tasks_uncertain", "project_id", text("uncertainty DESC NULLS LAST"), "id",
              postgresql_where=text("status = 'open'")).ddl_if(dialect="postgresql"),
    )

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    # Live leases plus submitted answers: a task never has more than slot_limit of them. slot_limit is
    # the project's redundancy, or, under the redundancy policy, grows one at a time up to max_answers.
    slots_taken: Mapped[int] = mapped_column(Integer, default=0)
    slot_limit: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    answer_count: Mapped[int] = mapped_column(Integer, default=0)
    # Annotators who skipped the task (a hard or broken item shows up here first).
    skip_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Visible to the project's requester only; never in an annotator-facing response before submission.
    gold_answer: Mapped[dict | None] = mapped_column(Json)
    gold_explanation: Mapped[str | None] = mapped_column(Text)
    # A model's class probabilities (in the schema's class order) and its version; uncertainty is
    # 1 - the top probability of the task's current posterior or, before any answer, of the prediction.
    prediction: Mapped[list | None] = mapped_column(Json)
    model_version: Mapped[str | None] = mapped_column(String(64))
    uncertainty: Mapped[float | None] = mapped_column(Float)
    # A reviewer's note when returning the task for rework; shown with the task to the next annotators.
    rework_note: Mapped[str | None] = mapped_column(Text)
    # The experiment arm this task is in, when the project's running experiment assigns tasks to arms.
    arm_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
