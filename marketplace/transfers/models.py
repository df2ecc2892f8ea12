"""Transfers (an import of tasks or an export of results, run by a job) and the chunks of their files.

One table for both kinds: they share the life cycle (queued, running, succeeded, failed), the
progress and the checkpoint the job commits with every chunk of work. An import's file is its
uploaded (or fetched) source; an export's file is its result. Either lives in `transfer_chunks`.
"""
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, TimestampMixin, UTCDateTime
from marketplace.extensions import db

IMPORT = "import"
EXPORT = "export"
KINDS = (IMPORT, EXPORT)

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)
UNFINISHED = (QUEUED, RUNNING)

UPLOAD = "upload"
URL = "url"


class Transfer(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "transfers"
    __table_args__ = (
        Index("ix_transfers_project_kind", "project_id", "kind", "id"),
        # The sweep's scan: only unfinished transfers can be lost.
        Index("ix_transfers_unfinished", "status", "heartbeat_at", postgresql_where=text("status IN ('queued', 'running')")),
    )

    kind: Mapped[str] = mapped_column(String(8))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id"))
    # Who asked: the job acts as this account (an admin's export sees what an admin sees).
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    format: Mapped[str] = mapped_column(String(16))
    # Exports: the format's own options (YOLO's split, the DocBin's language), as given.
    options: Mapped[dict | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    # Imports: where the file came from (upload or url) and the URL the job fetches it from.
    source: Mapped[str | None] = mapped_column(String(8))
    source_url: Mapped[str | None] = mapped_column(String(2048))
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(64))
    # Each run of the job takes the next number; a run whose number is no longer current stops
    # at its next checkpoint (two copies of the job never both write).
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # The checkpoint, committed with every chunk: rows (imports: read from the file, exports:
    # written), bytes of the file (imports: consumed, exports: written) and lines read (imports).
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger)
    lines_done: Mapped[int] = mapped_column(BigInteger, default=0)
    created_count: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicate_count: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates_sample: Mapped[list | None] = mapped_column(Json)
    csv_header: Mapped[list | None] = mapped_column(Json)
    # Where this run started (progress units) and when: the ETA comes from this run's rate.
    run_base: Mapped[int] = mapped_column(BigInteger, default=0)
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    etag: Mapped[str | None] = mapped_column(String(80))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_detail: Mapped[dict | None] = mapped_column(Json)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TransferChunk(db.Model):
    """One piece of a transfer's file: `size` bytes starting at `start_offset`, in `seq` order."""

    __tablename__ = "transfer_chunks"

    transfer_id: Mapped[int] = mapped_column(BigId, ForeignKey("transfers.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_offset: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
