"""The job wrapper: app context, one commit or rollback, logging, and re-raise for RQ's retries."""
import functools
import logging

from flask import Flask, has_app_context

from marketplace import metrics, queue
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.operations import store as job_runs

log = logging.getLogger("workers")

_app: Flask | None = None


def _worker_app() -> Flask:
    """Build the app once per worker process, from the environment."""
    global _app
    if _app is None:
        from marketplace import create_app

        _app = create_app()
    return _app


def job(func):
    """Wrap a job body: one transaction, jobs it queues sent after the commit, errors re-raised."""
    path = f"{func.__module__}.{func.__qualname__}"

    @functools.wraps(func)
    def run(*args):
        if has_app_context():
            return _run(func, path, args)
        with _worker_app().app_context():
            return _run(func, path, args)

    run.job_path = path
    return run


_periodic_paths: frozenset[str] | None = None


def _is_periodic(path: str) -> bool:
    """Whether `path` is a scheduled job (its runs are recorded in job_runs for /health and /admin/jobs)."""
    global _periodic_paths
    if _periodic_paths is None:
        _periodic_paths = queue.periodic_paths()
    return path in _periodic_paths


def _run(func, path: str, args: tuple):
    redis = queue.redis_connection()
    if redis is not None:
        # Cleared before reading the database, so any change after this point queues a new run.
        redis.delete(queue.debounce_key(path, args))
    started = utcnow()
    try:
        with metrics.JobTimer(path):  # inline runs come through here too: one place times every job
            outcome = func(*args)
            if _is_periodic(path):  # with the job's work: a run that rolls back did not finish
                job_runs.record_finished(path, started=started, finished=utcnow())
            db.session.commit()
    except BaseException as exc:
        db.session.rollback()
        queue.discard_pending()
        log.exception("job %s%r failed", path, args)
        if _is_periodic(path):
            _record_failure(path, started, exc)
        raise
    queue.dispatch_committed()
    log.info("job %s%r done", path, args)
    return outcome


def _record_failure(path: str, started, exc: BaseException) -> None:
    """Record a periodic job's failure in a transaction of its own (the job's was rolled back)."""
    try:
        job_runs.record_failed(path, started=started, failed=utcnow(), error=f"{type(exc).__name__}: {exc}")
        db.session.commit()
    except Exception:  # the database may be what failed: the log line above is the record then
        db.session.rollback()
        log.warning("could not record the failure of %s", path, exc_info=True)
