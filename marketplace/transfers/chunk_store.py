"""A transfer's file, stored in PostgreSQL as numbered chunks (`transfer_chunks`).

Why the database and not a directory: the API (gunicorn) and the workers (rq) may run on different
hosts, and the one thing every process already shares is the database. A chunk table needs no
shared volume, no object-store credentials, and it commits with the rows it belongs to: an
upload's chunks and its transfer row appear together or not at all; a killed export leaves chunks
the next run deletes in the same transaction that claims the work. The cost is database space
while a file lives; results are purged after TRANSFER_RESULT_TTL_S and imports' files as soon as
the import finishes.

Chunks are TRANSFER_CHUNK_BYTES each (the last may be shorter) and record their own start offset
and size, so a reader never assumes the setting still has the value the writer saw. On
PostgreSQL the bytes are stored EXTERNAL (uncompressed, out of line; see the migration): reading
a byte range runs substring() on the one or two chunks at its edges, which fetches only the TOAST
slices that hold those bytes, and whole chunks in between.
"""
from collections.abc import Iterator

from sqlalchemy import delete, func, select, text

CHANNEL = "transfers"

from marketplace.db import is_postgres
from marketplace.extensions import db
from marketplace.transfers.models import TransferChunk

_RANGE = text("""
SELECT start_offset, size,
       substring(data FROM CAST(GREATEST(:start - start_offset, 0) + 1 AS integer)
                      FOR CAST(LEAST(:stop, start_offset + size) - GREATEST(:start, start_offset) AS integer)) AS piece
FROM transfer_chunks
WHERE transfer_id = :transfer_id AND seq = :seq
""")


class Writer:
    """Append bytes to a transfer's file; every full chunk is inserted at once, the rest on close()."""

    def __init__(self, transfer_id: int, chunk_bytes: int, seq: int = 0, offset: int = 0):
        self.transfer_id, self.chunk_bytes, self.seq, self.offset = transfer_id, chunk_bytes, seq, offset
        self.buffer = bytearray()

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= self.chunk_bytes:
            self._insert(bytes(self.buffer[:self.chunk_bytes]))
            del self.buffer[:self.chunk_bytes]

    def flush_partial(self) -> None:
        """Insert whatever is buffered as a (short) chunk: the end of the file."""
        if self.buffer:
            self._insert(bytes(self.buffer))
            self.buffer.clear()

    def _insert(self, data: bytes) -> None:
        db.session.execute(TransferChunk.__table__.insert().values(
            transfer_id=self.transfer_id, seq=self.seq, start_offset=self.offset, size=len(data), data=data))
        self.seq += 1
        self.offset += len(data)


def delete_all(transfer_id: int) -> None:
    """Remove a transfer's file."""
    db.session.execute(delete(TransferChunk).where(TransferChunk.transfer_id == transfer_id))


def size_of(transfer_id: int) -> int:
    """The length of a transfer's file in bytes."""
    return int(db.session.scalar(select(func.coalesce(func.sum(TransferChunk.size), 0))
                                 .where(TransferChunk.transfer_id == transfer_id)))


def _chunk_at(transfer_id: int, offset: int):
    """(seq, start_offset) of the chunk that holds byte `offset`, or None past the end."""
    return db.session.execute(
        select(TransferChunk.seq, TransferChunk.start_offset)
        .where(TransferChunk.transfer_id == transfer_id, TransferChunk.start_offset <= offset,
               TransferChunk.start_offset + TransferChunk.size > offset)
        .limit(1)
    ).first()


def read(transfer_id: int, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """Yield the bytes [start, stop) of a transfer's file (to the end without stop), a chunk at a time."""
    found = _chunk_at(transfer_id, start)
    if found is None:
        return
    seq = found.seq
    stop = stop if stop is not None else 2 ** 62
    while True:
        if is_postgres():
            row = db.session.execute(_RANGE, {"transfer_id": transfer_id, "seq": seq, "start": start, "stop": stop}).first()
            if row is None:
                return
            piece = bytes(row.piece)
        else:
            row = db.session.execute(select(TransferChunk.start_offset, TransferChunk.size, TransferChunk.data)
                                     .where(TransferChunk.transfer_id == transfer_id, TransferChunk.seq == seq)).first()
            if row is None:
                return
            piece = bytes(row.data)[max(start - row.start_offset, 0):min(stop, row.start_offset + row.size) - row.start_offset]
        if piece:
            yield piece
        if row.start_offset + row.size >= stop:
            return
        seq += 1


def read_on(connection, transfer_id: int, start: int = 0) -> Iterator[bytes]:
    """Yield a committed file from byte `start` to its end over a DB-API connection of its own (a parser thread's)."""
    with connection.cursor() as cursor:
        found = cursor.execute("SELECT seq FROM transfer_chunks WHERE transfer_id = %s AND start_offset <= %s "
                               "AND start_offset + size > %s LIMIT 1", (transfer_id, start, start)).fetchone()
        if found is None:
            return
        seq = found[0]
        while True:
            row = cursor.execute("SELECT start_offset, data FROM transfer_chunks WHERE transfer_id = %s AND seq = %s",
                                 (transfer_id, seq)).fetchone()
            if row is None:
                return
            yield bytes(row[1])[max(start - row[0], 0):]
            seq += 1


def notify(transfer_id: int) -> None:
    """`NOTIFY transfers, '<id>'`, delivered when the transaction commits (PostgreSQL; nothing on SQLite)."""
    if is_postgres():
        db.session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": str(transfer_id)})


def readable_elsewhere() -> bool:
    """Whether another connection (a parser thread's) can read committed chunks while this one writes."""
    return is_postgres()
