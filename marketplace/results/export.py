"""Streamed exports of a project's results as JSONL or CSV."""
import csv
import io
import json
from collections.abc import Iterable, Iterator

CSV_COLUMNS = ("task_id", "external_id", "label", "confidence", "method", "answer_count", "tie", "gold", "posterior",
               "answers")


def jsonl_lines(rows: Iterable[dict]) -> Iterator[str]:
    """Yield one JSON line per result."""
    for row in rows:
        yield json.dumps(row, separators=(",", ":"), default=str) + "\n"


def csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    """Yield a header then one CSV line per result; non-scalar cells are JSON-encoded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for i, row in enumerate(rows):
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
        if i % 500 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _cell(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
