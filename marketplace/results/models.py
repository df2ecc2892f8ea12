"""Results: the inferred truth of a closed task; recompute runs of a project."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, false, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime, utcnow
from marketplace.extensions import db

QUEUED = "queued"
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
SKIPPED = "skipped"
# A large run's model is fitted and its results staged; they are being merged a chunk per job.
WRITING = "writing"


# A recompute rewrites every result of a project in place; none of the columns it writes is indexed, so
# each new version can be a heap-only tuple (no index entries) if its page has room for it. Pages half
# full leave room for one full rewrite between two prunings of the page. Measured on 10M answers
# (benchmarks/recompute.py): writing 2M results took 12-13 s instead of 21 s.
RESULTS_FILLFACTOR = 50


class Result(db.Model):
    __tablename__ = "results"
    __table_args__ = (
        Index("ix_results_project_task", "project_id", "task_id"),
        Index("ix_results_unannounced", "project_id", "task_id", postgresql_where=text("NOT announced"),
              sqlite_where=text("NOT announced")),
        {"postgresql_with": {"fillfactor": RESULTS_FILLFACTOR}},
    )

    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    label: Mapped[dict] = mapped_column(Json)
    confidence: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(32))
    answer_count: Mapped[int] = mapped_column(Integer)
    tie: Mapped[bool] = mapped_column(Boolean, default=False)
    # The task's posterior over the project's classes (Dawid-Skene methods), in class order.
    posterior: Mapped[list | None] = mapped_column(Json)
    # Set once the completion (or escalation) has been announced to the requester's webhooks.
    announced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RecomputeRun(IdMixin, db.Model):
    """One project recompute: queued by the periodic sweep, by answers arriving, or by the requester; run by a job."""

    __tablename__ = "recompute_runs"
    __table_args__ = (Index("ix_recompute_runs_project", "project_id", "id"),)

    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    reason: Mapped[str] = mapped_column(String(32))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answers: Mapped[int | None] = mapped_column(Integer)
    annotators: Mapped[int | None] = mapped_column(Integer)
    iterations: Mapped[int | None] = mapped_column(Integer)
    results_written: Mapped[int | None] = mapped_column(Integer)
    tasks_reopened: Mapped[int | None] = mapped_column(Integer)
    # The truth model this run chose (see Project.truth_model).
    model: Mapped[dict | None] = mapped_column(Json)
    seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # A run whose results are merged in chunks (results/chunked.py): how many, how many are merged, and
    # when the last one was (the sweep sends the next chunk's job again once this is stale).
    chunks_total: Mapped[int | None] = mapped_column(Integer)
    chunks_done: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecomputeStage(db.Model):
    """A large recompute's results waiting to be merged into `results`, a chunk of tasks per job.

    Written by binary COPY (results/bulk_store.py) in the run's fitting job and deleted chunk by
    chunk as each is merged; PostgreSQL only (the embedded mode writes every run in one go).
    """

    __tablename__ = "recompute_stage"

    project_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    best: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float] = mapped_column(Float)
    answer_count: Mapped[int] = mapped_column(Integer)
    tie: Mapped[bool] = mapped_column(Boolean)
    posterior: Mapped[list] = mapped_column(ARRAY(Float).with_variant(JSON(), "sqlite"))
    # The fitting job's verdict (the submit path's rule with the new model): reopen once merged.
    reopen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RecomputeChunk(db.Model):
    """One staged chunk of a project's results, claimed by a merge job (FOR UPDATE SKIP LOCKED) and
    marked merged in that job's transaction: several jobs merge a run's chunks side by side."""

    __tablename__ = "recompute_chunks"

    project_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True)
    merged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
