"""Streamed exports of a project's results: JSONL and CSV for every type, the type's own formats too.

Every row carries its provenance (task, confidence, method, number of answers, guideline version,
gold flag); exports are for the project's requester, so gold tasks are marked, not hidden. A format's
options (YOLO's split, the DocBin's language) are query arguments; one given to a format that does
not take it is a 422 naming it, as is a writer's own refusal (spaCy not installed, an unknown
language), raised before anything streams.
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
         "yolo": ("application/zip", "zip"), "conll": ("application/zip", "zip"),
         "spacy": ("application/octet-stream", "spacy"), "spacy-jsonl": ("application/x-ndjson", "jsonl"),
         "manifest": ("application/x-ndjson", "json")}
# format -> the query options its writer takes
OPTIONS = {"yolo": ("val_fraction", "split_seed"), "spacy": ("lang",)}


@dataclass(frozen=True)
class Export:
    body: Iterator
    media_type: str
    filename: str


def export(*, account: Account, project_id: int, format: str, tap=None, **options) -> Export:
    """The project's results in a format its label type offers (422 naming `format` otherwise).

    `options` are the format's own (OPTIONS); those left out (None) take the writer's defaults.
    `tap` wraps every pass over the result rows (an export job counts the rows it wrote with it).
    """
    project = projects.owned(account=account, project_id=project_id)
    given = checked_options(project.label_schema, format, options)

    def rows():
        found = iter_results(account=account, project_id=project_id)
        return tap(found) if tap else found

    if format == "jsonl":
        body = jsonl_lines(rows())
    elif format == "csv":
        body = csv_lines(rows())
    else:
        try:
            body = labels.label_type(project.label_schema).EXPORTS[format](project.label_schema, rows, **given)
        except labels.LabelError as exc:
            raise field_error(exc.message, *exc.path) from None
    media_type, extension = MEDIA[format]
    name = "results" if format in ("jsonl", "csv", "spacy") else f"results-{format}"
    return Export(body, media_type, f"project-{project_id}-{name}.{extension}")


def checked_options(label_schema: dict, format: str, options: dict) -> dict:
    """The options given (None left out) if the label type offers `format` and the format takes them; else a 422."""
    offered = labels.export_formats(label_schema)
    if format not in offered:
        raise field_error(f"{label_schema['type']} projects export as {', '.join(offered)}", "format")
    given = {name: value for name, value in options.items() if value is not None}
    for name in given:
        if name not in OPTIONS.get(format, ()):
            takes = [fmt for fmt, names in OPTIONS.items() if name in names]
            raise field_error(f"applies to format={' or '.join(takes)}, not {format}", name)
    return given


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
    if isinstance(value, bool):  # JSON's spelling, which pandas and most CSV readers take as booleans
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
