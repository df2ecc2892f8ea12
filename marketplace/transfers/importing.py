"""Task imports as a job: the file is stored first (uploaded, or fetched from a URL by the job), then
read in chunks of TRANSFER_IMPORT_CHUNK_ROWS rows, each validated and inserted by the same service
as the synchronous import (tasks.services.import_tasks: the row rules, label checks, gold tasks,
counts, escrow top-up) and committed together with the checkpoint (byte offset, lines, rows,
created, duplicates). A killed worker's next run resumes at the last committed offset: no row is
inserted twice and the duplicate count stays right (a chunk's rows and its counts commit together).

Behaviour on a bad row: the job fails naming the line and field, with the same message and `errors`
as the synchronous upload (`file.<line>.<field>`); the chunks committed before it stay imported, and
`rows_done` says how far it got. Send the corrected file again: rows already imported come back as
duplicates. An external id repeated inside one chunk is an error (as in one synchronous request);
repeated further apart, the second is counted as a duplicate.
"""
import csv
import queue
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from marketplace.accounts.models import Account
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.tasks import parsing
from marketplace.projects.models import Project
from marketplace.tasks import services as tasks
from marketplace.tasks import store as task_store
from marketplace.transfers import chunk_store, fetching, lifecycle
from marketplace.transfers.models import URL, Transfer

FETCH_COMMIT_CHUNKS = 16  # a fetch commits (and beats the heart) every this many stored chunks


class Lines:
    """The file's physical lines from an iterator of its bytes, counting bytes and lines handed out."""

    def __init__(self, pieces: Iterator[bytes]):
        self.pieces = pieces
        self.pending: deque[bytes] = deque()
        self.carry = b""
        self.consumed = 0
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        while not self.pending:
            piece = next(self.pieces, None)
            if piece is None:
                if not self.carry:
                    raise StopIteration
                self.pending.append(self.carry)
                self.carry = b""
                break
            parts = (self.carry + piece).split(b"\n")
            self.carry = parts.pop()
            self.pending.extend(part + b"\n" for part in parts)
        line = self.pending.popleft()
        self.consumed += len(line)
        self.count += 1
        return line


@dataclass
class Chunk:
    """Rows parsed from the file: they start at byte `start` and take `size` bytes and `lines` lines."""

    items: list
    numbers: list[int]
    start: int
    size: int
    lines: int
    checked: list | None = None  # the rows validated against the project's label schema
    copy_lines: list[str] | None = None  # and formatted for COPY


def parsed_chunks(pieces: Iterator[bytes], *, start: int, first_line: int, limit: int,
                  header: list[str] | None, schema: tuple[dict, bool]) -> Iterator[Chunk]:
    """Parse and check the file from byte `start` (line `first_line`) in chunks of `limit` rows; the last is empty.

    `schema` is the project's (label schema, show_prelabels): rows are validated here, with no
    database work, and the import service uses them while the project still says the same.
    """
    lines = Lines(pieces)
    while True:
        consumed, count = lines.consumed, lines.count
        if header is None:
            items, numbers = _jsonl_rows(lines, first_line, limit)
        else:
            items, numbers = _csv_rows(lines, first_line, limit, header)
        chunk = Chunk(items, numbers, start + consumed, lines.consumed - consumed, lines.count - count)
        if items:
            chunk.checked = tasks.check_items(*schema, items, numbers)
            if len(items) >= task_store.COPY_MIN_ROWS:
                chunk.copy_lines = task_store.copy_lines_of(chunk.checked)
        yield chunk
        if not items:
            return


def parsed_ahead(produce) -> Iterator:
    """Run a generator in a thread, one item ahead: the next chunk is parsed while this one is inserted.

    The import's time is about half parsing (Python) and half the INSERT (PostgreSQL, which
    releases the GIL while it waits): overlapping them uses both cores. An error raised while
    parsing reaches the caller in order, after the chunks before it.
    """
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def work():
        try:
            for item in produce():
                handoff.put((True, item))
                if stop.is_set():
                    return
            handoff.put((True, _END))
        except BaseException as exc:  # handed to the caller, who raises it
            handoff.put((False, exc))

    thread = threading.Thread(target=work, name="import-parser", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = handoff.get()
            if not ok:
                raise item
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # let a put waiting on a full queue through, then the thread ends
            try:
                handoff.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


_END = object()


def _jsonl_rows(lines: Lines, first_line: int, limit: int) -> tuple[list, list[int]]:
    items, numbers = [], []
    for raw in lines:
        number = first_line + lines.count - 1
        item = parsing.jsonl_item(parsing.line_text(raw, first=number == 1).rstrip("\r\n"), number)
        if item is not None:
            items.append(item)
            numbers.append(number)
            if len(items) >= limit:
                break
    return items, numbers


def _csv_rows(lines: Lines, first_line: int, limit: int, header: list[str]) -> tuple[list, list[int]]:
    text_lines = (parsing.line_text(raw, first=first_line + lines.count - 1 == 1) for raw in lines)
    reader = csv.DictReader(text_lines, fieldnames=header)
    items, numbers = [], []
    for record in reader:
        number = first_line + reader.line_num - 1
        items.append(parsing.csv_item(record, header, number))
        numbers.append(number)
        if len(items) >= limit:
            break
    return items, numbers


def _csv_header(transfer: Transfer) -> list[str]:
    """Read the header line (the first run does; it is kept on the transfer for the chunks after)."""
    lines = Lines(chunk_store.read(transfer.id, 0))
    reader = csv.reader(parsing.line_text(raw, first=lines.count == 1) for raw in lines)
    header = parsing.check_csv_header(next(reader, None))
    transfer.csv_header, transfer.bytes_done, transfer.lines_done = header, lines.consumed, lines.count
    return header


def run(*, transfer_id: int, attempt: int, now) -> Iterator[None]:
    """Import the transfer's file; yields whenever a chunk is ready to commit (the caller commits)."""
    transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
    if transfer.source == URL and transfer.bytes_total is None:
        yield from _fetch(transfer_id=transfer_id, attempt=attempt, now=now)
        transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
    header = (transfer.csv_header or _csv_header(transfer)) if transfer.format == "csv" else None
    project = db.session.get(Project, transfer.project_id)
    options = {"start": transfer.bytes_done, "first_line": transfer.lines_done + 1, "header": header,
               "limit": current_app.config["TRANSFER_IMPORT_CHUNK_ROWS"],
               "schema": (project.label_schema, bool(project.show_prelabels))}
    if chunk_store.readable_elsewhere() and current_app.config["TRANSFER_PARSE_AHEAD"]:
        engine = db.engine  # read here: the thread has no app context
        chunks = parsed_ahead(lambda: _parsed_on_own_connection(engine, transfer_id, options))
    else:
        chunks = parsed_chunks(chunk_store.read(transfer_id, options["start"]), **options)
    for chunk in chunks:
        transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
        if transfer.bytes_done != chunk.start:
            raise lifecycle.Superseded(transfer_id)  # another run moved the checkpoint
        account = db.session.get(Account, transfer.account_id)
        if chunk.items:
            _import(transfer, account, chunk)
        elif transfer.rows_done == 0:
            raise ValidationFailed("The file has no rows.", errors={"files": {"file": ["no rows"]}})
        transfer.bytes_done += chunk.size
        transfer.lines_done += chunk.lines
        if not chunk.items or transfer.bytes_done >= transfer.bytes_total:
            _finish(transfer, now())
            yield
            return
        yield


def _parsed_on_own_connection(engine, transfer_id: int, options: dict) -> Iterator[Chunk]:
    """parsed_chunks over a pooled connection of the parser thread's own (the file is committed: it reads the same)."""
    connection = engine.raw_connection()
    try:
        yield from parsed_chunks(chunk_store.read_on(connection, transfer_id, options["start"]), **options)
    finally:
        connection.rollback()
        connection.close()


def _import(transfer: Transfer, account: Account, chunk: Chunk) -> None:
    outcome = tasks.import_tasks(account=account, project_id=transfer.project_id, items=chunk.items, rows=chunk.numbers,
                                 max_tasks=len(chunk.items), checked=chunk.checked, copy_lines=chunk.copy_lines)
    transfer.rows_done += len(chunk.items)
    transfer.created_count += outcome["created"]
    transfer.duplicate_count += outcome["duplicate_count"]
    sample = transfer.duplicates_sample or []
    if len(sample) < lifecycle.DUPLICATES_SAMPLE and outcome["duplicates"]:
        transfer.duplicates_sample = (sample + outcome["duplicates"])[:lifecycle.DUPLICATES_SAMPLE]


def _finish(transfer: Transfer, now: datetime) -> None:
    transfer.rows_total = transfer.rows_done
    chunk_store.delete_all(transfer.id)  # the tasks are in; the file has done its work
    transfer.purged_at = now
    lifecycle.finish(transfer, now=now, payload={"created": transfer.created_count,
                                                 "duplicate_count": transfer.duplicate_count})


def _fetch(*, transfer_id: int, attempt: int, now) -> Iterator[None]:
    """Store the file at the transfer's URL (a run that dies mid-fetch leaves chunks the next claim deletes)."""
    transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
    chunk_store.delete_all(transfer_id)
    url = transfer.source_url
    writer = chunk_store.Writer(transfer_id, current_app.config["TRANSFER_CHUNK_BYTES"])
    lines, committed = 0, 0
    for piece in fetching.download(url):
        writer.write(piece)
        lines += piece.count(b"\n")
        if writer.seq - committed >= FETCH_COMMIT_CHUNKS:
            yield
            lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
            committed = writer.seq
    writer.flush_partial()
    transfer = lifecycle.checkpoint(transfer_id=transfer_id, attempt=attempt, now=now())
    transfer.bytes_total = writer.offset
    transfer.rows_total = estimated_rows(transfer.format, lines, writer.offset)
    yield


def estimated_rows(format: str, newlines: int, size: int) -> int:
    """Rows in a file of this many lines, before it is read (blank lines and multi-line CSV cells aside)."""
    return max(0, newlines - (1 if format == "csv" else 0))
