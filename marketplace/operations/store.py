"""The job_runs table's one writer: a periodic job's start, finish or failure, one upsert each."""
from datetime import datetime

from sqlalchemy import select

from marketplace.db import upsert
from marketplace.extensions import db
from marketplace.operations.models import JobRun

ERROR_CHARS = 2_000


def record_finished(path: str, *, started: datetime, finished: datetime) -> None:
    """A run of `path` finished (in the job's own transaction, so it commits with the job's work)."""
    insert = upsert(JobRun.__table__).values(path=path, last_started_at=started, last_finished_at=finished, runs=1,
                                            failures=0)
    db.session.execute(insert.on_conflict_do_update(index_elements=["path"], set_={
        "last_started_at": started, "last_finished_at": finished, "runs": JobRun.__table__.c.runs + 1}))


def record_failed(path: str, *, started: datetime, failed: datetime, error: str) -> None:
    """A run of `path` failed (after its transaction rolled back: the caller commits this alone)."""
    error = error[:ERROR_CHARS]
    insert = upsert(JobRun.__table__).values(path=path, last_started_at=started, last_failed_at=failed,
                                            last_error=error, runs=1, failures=1)
    db.session.execute(insert.on_conflict_do_update(index_elements=["path"], set_={
        "last_started_at": started, "last_failed_at": failed, "last_error": error,
        "runs": JobRun.__table__.c.runs + 1, "failures": JobRun.__table__.c.failures + 1}))


def all_runs() -> dict[str, JobRun]:
    """Every periodic job's row, by path."""
    return {run.path: run for run in db.session.scalars(select(JobRun))}
