"""Qualifications: reusable tests built from gold questions, attempts at them, and grants."""
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, TimestampMixin, UTCDateTime, utcnow
from marketplace.extensions import db

STARTED = "started"
GRADED = "graded"
EXPIRED = "expired"


class Qualification(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "qualifications"

    owner_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    label_schema: Mapped[dict] = mapped_column(Json)
    questions_per_attempt: Mapped[int] = mapped_column(Integer)
    pass_score: Mapped[float] = mapped_column(Float)
    time_limit_s: Mapped[int] = mapped_column(Integer)
    retry_delay_s: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    validity_s: Mapped[int | None] = mapped_column(Integer)
    question_count: Mapped[int] = mapped_column(Integer, default=0)


class Question(IdMixin, db.Model):
    __tablename__ = "qualification_questions"

    qualification_id: Mapped[int] = mapped_column(BigId, ForeignKey("qualifications.id"), index=True)
    data: Mapped[dict] = mapped_column(Json)
    answer: Mapped[dict] = mapped_column(Json)
    explanation: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attempt(IdMixin, db.Model):
    __tablename__ = "qualification_attempts"
    __table_args__ = (Index("ix_qualification_attempts_annotator", "annotator_id", "qualification_id", "id"),)

    qualification_id: Mapped[int] = mapped_column(BigId, ForeignKey("qualifications.id"))
    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    question_ids: Mapped[list] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default=STARTED)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    graded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)


class Grant(IdMixin, TimestampMixin, db.Model):
    """An annotator holds a qualification with a score until it expires or is revoked."""

    __tablename__ = "qualification_grants"
    __table_args__ = (Index("ix_qualification_grants_annotator", "annotator_id", "qualification_id"),)

    qualification_id: Mapped[int] = mapped_column(BigId, ForeignKey("qualifications.id"))
    annotator_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    score: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    source: Mapped[str] = mapped_column(String(16))  # "attempt" or "owner"
