"""Task files read as a stream of rows and cut into JSON batches for `POST /projects/{id}/tasks`.

A file is never held whole: JSON Lines are read line by line, CSV row by row, and a JSON array
element by element, so a file of millions of tasks costs one batch of memory. Rows keep their file
line so that a row the server refuses (it names the batch index) is reported by file line. CSV rows
become tasks by the server's own upload rules: an `external_id` column, then either a `data` column
holding a JSON object or every other column as the data; `gold_answer` and `prediction` cells are JSON.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from labelctl.errors import FileFormatError

FORMATS = ("jsonl", "csv", "json")
TASK_FIELDS = frozenset({"external_id", "data", "gold_answer", "gold_explanation", "prediction", "model_version"})
_CHUNK = 1 << 20
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # built once: dumps() builds one per call


@dataclass(frozen=True)
class Batch:
    """Rows serialised for one request, with the file line (or input index) of each."""

    body: bytes
    lines: list[int]


@dataclass
class ImportProgress:
    """Where an import stands; passed to `on_progress` after every batch the server accepted."""

    bytes_read: int = 0
    bytes_total: int | None = None
    rows_sent: int = 0
    created: int = 0
    duplicate_count: int = 0
    batches: int = 0
    task_count: int | None = None
    duplicates: list[str] = field(default_factory=list)  # the first DUPLICATES_KEPT of them

    DUPLICATES_KEPT = 1000

    @property
    def fraction(self) -> float | None:
        """Share of the file sent so far (None when its size is unknown)."""
        if not self.bytes_total:
            return None
        return min(self.bytes_read / self.bytes_total, 1.0)

    def add(self, result: Mapping[str, Any], rows: int) -> None:
        """Count one accepted batch."""
        self.batches += 1
        self.rows_sent += rows
        self.created += int(result.get("created", 0))
        self.duplicate_count += int(result.get("duplicate_count", 0))
        room = self.DUPLICATES_KEPT - len(self.duplicates)
        if room > 0:
            self.duplicates.extend(list(result.get("duplicates", []))[:room])
        self.task_count = result.get("task_count", self.task_count)


def detect_format(path: Path, given: str | None = None) -> str:
    """The file's format: the one given, else from its suffix."""
    if given:
        if given not in FORMATS:
            raise FileFormatError(f"format must be one of {', '.join(FORMATS)}, not {given!r}")
        return given
    suffix = path.suffix.lower()
    found = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".json": "json"}.get(suffix)
    if found is None:
        raise FileFormatError(f"cannot tell the format of {path.name}: name it *.jsonl, *.csv or *.json, or pass format=")
    return found


def read_rows(binary: IO[bytes], kind: str) -> Iterator[tuple[int, Any]]:
    """(file line, row) for every task row of an open binary file of the given format."""
    if kind == "jsonl":
        yield from _jsonl(binary)
        return
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="" if kind == "csv" else None)
    try:
        yield from _csv(text) if kind == "csv" else _json(text)
    finally:
        text.detach()  # the caller's file stays open (a collected wrapper would close it)


def _jsonl(binary: IO[bytes]) -> Iterator[tuple[int, Any]]:
    for number, raw in enumerate(binary, start=1):
        line = _decode(raw, number, bom=number == 1)
        if line.strip():
            yield number, _loads(line, number)


def _decode(raw: bytes, number: int, bom: bool = False) -> str:
    try:
        return raw.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError:
        raise FileFormatError(f"line {number}: not UTF-8 text", number) from None


def _loads(text: str, number: int, what: str = "") -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FileFormatError(f"line {number}: {what}not valid JSON ({getattr(exc, 'msg', exc)})", number) from None


def _csv(text: IO[str]) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames or []
    except UnicodeDecodeError:
        raise FileFormatError("line 1: not UTF-8 text", 1) from None
    if "external_id" not in header:
        raise FileFormatError("line 1: the header must have an external_id column", 1)
    try:
        for record in reader:
            yield reader.line_num, _csv_task(record, header, reader.line_num)
    except UnicodeDecodeError:
        raise FileFormatError(f"line {reader.line_num + 1}: not UTF-8 text", reader.line_num + 1) from None


def _csv_task(record: dict[str, Any], header: Sequence[str], number: int) -> dict[str, Any]:
    if None in record:
        raise FileFormatError(f"line {number}: more fields than the header", number)
    if "data" in header:
        data = _loads(record["data"] or "null", number, "data: ")
    else:
        data = {k: v for k, v in record.items() if k not in TASK_FIELDS}
    task: dict[str, Any] = {"external_id": record["external_id"], "data": data}
    if record.get("gold_answer"):
        task["gold_answer"] = _loads(record["gold_answer"], number, "gold_answer: ")
        if record.get("gold_explanation"):
            task["gold_explanation"] = record["gold_explanation"]
    if record.get("prediction"):
        task["prediction"] = _loads(record["prediction"], number, "prediction: ")
        task["model_version"] = record.get("model_version") or None
    return task


class _ArrayReader:
    """Elements of a top-level JSON array, decoded one at a time from a text stream."""

    def __init__(self, text: IO[str]) -> None:
        self.text, self.buf, self.pos, self.line, self.eof = text, "", 0, 1, False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.text.read(_CHUNK)
        except UnicodeDecodeError:
            raise FileFormatError(f"line {self.line}: not UTF-8 text", self.line) from None
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def _skip_space(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.line += self.buf[self.pos] == "\n"
                self.pos += 1
            if self.pos < len(self.buf) or not self._fill():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def _expect(self, allowed: str) -> str:
        found = self._skip_space()
        if not found or found not in allowed:
            raise FileFormatError(f"line {self.line}: expected {' or '.join(allowed)}, found {found or 'the end'}",
                                  self.line)
        self.pos += 1
        return found

    def _value(self) -> Any:
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except ValueError as exc:
                if self._fill():
                    continue
                raise FileFormatError(f"line {self.line}: not valid JSON ({getattr(exc, 'msg', exc)})", self.line) from None
            if end == len(self.buf) and self._fill():
                continue  # a number cut at the chunk's end would decode short
            self.line += self.buf.count("\n", self.pos, end)
            self.pos = end
            return value

    def elements(self) -> Iterator[tuple[int, Any]]:
        if self._skip_space() == "{":  # {"tasks": [...]}: the request body's own shape, read whole
            while self._fill():
                pass
            body = self._value()
            yield from enumerate(body.get("tasks", []) if isinstance(body, dict) else [], start=1)
            return
        self._expect("[")
        if self._skip_space() == "]":
            return
        while True:
            self._skip_space()
            line = self.line
            yield line, self._value()
            if self._expect(",]") == "]":
                return


def _json(text: IO[str]) -> Iterator[tuple[int, Any]]:
    return _ArrayReader(text).elements()


def batches(rows: Iterable[tuple[int, Any]], *, max_rows: int, max_bytes: int) -> Iterator[Batch]:
    """Cut rows into request bodies of at most max_rows rows and about max_bytes bytes."""
    parts: list[bytes] = []
    lines: list[int] = []
    size = 0
    for line, row in rows:
        part = _ENCODE(row).encode()
        if parts and (len(parts) >= max_rows or size + len(part) > max_bytes):
            yield _batch(parts, lines)
            parts, lines, size = [], [], 0
        parts.append(part)
        lines.append(line)
        size += len(part) + 1
    if parts:
        yield _batch(parts, lines)


def _batch(parts: list[bytes], lines: list[int]) -> Batch:
    return Batch(body=b'{"tasks":[' + b",".join(parts) + b"]}", lines=lines)


def split(batch: Batch, max_rows: int) -> list[Batch]:
    """Cut an already built batch into smaller ones (the server allows fewer rows than asked)."""
    rows = json.loads(batch.body)["tasks"]
    return [_batch([_ENCODE(r).encode() for r in rows[i:i + max_rows]],
                   batch.lines[i:i + max_rows]) for i in range(0, len(rows), max_rows)]
