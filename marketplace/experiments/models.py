"""Experiments: A/B arms inside a project, each annotator (or task) in one arm for the whole run."""
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, UTCDateTime, utcnow
from marketplace.extensions import db

ANNOTATOR_UNIT = "annotator"  # the arm follows the annotator: guidelines, reward, qualification
TASK_UNIT = "task"  # the arm follows the task: redundancy, reward, guidelines
UNITS = (ANNOTATOR_UNIT, TASK_UNIT)

RUNNING = "running"
STOPPED = "stopped"


class Experiment(IdMixin, db.Model):
    __tablename__ = "experiments"

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=RUNNING)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Arm(IdMixin, db.Model):
    """One arm: what differs from the project's own settings (None: the project's)."""

    __tablename__ = "experiment_arms"

    experiment_id: Mapped[int] = mapped_column(BigId, ForeignKey("experiments.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    guideline_version: Mapped[int | None] = mapped_column(Integer)
    reward_cents: Mapped[int | None] = mapped_column(Integer)
    qualification_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("qualifications.id"))
    answers_per_task: Mapped[int | None] = mapped_column(Integer)
