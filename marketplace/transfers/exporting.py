"""Result exports as a job: the streamed export (results/export.py, every format the project's label
type offers) written into the transfer's file chunk by chunk, in constant memory.

A run that dies restarts the export from the beginning: the next claim's first checkpoint deletes
the chunks the dead run committed. Formats such as COCO or a YOLO zip hold state across the whole
file, so resuming from the middle would need the writers' state too; restarting keeps every format
byte-identical to the streamed export. Each chunk commits with the rows written so far (progress).
"""
import hashlib
from collections.abc import Iterator

from flask import current_app
from sqlalchemy import func, select

from marketplace.accounts.models import Account
from marketplace.extensions import db
from marketplace.results import export as results_export
from marketplace.results.models import Result
from marketplace.transfers import chunk_store, lifecycle


def result_count(project_id: int) -> int:
    """How many result rows an export of the project writes."""
    return db.session.scalar(select(func.count()).select_from(Result).where(Result.project_id == project_id))


def run(*, transfer_id: int, attempt: int, now) -> Iterator[None]:
    """Write the export's file; yields whenever a chunk is ready to commit (the caller commits)."""
    transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
    chunk_store.delete_all(transfer_id)
    transfer.rows_done, transfer.bytes_done, transfer.etag = 0, 0, None
    transfer.rows_total = result_count(transfer.project_id)
    transfer.run_base = 0
    account = db.session.get(Account, transfer.account_id)
    db.session.expunge(account)  # loaded once: the commits between chunks must not expire it
    project_id, rows_total = transfer.project_id, transfer.rows_total
    yield  # the clean start commits before any chunk
    counted = [0]

    def tap(rows):
        for row in rows:
            counted[0] += 1
            yield row

    found = results_export.export(account=account, project_id=project_id, format=transfer.format, tap=tap,
                                  **(transfer.options or {}))
    writer = chunk_store.Writer(transfer_id, current_app.config["TRANSFER_CHUNK_BYTES"])
    digest = hashlib.sha256()
    written = 0
    for piece in found.body:
        data = piece.encode() if isinstance(piece, str) else bytes(piece)
        digest.update(data)
        pending = writer.seq
        if len(writer.buffer) + len(data) >= writer.chunk_bytes:
            transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
            writer.write(data)
            # A multi-pass writer (COCO) reads the rows more than once: progress stays below 100% until the end.
            transfer.rows_done = min(counted[0], max(rows_total - 1, 0))
            transfer.bytes_done = writer.offset
            if writer.seq > pending:
                yield
        else:
            writer.write(data)
        written += len(data)
    transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
    writer.flush_partial()
    transfer.rows_done = transfer.rows_total = min(counted[0], rows_total) if rows_total else counted[0]
    transfer.bytes_done = transfer.bytes_total = written
    transfer.etag = f'"{digest.hexdigest()[:40]}"'
    transfer.filename, transfer.media_type = found.filename, found.media_type
    lifecycle.finish(transfer, now=now(), payload={"size_bytes": written})
    yield
