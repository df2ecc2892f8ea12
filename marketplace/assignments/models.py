"""Assignments: one annotator's lease on one task, carrying the answer once submitted."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime
from marketplace.extensions import db

LEASED = "leased"
SUBMITTED = "submitted"
EXPIRED = "expired"
RELEASED = "released"
# Given back without an answer because the annotator could not or would not do it (with a reason).
SKIPPED = "skipped"
REJECTED = "rejected"
# Answered under instructions a major guideline version replaced, with the task reopened for new answers.
SUPERSEDED = "superseded"
STATUSES = (LEASED, SUBMITTED, EXPIRED, RELEASED, SKIPPED, REJECTED, SUPERSEDED)
# Answered and awaiting the requester's approval (or rejection): their fee is still reserved on the escrow.
PENDING_STATES = (SUBMITTED, SUPERSEDED)


class Assignment(IdMixin, db.Model):
    __tablename__ = "assignments"
    __table_args__ = (
        # Double answering is impossible: one row per (task, annotator), whatever its status.
        UniqueConstraint("task_id", "annotator_id", name="uq_assignments_task_annotator"),
        # "Not yet answered by this annotator" and the annotator's position in a project.
        Index("ix_assignments_annotator_project_task", "annotator_id", "project_id", "task_id"),
        # Reputation counts an annotator's final rejections: a few rows, never their whole history.
        Index("ix_assignments_rejected", "annotator_id", postgresql_where=text("status = 'rejected'"),
              sqlite_where=text("status = 'rejected'")),
        # The per-annotator cap counts live leases only.
        Index(
            "ix_assignments_live",
            "annotator_id",
            "project_id",
            postgresql_where=text("status = 'leased'"),
            sqlite_where=text("status = 'leased'"),
        ),
        # The expiry sweep reads live leases by deadline.
        Index(
            "ix_assignments_expiry",
            "expires_at",
            postgresql_where=text("status = 'leased'"),
            sqlite_where=text("status = 'leased'"),
        ),
        Index("ix_assignments_task_status", "task_id", "status"),
        # A project's answers since a time: the answer-count recompute trigger and the periodic sweep.
        Index(
            "ix_assignments_project_submitted",
            "project_id",
            "submitted_at",
            postgresql_where=text("status = 'submitted'"),
            sqlite_where=text("status = 'submitted'"),
        ),
        # Answers awaiting approval, by age (auto-approval and the requester's review list).
        Index(
            "ix_assignments_unapproved",
            "project_id",
            "submitted_at",
            postgresql_where=text("status IN ('submitted', 'superseded') AND approved_at IS NULL"),
            sqlite_where=text("status IN ('submitted', 'superseded') AND approved_at IS NULL"),
        ),
    )

    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(16), default=LEASED)
    leased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[dict | None] = mapped_column(Json)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # The version of the project's instructions this lease was given under.
    guideline_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Never shown to the annotator before submission: whether the task was gold and the answer right.
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    gold_correct: Mapped[bool | None] = mapped_column(Boolean)
    # Payment: an answer is pending until approved (reward payable) or rejected (reward back to escrow).
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_category: Mapped[str | None] = mapped_column(String(32))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    # Who approved or rejected (None: automatic).
    decided_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    # The terms of this lease when they differ from the project's: a team's or an experiment arm's
    # reward (None: the project's reward_cents), the team it was given through, the arm it counts in.
    reward_cents: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id"))
    arm_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("experiment_arms.id"))
    # The escrow lane the lease reserved its cost on: its answer is paid, its fee taken, its reservation
    # given back on that lane (ledger.models.ESCROW_LANES).
    escrow_lane: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


def payment_status(assignment) -> str | None:
    """pending, approved or rejected for an answer; None for a lease that never became one."""
    if assignment.approved_at is not None:
        return "approved"
    if assignment.rejected_at is not None:
        return "rejected"
    return "pending" if assignment.status in PENDING_STATES else None
