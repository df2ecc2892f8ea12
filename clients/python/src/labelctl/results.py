"""Results: paged reads, streamed exports to a file, recomputes."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from labelctl._resource import Resource
from labelctl.types import Result

EXPORT_FORMATS = ("jsonl", "csv", "coco", "yolo", "conll", "spacy", "spacy-jsonl", "manifest")
_CHUNK = 64 * 1024


class Results(Resource):
    def list(self, project_id: int, *, page_size: int = 500) -> Iterator[Result]:
        """Every result of a project in task order, with each task's answers, following the cursor."""
        return cast(Iterator[Result], self._http.pages(f"/projects/{project_id}/results", page_size=page_size))

    def export(self, project_id: int, destination: str | os.PathLike[str] | BinaryIO, *, format: str = "jsonl",
               on_bytes: Callable[[int], None] | None = None) -> int:
        """Stream the project's export in `format` to a path (written whole or not at all) or a binary file.

        Returns the bytes written; `on_bytes` hears the running total as chunks arrive.
        """
        if format not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        if not isinstance(destination, (str, os.PathLike)):
            return self._stream(project_id, format, destination, on_bytes)
        target = Path(destination)
        handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                written = self._stream(project_id, format, out, on_bytes)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return written

    def _stream(self, project_id: int, format: str, out: BinaryIO, on_bytes: Callable[[int], None] | None) -> int:
        written = 0
        with self._http.stream("GET", f"/projects/{project_id}/results/export", params={"format": format}) as response:
            for chunk in response.iter_bytes(_CHUNK):
                out.write(chunk)
                written += len(chunk)
                if on_bytes is not None:
                    on_bytes(written)
        return written
