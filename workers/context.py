"""The job wrapper: app context, one commit or rollback, logging, and re-raise for RQ's retries."""
import functools
import logging

from flask import Flask, has_app_context

from marketplace import metrics, queue
from marketplace.extensions import db

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


def _run(func, path: str, args: tuple):
    redis = queue.redis_connection()
    if redis is not None:
        # Cleared before reading the database, so any change after this point queues a new run.
        redis.delete(queue.debounce_key(path, args))
    try:
        with metrics.JobTimer(path):  # inline runs come through here too: one place times every job
            outcome = func(*args)
            db.session.commit()
    except BaseException:
        db.session.rollback()
        queue.discard_pending()
        log.exception("job %s%r failed", path, args)
        raise
    queue.dispatch_committed()
    log.info("job %s%r done", path, args)
    return outcome
