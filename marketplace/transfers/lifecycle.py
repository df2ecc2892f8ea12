"""The life of a transfer: queued, claimed by a run, checkpointed chunk by chunk, finished or failed.

Two copies of a transfer's job may run at once (RQ ran it twice, or the sweep re-enqueued a job
that was only slow). Every write a run makes happens in a transaction that first locks the
transfer's row and checks that the run's `attempt` is still the current one (`checkpoint`); a claim
takes the next number. So a superseded run stops at its next checkpoint, having written nothing
since the previous one, and the chunk it was working on is rolled back with its transaction.
The lock is FOR NO KEY UPDATE: chunks inserted by the run only take KEY SHARE on the row.

Each checkpoint also sends `NOTIFY transfers, '<id>'` (PostgreSQL), delivered at commit: a client
(or a test) can wait for progress instead of polling.
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from marketplace.errors import DomainError
from marketplace.extensions import db
from marketplace.transfers import chunk_store
from marketplace.transfers.jobs import RUN_EXPORT, RUN_IMPORT
from marketplace.transfers.models import EXPORT, FAILED, IMPORT, QUEUED, RUNNING, SUCCEEDED, Transfer
from marketplace.webhooks import services as webhooks

DUPLICATES_SAMPLE = 100  # external ids of duplicates kept on an import, for the requester to see
EVENTS = {(IMPORT, SUCCEEDED): "import.completed", (IMPORT, FAILED): "import.failed",
          (EXPORT, SUCCEEDED): "export.completed", (EXPORT, FAILED): "export.failed"}


class GaveUp(DomainError):
    status = 409
    code = "transfer_gave_up"


class Superseded(Exception):
    """This run is no longer the transfer's current one (another claimed it, or it finished)."""


def run_job(transfer: Transfer):
    """The job that runs a transfer of this kind."""
    return RUN_IMPORT if transfer.kind == IMPORT else RUN_EXPORT


def enqueue(transfer: Transfer, now: datetime) -> None:
    """Queue the transfer's job after the commit; the heartbeat dates the wait (the sweep reads it)."""
    transfer.status, transfer.heartbeat_at = QUEUED, now
    run_job(transfer).after_commit(transfer.id)


def _locked(transfer_id: int) -> Transfer | None:
    return db.session.scalar(select(Transfer).where(Transfer.id == transfer_id)
                             .with_for_update(key_share=True).execution_options(populate_existing=True))


def claim(*, transfer_id: int, now: datetime) -> int | None:
    """Start a run of a transfer: its attempt number, or None when it is finished (or gone)."""
    transfer = _locked(transfer_id)
    if transfer is None or transfer.status not in (QUEUED, RUNNING):
        return None
    transfer.attempt += 1
    transfer.status, transfer.heartbeat_at, transfer.run_started_at = RUNNING, now, now
    transfer.started_at = transfer.started_at or now
    transfer.run_base = progress_units(transfer)
    db.session.flush()
    return transfer.attempt


def checkpoint(*, transfer_id: int, attempt: int, now: datetime) -> Transfer:
    """Lock the transfer for this run's next write, or raise Superseded; beats the heart and notifies."""
    transfer = _locked(transfer_id)
    if transfer is None or transfer.status != RUNNING or transfer.attempt != attempt:
        raise Superseded(transfer_id)
    transfer.heartbeat_at = now
    chunk_store.notify(transfer_id)
    return transfer


def finish(transfer: Transfer, *, now: datetime, payload: dict) -> None:
    """Mark a (locked) transfer succeeded and tell the project's webhooks, in this transaction."""
    transfer.status, transfer.finished_at = SUCCEEDED, now
    transfer.expires_at = now + timedelta(seconds=current_app.config["TRANSFER_RESULT_TTL_S"])
    db.session.flush()
    webhooks.emit(project_id=transfer.project_id, event=EVENTS[(transfer.kind, SUCCEEDED)],
                  payload={**event_base(transfer), **payload}, now=now)


def gave_up(attempt: int) -> GaveUp | None:
    """The error ending a transfer whose runs keep dying (a crash on its data would loop through the sweep)."""
    limit = current_app.config["TRANSFER_MAX_ATTEMPTS"]
    if attempt <= limit:
        return None
    return GaveUp(f"This job was started {limit} times without finishing (its worker stopped each time); "
                  "it stops here. Try again or contact support.")


def fail(*, transfer_id: int, attempt: int, error: DomainError, now: datetime) -> None:
    """Record why a run failed (code, message, failing field and line), keeping what it committed before."""
    transfer = checkpoint(transfer_id=transfer_id, attempt=attempt, now=now)
    transfer.status, transfer.finished_at = FAILED, now
    transfer.expires_at = now + timedelta(seconds=current_app.config["TRANSFER_RESULT_TTL_S"])
    transfer.error_code, transfer.error_message, transfer.error_detail = error.code, error.message, error.errors or None
    if transfer.kind == EXPORT:
        chunk_store.delete_all(transfer.id)  # half a file is no result
    db.session.flush()
    webhooks.emit(project_id=transfer.project_id, event=EVENTS[(transfer.kind, FAILED)],
                  payload={**event_base(transfer), "error": {"code": error.code, "message": error.message}}, now=now)


def event_base(transfer: Transfer) -> dict:
    key = "import_id" if transfer.kind == IMPORT else "export_id"
    return {key: transfer.id, "project_id": transfer.project_id, "status": transfer.status,
            "rows": transfer.rows_done, "format": transfer.format}


def progress_units(transfer: Transfer) -> int:
    """How far a transfer is, in the unit its percent is measured in (import: bytes read; export: rows)."""
    return transfer.bytes_done if transfer.kind == IMPORT else transfer.rows_done


def progress(transfer: Transfer, now: datetime) -> dict:
    """percent and eta_s of a transfer: from bytes of the file (imports) or rows (exports), at this run's rate."""
    if transfer.status == SUCCEEDED:
        return {"percent": 100.0, "eta_s": 0.0}
    done = progress_units(transfer)
    total = transfer.bytes_total if transfer.kind == IMPORT else transfer.rows_total
    if not total:
        return {"percent": 0.0, "eta_s": None}
    percent = round(min(99.9, 100.0 * done / total), 1)
    eta = None
    if transfer.status == RUNNING and transfer.run_started_at is not None:
        elapsed = (now - transfer.run_started_at).total_seconds()
        rate = (done - transfer.run_base) / elapsed if elapsed > 0 else 0
        if rate > 0:
            eta = round(max(total - done, 0) / rate, 1)
    return {"percent": percent, "eta_s": eta}


def stale(*, now: datetime) -> list[Transfer]:
    """Transfers whose job looks lost: running without a heartbeat lately, or queued for too long."""
    config = current_app.config
    running_before = now - timedelta(seconds=config["TRANSFER_STALE_AFTER_S"])
    queued_before = now - timedelta(seconds=config["TRANSFER_QUEUED_STALE_AFTER_S"])
    return list(db.session.scalars(
        select(Transfer).where(or_((Transfer.status == RUNNING) & (Transfer.heartbeat_at <= running_before),
                                   (Transfer.status == QUEUED) & (Transfer.heartbeat_at <= queued_before)))
        .order_by(Transfer.id).limit(500).with_for_update(skip_locked=True, key_share=True)))


def requeue_stale(*, now: datetime) -> list[int]:
    """Queue again every transfer whose job looks lost; a run still alive stops at its next checkpoint."""
    found = stale(now=now)
    for transfer in found:
        enqueue(transfer, now)
    db.session.flush()
    return [transfer.id for transfer in found]


def purge(*, now: datetime) -> list[int]:
    """Delete the files of transfers past their expiry (results, failed imports' sources)."""
    found = list(db.session.scalars(select(Transfer).where(Transfer.expires_at <= now, Transfer.purged_at.is_(None))
                                    .order_by(Transfer.id).limit(500).with_for_update(skip_locked=True, key_share=True)))
    for transfer in found:
        chunk_store.delete_all(transfer.id)
        transfer.purged_at = now
    db.session.flush()
    return [transfer.id for transfer in found]
