"""Trust per annotator per project, automatic quality actions, and verified skills."""
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, TimestampMixin, UTCDateTime, utcnow
from marketplace.extensions import db


class AnnotatorStats(TimestampMixin, db.Model):
    """What we know of one annotator in one project; counters change in the submit transaction."""

    __tablename__ = "annotator_stats"
    __table_args__ = (Index("ix_annotator_stats_project", "project_id", "annotator_id"),)

    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"), primary_key=True)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms_total: Mapped[int] = mapped_column(BigId, default=0)
    gold_seen: Mapped[int] = mapped_column(Integer, default=0)
    gold_correct: Mapped[int] = mapped_column(Integer, default=0)
    # What the annotator is shown of their gold record: copied from the live counters by the periodic
    # recompute, so the figures never move right after one answer (which would reveal it was gold).
    reported_gold_seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reported_gold_correct: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # From the project's Dawid-Skene recompute: accuracy, its confusion matrix, agreement with the truth.
    ds_accuracy: Mapped[float | None] = mapped_column(Float)
    confusion: Mapped[list | None] = mapped_column(Json)
    agreement: Mapped[float | None] = mapped_column(Float)
    agreement_answers: Mapped[int] = mapped_column(Integer, default=0)
    # Weight of the annotator's answers in aggregation; a rule may lower it.
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # As a reviewer: decisions compared with the inferred truth by the recompute, and how many agreed.
    reviews_checked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reviews_agreed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    blocked_reason: Mapped[str | None] = mapped_column(Text)


class QualityAction(IdMixin, db.Model):
    """An automatic (or admin) action on an annotator, with its reason; shown to the annotator."""

    __tablename__ = "quality_actions"
    __table_args__ = (Index("ix_quality_actions_annotator", "annotator_id", "id"),)

    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    project_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("projects.id"))
    action: Mapped[str] = mapped_column(String(32))
    rule: Mapped[dict | None] = mapped_column(Json)
    value: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Skill(IdMixin, db.Model):
    """A skill an admin verified for an annotator (e.g. "radiology")."""

    __tablename__ = "skills"
    __table_args__ = (UniqueConstraint("annotator_id", "name", name="uq_skills_annotator_name"),)

    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(64))
    verified_by: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
