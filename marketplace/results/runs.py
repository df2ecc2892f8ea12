"""A recompute run's life outside the fit: queueing one, its live progress, and finishing it.

Shared by the fitting job (recompute.py) and, for a run too large to write in one job, the jobs
that merge its results a chunk at a time (chunked.py).
"""
from datetime import datetime

from marketplace import metrics, queue
from marketplace.extensions import db
from marketplace.results.jobs import AGGREGATE_PROJECT, RECOMPUTE_PROJECT
from marketplace.results.models import FINISHED, QUEUED, RecomputeRun
from marketplace.webhooks import models as webhooks
from marketplace.webhooks import services as webhook_services

PROGRESS_KEY = "marketplace:recompute:{project_id}"
PROGRESS_TTL_S = 3600


def queue_run(*, project_id: int, reason: str, now: datetime) -> RecomputeRun:
    """Record a queued run and enqueue its job after the commit (debounced per project)."""
    run = RecomputeRun(project_id=project_id, status=QUEUED, reason=reason, queued_at=now)
    db.session.add(run)
    db.session.flush()
    RECOMPUTE_PROJECT.after_commit(project_id)
    return run


def progress(project_id: int, **fields) -> None:
    """Publish a running recompute's progress (percent, stage, ...) where the API reads it, if Redis is there."""
    redis = queue.redis_connection()
    if redis is not None:
        key = PROGRESS_KEY.format(project_id=project_id)
        redis.hset(key, mapping={k: str(v) for k, v in fields.items()})
        redis.expire(key, PROGRESS_TTL_S)


def live_progress(project_id: int) -> dict:
    """Progress of a running recompute (percent, stage), when a queue backend can hold it."""
    redis = queue.redis_connection()
    if redis is None:
        return {}
    return {k.decode(): v.decode() for k, v in redis.hgetall(PROGRESS_KEY.format(project_id=project_id)).items()}


def finish(*, project_id: int, runs: list[RecomputeRun], outcome: dict, seconds: float, now: datetime) -> dict:
    """Record a recompute's outcome on its runs, tell the requester, and aggregate what it changed."""
    metrics.recompute_finished(seconds)
    for run in runs:
        run.status, run.finished_at, run.seconds = FINISHED, now, seconds
        for name, value in outcome.items():
            setattr(run, name, value)
    progress(project_id, status=FINISHED, percent=100, stage="done", seconds=seconds)
    webhook_services.emit(project_id=project_id, event=webhooks.RECOMPUTE_FINISHED, now=now,
                          payload={"project_id": project_id, **outcome, "seconds": seconds})
    if outcome["tasks_reopened"] or outcome["results_written"]:
        AGGREGATE_PROJECT.after_commit(project_id)
    return {**outcome, "seconds": seconds}
