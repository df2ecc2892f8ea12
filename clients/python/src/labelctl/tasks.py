"""Tasks: bulk import from a file or an iterable (in JSON batches), and reads.

Each batch is one `POST /projects/{id}/tasks` of at most `batch_size` rows (the server's
MAX_TASKS_PER_IMPORT, 10,000 by default; a smaller server limit is detected and followed) and
about `batch_bytes` bytes. A batch is all or nothing, and external ids already in the project are
skipped as duplicates, so an import stopped by a bad row or a lost connection is safely run again
from the start once the file is fixed: the rows that went in are reported as duplicates.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from labelctl import importing
from labelctl._resource import Resource
from labelctl.errors import ApiError, BadRequest, FileFormatError, LabelctlError
from labelctl.importing import Batch, ImportProgress
from labelctl.types import Task

MAX_TASKS_PER_IMPORT = 10_000
BATCH_BYTES = 16 * 1024 * 1024  # the server takes up to 64 MiB per request
_SERVER_LIMIT = re.compile(r"At most (\d+) tasks per request")
_ROW = re.compile(r"^row \d+: ")

ProgressCallback = Callable[[ImportProgress], None]


class Tasks(Resource):
    def import_file(self, project_id: int, path: str | os.PathLike[str], *, format: str | None = None,
                    batch_size: int = MAX_TASKS_PER_IMPORT, batch_bytes: int = BATCH_BYTES,
                    on_progress: ProgressCallback | None = None) -> ImportProgress:
        """Import tasks from a .jsonl, .csv or .json file, streamed; `on_progress` hears after each batch.

        A row the server refuses raises its BadRequest with `line` set to the file line.
        """
        file = Path(path)
        kind = importing.detect_format(file, format)
        progress = ImportProgress(bytes_total=file.stat().st_size)
        with file.open("rb") as binary:
            rows = importing.read_rows(binary, kind)
            try:
                for batch in importing.batches(rows, max_rows=batch_size, max_bytes=batch_bytes):
                    progress.bytes_read = binary.tell()
                    self._send(project_id, batch, progress, on_progress, source=file.name)
            except FileFormatError as exc:
                located = FileFormatError(f"{file.name} {exc}", exc.line)
                located.progress = progress
                raise located from exc
        progress.bytes_read = progress.bytes_total or 0
        if on_progress is not None and progress.batches == 0:
            on_progress(progress)
        return progress

    def import_tasks(self, project_id: int, tasks: Iterable[Mapping[str, Any]], *,
                     batch_size: int = MAX_TASKS_PER_IMPORT, batch_bytes: int = BATCH_BYTES,
                     on_progress: ProgressCallback | None = None) -> ImportProgress:
        """Import tasks from any iterable of dicts (external_id, data, gold_answer, ...), in batches."""
        progress = ImportProgress()
        numbered = enumerate(tasks)
        for batch in importing.batches(numbered, max_rows=batch_size, max_bytes=batch_bytes):
            self._send(project_id, batch, progress, on_progress, source=None)
        return progress

    def _send(self, project_id: int, batch: Batch, progress: ImportProgress,
              on_progress: ProgressCallback | None, source: str | None) -> None:
        pending = [batch]
        while pending:
            current = pending.pop(0)
            try:
                result = self._http.request("POST", f"/projects/{project_id}/tasks", content=current.body,
                                            headers={"Content-Type": "application/json"})
            except BadRequest as exc:
                smaller = _server_limit(exc)
                if smaller is not None and smaller < len(current.lines):
                    pending[:0] = importing.split(current, smaller)
                    continue
                raise _located(exc, current, source, progress) from exc
            except LabelctlError as exc:
                exc.progress = progress
                raise
            progress.add(result, len(current.lines))
            if on_progress is not None:
                on_progress(progress)

    def list(self, project_id: int, *, status: str | None = None, page_size: int = 1000) -> Iterator[Task]:
        """Every task of a project (optionally by status: open, closed, gold), following the cursor."""
        return cast(Iterator[Task], self._http.pages(f"/projects/{project_id}/tasks", {"status": status},
                                                     page_size=page_size))

    def get(self, task_id: int) -> Task:
        """Read one task."""
        return cast(Task, self._http.request("GET", f"/tasks/{task_id}"))


def _server_limit(exc: ApiError) -> int | None:
    found = _SERVER_LIMIT.search(exc.message)
    return int(found.group(1)) if found else None


def _located(exc: ApiError, batch: Batch, source: str | None, progress: ImportProgress) -> ApiError:
    """The server's refusal of a batch, naming the file line of the row it names (`tasks.<index>.<field>`)."""
    parts = (exc.param or "").split(".")
    if len(parts) < 2 or parts[0] != "tasks" or not parts[1].isdigit() or int(parts[1]) >= len(batch.lines):
        exc.progress = progress
        return exc
    line = batch.lines[int(parts[1])]
    where = f"{source} line {line}" if source else f"task {line}"
    located = type(exc)(status=exc.status, code=exc.code, message=f"{where}: {_ROW.sub('', exc.message)}",
                        param=exc.param, errors=exc.errors, request_id=exc.request_id, headers=exc.headers)
    located.line = line
    located.progress = progress
    return located
