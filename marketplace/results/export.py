"""Streamed exports of a project's results: JSONL and CSV for every type, the type's own formats too.

Every row carries its provenance (task, confidence, method, number of answers, guideline version,
gold flag); exports are for the project's requester, so gold tasks are marked, not hidden.
"""
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from marketplace import labels
from marketplace.accounts.models import Account
from marketplace.errors import field_error
from marketplace.projects import services as projects
from marketplace.results.services import iter_results

CSV_COLUMNS = ("task_id", "external_id", "label", "confidence", "method", "answer_count", "tie", "gold", "posterior",
               "guideline_version", "answers")
# format -> (media type, file extension)
MEDIA = {"jsonl": ("application/x-ndjson", "jsonl"), "csv": ("text/csv", "csv"), "coco": ("application/json", "json"),
         "yolo": ("application/zip", "zip"), "conll": ("text/plain", "conll"), "spacy": ("application/x-ndjson", "jsonl"),
         "manifest": ("application/x-ndjson", "json")}


@dataclass(frozen=True)
class Export:
    body: Iterator
    media_type: str
    filename: str


def export(*, account: Account, project_id: int, format: str, tap=None) -> Export:
    """The project's results in a format its label type offers (422 naming `format` otherwise).

    `tap` wraps every pass over the result rows (an export job counts the rows it wrote with it).
    """
    project = projects.owned(account=account, project_id=project_id)
    offered = labels.export_formats(project.label_schema)
    if format not in offered:
        raise field_error(f"{project.label_schema['type']} projects export as {', '.join(offered)}", "format")

    def rows():
        found = iter_results(account=account, project_id=project_id)
        return tap(found) if tap else found

    if format == "jsonl":
        body = jsonl_lines(rows())
    elif format == "csv":
        body = csv_lines(rows())
    else:
        body = labels.label_type(project.label_schema).EXPORTS[format](project.label_schema, rows)
    media_type, extension = MEDIA[format]
    name = "results" if format in ("jsonl", "csv") else f"results-{format}"
    return Export(body, media_type, f"project-{project_id}-{name}.{extension}")


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
