"""Projects: a requester's labeling job and its marketplace listing."""
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, func, select, text
from sqlalchemy.orm import Mapped, column_property, mapped_column

from marketplace.db import BigId, IdMixin, Json, TimestampMixin, UTCDateTime, utcnow
from marketplace.extensions import db

DRAFT = "draft"
OPEN = "open"
PAUSED = "paused"
CLOSED = "closed"
COMPLETED = "completed"
STATUSES = (DRAFT, OPEN, PAUSED, CLOSED, COMPLETED)


class ProjectProgress(db.Model):
    """How many of a project's tasks are done, in a row of its own.

    A closing answer adds one here (results/closing.py) in its own transaction. On the project row
    the increment would wait for whoever holds that row: a recompute records its fit there early in
    a transaction that can run for minutes.
    """

    __tablename__ = "project_progress"

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"), primary_key=True, autoincrement=False)
    done_tasks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Project(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_status_id", "status", "id"),)

    requester_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    # Instructions are versioned (Guideline rows); every assignment stamps the version it was shown.
    guideline_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Set by a major version that requires re-qualification: grants older than this do not count.
    requalify_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    label_schema: Mapped[dict] = mapped_column(Json)
    reward_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # The platform's fee on every answer and bonus, in basis points, fixed when the project is created.
    fee_bps: Mapped[int] = mapped_column(Integer, default=2000, server_default="2000")
    # Answers nobody approved or rejected are approved this long after submission (rq cron).
    auto_approve_after_s: Mapped[int] = mapped_column(Integer, default=259_200, server_default="259200")
    # Fixed redundancy: every task gets answers_per_task answers. With target_confidence set, the
    # redundancy policy (marketplace/results/policy.py) asks for min_answers, then one more at a time
    # until the task's posterior reaches the target, escalating at max_answers.
    answers_per_task: Mapped[int] = mapped_column(Integer)
    min_answers: Mapped[int | None] = mapped_column(Integer)
    max_answers: Mapped[int | None] = mapped_column(Integer)
    target_confidence: Mapped[float | None] = mapped_column(Float)
    # A cap on what the answers may cost (answers x reward): the policy asks for no answer beyond it.
    budget_cents: Mapped[int | None] = mapped_column(Integer)
    aggregation: Mapped[str] = mapped_column(String(16), default="ds", server_default="ds")
    # Model pre-labels: lease the most uncertain tasks first; show annotators the model's label; let
    # the model vote in Dawid-Skene as a virtual annotator whose confusion matrix is learned (stored here).
    active_ordering: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    show_prelabels: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    model_as_annotator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    model_confusion: Mapped[list | None] = mapped_column(Json)
    # Class priors learned by the last recompute (None: uniform), for the per-answer posterior.
    class_priors: Mapped[list | None] = mapped_column(Json)
    # The truth model the last recompute chose: {"method", "weights", "calibration"} (None before one).
    truth_model: Mapped[dict | None] = mapped_column(Json)
    assignment_duration_s: Mapped[int] = mapped_column(Integer)
    max_leases_per_annotator: Mapped[int] = mapped_column(Integer)
    max_answers_per_annotator: Mapped[int | None] = mapped_column(Integer)
    # Quality control (see marketplace/quality): honeypot share, feedback on missed gold,
    # who may work (qualifications, trust, skills) and the rules that block or down-weight.
    gold_rate: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    gold_feedback: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    requirements: Mapped[dict] = mapped_column(Json, default=dict, server_default=text("'{}'"))
    quality_rules: Mapped[list] = mapped_column(Json, default=list, server_default=text("'[]'"))
    gold_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Review stage (marketplace/reviews): escalated tasks go to reviewers holding this qualification
    # or at least this reputation.
    review_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    review_qualification_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("qualifications.id"))
    review_min_trust: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    task_count: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the forecast last began to say the money runs out first (marketplace/forecasts); None when it does not.
    budget_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who may work (marketplace/teams/workforce.py): {"crowd": bool, "teams": [{"team_id", "reward_cents"}],
    # "crowd_after_hours": hours after publishing before the crowd may join, or None}. {} is the crowd alone.
    workforce: Mapped[dict] = mapped_column(Json, default=dict, server_default=text("'{}'"))
    # The running experiment's terms (projects/arms.py), a snapshot its owner (marketplace/experiments)
    # writes when it starts and clears when it stops, read with the project on every lease:
    # {"id", "unit", "arms": [{"id", "weight", "guideline_version", "reward_cents", "qualification_id",
    # "answers_per_task"}]}. None: no experiment runs.
    experiment: Mapped[dict | None] = mapped_column(Json)


# Tasks done, read with the project (written through projects/store.py, never set on the object).
Project.closed_task_count = column_property(
    select(func.coalesce(func.max(ProjectProgress.done_tasks), 0))
    .where(ProjectProgress.project_id == Project.id).correlate_except(ProjectProgress).scalar_subquery(),
    deferred=False,
)


def initial_slots(project) -> int:
    """How many answers a new task of the project asks for before any policy decision."""
    return project.min_answers if project.target_confidence is not None else project.answers_per_task


class Guideline(IdMixin, db.Model):
    """One version of a project's instructions."""

    __tablename__ = "guidelines"
    __table_args__ = (UniqueConstraint("project_id", "version", name="uq_guidelines_project_version"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    version: Mapped[int] = mapped_column(Integer)
    major: Mapped[bool] = mapped_column(Boolean, default=False)
    instructions: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    requalify: Mapped[bool] = mapped_column(Boolean, default=False)
    tasks_reopened: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
