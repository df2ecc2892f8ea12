"""Import and export jobs for a project's requester: create one, read its progress, list them, download a result."""
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.errors import Conflict, DomainError, NotFound, field_error
from marketplace.extensions import db
from marketplace.projects import services as projects
from marketplace.results import export as results_export
from marketplace.transfers import chunk_store, fetching, lifecycle
from marketplace.transfers.importing import estimated_rows
from marketplace.transfers.models import EXPORT, IMPORT, SUCCEEDED, UPLOAD, URL, Transfer

UPLOAD_PIECE_BYTES = 1024 * 1024


class RangeNotSatisfiable(DomainError):
    status = 416
    code = "range_not_satisfiable"


class Gone(DomainError):
    status = 410
    code = "transfer_expired"


def create_export(*, account: Account, project_id: int, format: str, now: datetime, **options) -> Transfer:
    """Queue an export of the project's results in a format its label type offers, with its options.

    Everything the streamed export would refuse (a format the type lacks, an option the format does
    not take, spaCy missing, an unknown language) is refused here, before anything is queued.
    """
    results_export.export(account=account, project_id=project_id, format=format, **options)  # its checks; no row read
    given = {name: value for name, value in options.items() if value is not None}
    return _queued(Transfer(kind=EXPORT, project_id=project_id, account_id=account.id, format=format,
                            options=given or None), now)


def create_upload_import(*, account: Account, project_id: int, format: str, stream, filename: str | None,
                         now: datetime) -> Transfer:
    """Store an uploaded JSONL or CSV file (read in pieces, never whole) and queue its import."""
    project = projects.owned(account=account, project_id=project_id)
    projects.accepts_tasks(project)
    transfer = Transfer(kind=IMPORT, project_id=project.id, account_id=account.id, format=format, source=UPLOAD,
                        filename=(filename or "")[:255] or None)
    db.session.add(transfer)
    db.session.flush()
    writer = chunk_store.Writer(transfer.id, current_app.config["TRANSFER_CHUNK_BYTES"])
    newlines, last = 0, b"\n"
    while piece := stream.read(UPLOAD_PIECE_BYTES):
        writer.write(piece)
        newlines += piece.count(b"\n")
        last = piece[-1:]
    writer.flush_partial()
    if writer.offset == 0:
        raise field_error("The file is empty.", "file")
    transfer.bytes_total = writer.offset
    transfer.rows_total = estimated_rows(format, newlines + (last != b"\n"), writer.offset)
    return _queued(transfer, now)


def create_url_import(*, account: Account, project_id: int, format: str, url: str, now: datetime) -> Transfer:
    """Queue the import of a JSONL or CSV file the job fetches from a URL (checked like webhook targets)."""
    project = projects.owned(account=account, project_id=project_id)
    projects.accepts_tasks(project)
    fetching.checked(url)
    # The name from the URL's path only: a query string may carry a signature, never shown back.
    name = urlsplit(url.strip()).path.rsplit("/", 1)[-1][:255] or None
    return _queued(Transfer(kind=IMPORT, project_id=project.id, account_id=account.id, format=format, source=URL,
                            source_url=url.strip(), filename=name), now)


def _queued(transfer: Transfer, now: datetime) -> Transfer:
    db.session.add(transfer)
    db.session.flush()  # the job is sent with the id
    lifecycle.enqueue(transfer, now)
    db.session.flush()
    return transfer


def owned(*, account: Account, transfer_id: int, kind: str) -> Transfer:
    """A transfer of this kind on a project the account owns (any, for an admin); otherwise a 404."""
    transfer = db.session.get(Transfer, transfer_id)
    noun = "import" if kind == IMPORT else "export"
    if transfer is None or transfer.kind != kind:
        raise NotFound(f"No such {noun}.")
    try:
        projects.owned(account=account, project_id=transfer.project_id)
    except NotFound:
        raise NotFound(f"No such {noun}.")
    return transfer


def listing(*, account: Account, project_id: int, kind: str, cursor: int | None, limit: int) -> list[Transfer]:
    """A project's imports or exports, newest first."""
    project = projects.owned(account=account, project_id=project_id)
    query = (select(Transfer).where(Transfer.project_id == project.id, Transfer.kind == kind)
             .order_by(Transfer.id.desc()).limit(limit + 1))
    if cursor:
        query = query.where(Transfer.id < cursor)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Download:
    body: Iterator[bytes]
    start: int
    stop: int  # exclusive
    size: int
    partial: bool
    transfer: Transfer


def download(*, account: Account, transfer_id: int, byte_range: tuple[int, int | None] | None) -> Download:
    """A finished export's file, whole or the bytes [start, stop) asked for; 409 until it is done, 416 past its end."""
    transfer = owned(account=account, transfer_id=transfer_id, kind=EXPORT)
    if transfer.status != SUCCEEDED:
        raise Conflict(f"This export is {transfer.status}; download it once it has succeeded.",
                       code="transfer_not_finished")
    if transfer.purged_at is not None:
        raise Gone("This export's file has expired; queue a new export.")
    size = transfer.bytes_total or 0
    if byte_range is None:
        return Download(chunk_store.read(transfer.id, 0, size), 0, size, size, False, transfer)
    start, stop = byte_range
    if start < 0:  # a suffix: the last -start bytes
        start, stop = max(size + start, 0), size
    stop = size if stop is None else min(stop, size)
    if start >= size or start >= stop:
        raise RangeNotSatisfiable(f"The range asked for is outside the file's {size} bytes.",
                                  headers={"Content-Range": f"bytes */{size}"})
    return Download(chunk_store.read(transfer.id, start, stop), start, stop, size, True, transfer)
