"""Import and export jobs: each run claims the transfer, then commits chunk by chunk with its checkpoint.

A run commits after every chunk (like the webhook jobs after every delivery): a killed worker loses
at most the chunk in progress, and the next run (RQ's retry, or the sweep's re-enqueue) resumes at
the last checkpoint. A bad row or an unpayable escrow is the transfer's outcome, recorded as
`failed` with its error; anything else (the database gone) raises, for RQ to retry.
"""
from marketplace import queue
from marketplace.db import utcnow
from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.transfers import exporting, importing, lifecycle
from workers.context import job


def _commit() -> None:
    db.session.commit()
    queue.dispatch_committed()


def _drive(run, transfer_id: int) -> str:
    attempt = lifecycle.claim(transfer_id=transfer_id, now=utcnow())
    if attempt is None:
        return "finished already"
    _commit()
    too_many = lifecycle.gave_up(attempt)
    if too_many is not None:
        lifecycle.fail(transfer_id=transfer_id, attempt=attempt, error=too_many, now=utcnow())
        return "failed"
    try:
        for _ in run(transfer_id=transfer_id, attempt=attempt, now=utcnow):
            _commit()
    except lifecycle.Superseded:
        db.session.rollback()
        return "superseded"
    except DomainError as error:
        db.session.rollback()
        try:
            lifecycle.fail(transfer_id=transfer_id, attempt=attempt, error=error, now=utcnow())
        except lifecycle.Superseded:
            db.session.rollback()
            return "superseded"
        return "failed"
    return "succeeded"


@job
def run_import(transfer_id: int) -> str:
    """Import a stored (or fetched) file into the project's tasks, resuming at the last checkpoint."""
    return _drive(importing.run, transfer_id)


@job
def run_export(transfer_id: int) -> str:
    """Write the project's results into the export's file (a new run starts the file again)."""
    return _drive(exporting.run, transfer_id)


@job
def sweep_transfers() -> list[int]:
    """Queue again the transfers whose job was lost (stale heartbeat) or never started."""
    return lifecycle.requeue_stale(now=utcnow())


@job
def purge_transfers() -> list[int]:
    """Delete the files of transfers past their expiry."""
    return lifecycle.purge(now=utcnow())
