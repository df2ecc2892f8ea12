"""Rows of a task import, from a JSON list, a JSONL file or a CSV file, checked row by row.

Validation is hand-written rather than a marshmallow List(Nested) because it runs on 10,000 rows
per request on the import hot path, where marshmallow costs several times more; the rules are
those of schemas.TaskIn, and every error names the row (0-based index or 1-based file line) and field.
"""
import csv
import io

from marketplace import inputs
from marketplace.errors import ValidationFailed

MAX_EXTERNAL_ID = 255


FIELDS = {"external_id", "data", "gold_answer", "gold_explanation", "prediction", "model_version"}


def check_rows(items: list, rows: list[int] | None = None) -> list[dict]:
    """Validate raw rows and return them as dicts; an id repeated inside a batch is an error.

    A row may carry `gold_answer` (checked against the label schema by the caller) and
    `gold_explanation`, making it a gold task.

    `rows` gives file line numbers; without it rows are named by their index in the JSON `tasks` list.
    """
    out: list[dict] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        row = rows[i] if rows else i
        if not isinstance(item, dict):
            raise row_error(rows, row, "_schema", "must be an object with external_id and data")
        unknown = set(item) - FIELDS
        if unknown:
            raise row_error(rows, row, sorted(unknown)[0], "unknown field")
        external_id = item.get("external_id")
        if not isinstance(external_id, str) or not external_id or len(external_id) > MAX_EXTERNAL_ID:
            raise row_error(rows, row, "external_id", f"must be a non-empty string of at most {MAX_EXTERNAL_ID} characters")
        data = item.get("data")
        if not isinstance(data, dict):
            raise row_error(rows, row, "data", "must be a JSON object")
        explanation = item.get("gold_explanation")
        if explanation is not None and (not isinstance(explanation, str) or item.get("gold_answer") is None):
            raise row_error(rows, row, "gold_explanation", "must be a string, given with a gold_answer")
        if external_id in seen:
            raise row_error(rows, row, "external_id", f"repeats the id of {'line' if rows else 'row'} {seen[external_id]}")
        seen[external_id] = row
        model_version = item.get("model_version")
        if model_version is not None and (not isinstance(model_version, str) or len(model_version) > 64):
            raise row_error(rows, row, "model_version", "must be a string of at most 64 characters")
        out.append({"external_id": external_id, "data": data, "gold_answer": item.get("gold_answer"),
                    "gold_explanation": explanation, "prediction": item.get("prediction"),
                    "model_version": model_version, "row": row})
    return out


def row_error(rows, row: int, field: str, message: str) -> ValidationFailed:
    """A 422 naming the row and field: under json.tasks.<index> for a body, file.<line> for an upload."""
    detail = {str(row): {field: [message]}}
    if rows is None:
        return ValidationFailed(f"row {row}: {field}: {message}", errors={"json": {"tasks": detail}})
    return _file_error(row, field, message)


def _file_error(line: int, field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"line {line}: {field}: {message}", errors={"file": {str(line): {field: [message]}}})


def _json_cell(text: str, line: int, field: str):
    """Parse one JSON value of an upload (a JSONL line, a CSV cell) under the app's input rules (inputs.py)."""
    try:
        value, clean = inputs.loads_checked(text)
    except ValueError as exc:
        raise _file_error(line, field, f"not valid JSON ({getattr(exc, 'msg', str(exc))})")
    found = None if clean else inputs.problem(value, field)
    if found is not None:
        raise _file_error(line, found[0], found[1])
    return value


def parse_jsonl(content: bytes) -> tuple[list, list[int]]:
    """Parse JSON Lines; return the rows and their 1-based line numbers (blank lines skipped)."""
    items, lines = [], []
    for number, line in enumerate(_text(content).splitlines(), start=1):
        item = jsonl_item(line, number)
        if item is not None:
            items.append(item)
            lines.append(number)
    return items, lines


def jsonl_item(line: str, number: int):
    """One line of a JSON Lines file as a row, or None for a blank line (the import job reads line by line)."""
    if not line.strip():
        return None
    return _json_cell(line, number, "_line")


def parse_csv(content: bytes) -> tuple[list, list[int]]:
    """Parse CSV with an external_id column; a `data` column holds a JSON object, else the other columns form it."""
    reader = csv.DictReader(io.StringIO(_text(content), newline=""))
    header = check_csv_header(reader.fieldnames)
    items, lines = [], []
    for record in reader:
        number = reader.line_num
        items.append(csv_item(record, header, number))
        lines.append(number)
    return items, lines


def check_csv_header(header: list[str] | None) -> list[str]:
    """A CSV file's header, which must name an external_id column."""
    if "external_id" not in (header or []):
        raise _file_error(1, "external_id", "the header must have an external_id column")
    return list(header)


def csv_item(record: dict, header: list[str], number: int) -> dict:
    """One CSV record (a csv.DictReader row) as a row; `number` is its line in the file."""
    if None in record:
        raise _file_error(number, "_line", "more fields than the header")
    if "data" in header:
        data = _json_cell(record["data"] or "null", number, "data")
    else:
        data = {k: v for k, v in record.items() if k not in FIELDS}
    item = {"external_id": record["external_id"], "data": data}
    if record.get("gold_answer"):
        item["gold_answer"] = _json_cell(record["gold_answer"], number, "gold_answer")
        if record.get("gold_explanation"):
            item["gold_explanation"] = record["gold_explanation"]
    if record.get("prediction"):
        item["prediction"] = _json_cell(record["prediction"], number, "prediction")
        item["model_version"] = record.get("model_version") or None
    found = inputs.problem(item, "_line")  # plain columns too: a NUL in any cell
    if found is not None:
        raise _file_error(number, found[0].removeprefix("_line."), found[1])
    return item


def line_text(raw: bytes, first: bool = False) -> str:
    """One line of an uploaded file as text, under the rules of the whole file (UTF-8, no NUL; a BOM first)."""
    return _text(raw) if first else _text(raw, "utf-8")


def _text(content: bytes, encoding: str = "utf-8-sig") -> str:
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError:
        raise ValidationFailed("The file must be UTF-8 text.", errors={"files": {"file": ["not UTF-8"]}})
    if "\x00" in text:
        raise ValidationFailed("The file must not contain NUL characters.", errors={"files": {"file": ["NUL character"]}})
    return text


def format_from_name(name: str, location: str = "query", field: str = "format") -> str:
    """jsonl or csv from a file name's suffix; a 422 naming `field` (under `location`) when it says neither."""
    lowered = name.lower()
    for kind, suffixes in (("jsonl", (".jsonl", ".ndjson")), ("csv", (".csv",))):
        if lowered.endswith(suffixes):
            return kind
    raise ValidationFailed("Say format=jsonl or format=csv, or name the file *.jsonl or *.csv.",
                           errors={location: {field: ["cannot tell the format of the file"]}})
