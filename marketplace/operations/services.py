"""Operational signals: the scheduler seen or not, periodic jobs overdue, jobs that failed for good.

Periodic jobs record every run in job_runs (workers/context.py). With a queue backend (Redis),
`rq cron` should start one at least every couple of minutes: when none started within CRON_SEEN_WITHIN
the scheduler is not running, and the sweeps that find lost work again (payouts, Stripe events,
aggregation, recomputes, webhook deliveries, transfers) are not running either. A job that failed
every retry waits in RQ's failed registry until an operator retries it (`retry_failed`). Without
Redis (the embedded mode) there is no scheduler and no failed registry: nothing to report.
"""
from datetime import datetime, timedelta
from types import SimpleNamespace

from croniter import croniter
from flask import current_app
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob
from rq.registry import FailedJobRegistry
from rq.results import Result

from marketplace import queue
from marketplace.errors import NotFound
from marketplace.operations import store

OK, DEGRADED, DOWN = "ok", "degraded", "down"
# Slack on every "when should it have run": a busy worker starts a periodic job a little late.
SLACK = timedelta(minutes=5)
# The most frequent periodic jobs run every minute: none started in this long means no scheduler.
CRON_SEEN_WITHIN = timedelta(minutes=7)
FAILED_LISTED = 100


def _schedule(job: queue.Job) -> dict:
    """A job's schedule under this app's settings (the ones rq cron reads from the same environment)."""
    return job.schedule(SimpleNamespace(**current_app.config))


def _periodic() -> dict[str, queue.Job]:
    return {job.path.rsplit(".", 1)[1]: job for job in queue.declared() if job.periodic}


def _overdue(schedule: dict, run, now: datetime) -> bool:
    """Past its schedule: two periods and the slack since an interval job last finished; for a cron job,
    a time its expression named passed (by the slack) after its last finish. Never run: not yet due,
    unless its runs so far all failed."""
    if run is None:
        return False
    if run.last_finished_at is None:
        return run.failures > 0
    if "interval" in schedule:
        return run.last_finished_at < now - 2 * timedelta(seconds=schedule["interval"]) - SLACK
    named = croniter(schedule["cron"], now).get_prev(datetime)
    return run.last_finished_at < named and named < now - SLACK


def periodic_jobs(*, now: datetime) -> list[dict]:
    """Every periodic job: its schedule, its last start, finish and failure, and whether it is overdue."""
    runs = store.all_runs()
    listed = []
    for name, job in _periodic().items():
        schedule, run = _schedule(job), runs.get(job.path)
        listed.append({
            "name": name, "path": job.path, "queue": job.queue,
            "schedule": f"every {schedule['interval']} s" if "interval" in schedule else f"cron {schedule['cron']} (UTC)",
            **{field: getattr(run, field, None) for field in
               ("last_started_at", "last_finished_at", "last_failed_at", "last_error")},
            "runs": getattr(run, "runs", 0), "failures": getattr(run, "failures", 0),
            "overdue": _overdue(schedule, run, now)})
    return listed


def _registries(redis) -> list[FailedJobRegistry]:
    return [FailedJobRegistry(queue=Queue(name, connection=redis)) for name in queue.ALL]


def failed_jobs() -> list[dict]:
    """Jobs that failed every retry, newest first (at most FAILED_LISTED), as RQ's failed registries hold them."""
    redis = queue.redis_connection()
    if redis is None:
        return []
    listed = []
    for registry in _registries(redis):
        ids = registry.get_job_ids()
        for job in RQJob.fetch_many(ids, connection=redis):
            if job is None:  # expired between the two reads
                continue
            result = job.latest_result()
            error = (result.exc_string or "").strip().splitlines() if result and result.type == Result.Type.FAILED else []
            listed.append({"id": job.id, "queue": registry.name, "path": job.func_name, "args": list(job.args),
                           "enqueued_at": job.enqueued_at, "ended_at": job.ended_at,
                           "error": error[-1] if error else None})
    listed.sort(key=lambda job: job["ended_at"] or datetime.min, reverse=True)
    return listed[:FAILED_LISTED]


def find_failed(job_id: str) -> dict:
    """The failed job with this id (its id and queue); 404 when no failed registry holds it."""
    redis = queue.redis_connection()
    for registry in _registries(redis) if redis is not None else []:
        if job_id in registry.get_job_ids():
            return {"id": job_id, "queue": registry.name}
    raise NotFound("No failed job has this id.")


def retry_failed(found: dict) -> dict:
    """Put a failed job (find_failed's) back on its queue: its retries start again."""
    registry = FailedJobRegistry(queue=Queue(found["queue"], connection=queue.redis_connection()))
    try:
        registry.requeue(found["id"])
    except (NoSuchJobError, InvalidJobOperation):  # gone, or retried a moment ago
        raise NotFound("No failed job has this id.")
    return {**found, "status": "queued"}


def run_now(name: str) -> dict:
    """Send a periodic job now, once this commits (a sweep run early is harmless); 404 for an unknown name."""
    job = _periodic().get(name)
    if job is None:
        raise NotFound(f"No periodic job is named {name!r}.")
    job.after_commit()
    return {"name": name, "path": job.path, "status": "sent"}


def jobs_report(*, now: datetime) -> dict:
    """What /health says of the jobs: whether the scheduler was seen lately, overdue jobs, failed ones."""
    redis = queue.redis_connection()
    if redis is None:
        return {"scheduler": "inline", "ok": True}
    periodic = periodic_jobs(now=now)
    seen = max((job["last_started_at"] for job in periodic if job["last_started_at"]), default=None)
    try:
        failed = sum(registry.count for registry in _registries(redis))
    except Exception as exc:  # the queue's own check reports Redis down; this says what it could not read
        return {"scheduler": "rq cron", "ok": False, "error": type(exc).__name__}
    overdue = [job["name"] for job in periodic if job["overdue"]]
    cron_seen = seen is not None and seen >= now - CRON_SEEN_WITHIN
    return {"scheduler": "rq cron", "cron_seen_at": seen, "cron_seen": cron_seen, "overdue": overdue,
            "failed": failed, "ok": cron_seen and not overdue and not failed}


def level(*, database_ok: bool, schema_ok: bool, queue_ok: bool, jobs_ok: bool) -> str:
    """down: requests cannot be served (no database, or a schema the code does not match); degraded:
    they are, but background work is not moving (no queue, no scheduler, overdue or failed jobs)."""
    if not (database_ok and schema_ok):
        return DOWN
    return OK if queue_ok and jobs_ok else DEGRADED
