"""What the CLI prints: JSON on stdout (objects pretty, lists as JSON Lines), or tables; notes,
errors and progress bars on stderr, so stdout stays machine-readable."""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from labelctl.errors import ApiError


class Output:
    def __init__(self, stdout: IO[str], stderr: IO[str], *, table: bool = False) -> None:
        self.stdout, self.stderr, self.table = stdout, stderr, table

    def object(self, value: Mapping[str, Any] | None) -> None:
        """One object: indented JSON, or `key  value` lines."""
        if value is None:
            return
        if self.table:
            width = max((len(k) for k in value), default=0)
            for key, item in value.items():
                shown = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
                print(f"{key:<{width}}  {shown}", file=self.stdout)
            return
        print(json.dumps(value, indent=2, ensure_ascii=False), file=self.stdout)

    def rows(self, values: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> int:
        """Many objects: one JSON object per line as they arrive, or an aligned table of some columns."""
        count = 0
        if not self.table:
            for value in values:
                print(json.dumps(value, ensure_ascii=False), file=self.stdout, flush=False)
                count += 1
            self.stdout.flush()
            return count
        cells = [[_cell(value.get(c)) for c in columns] for value in values]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
        for row in [list(columns), *cells]:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=self.stdout)
        return len(cells)

    def note(self, message: str) -> None:
        print(message, file=self.stderr)

    def error(self, error: BaseException) -> None:
        """An error for a person: the code and message, the field, the request id to quote."""
        if isinstance(error, ApiError):
            lines = [f"error: {error.code} ({error.status}): {error.message}"]
            if error.param:
                lines.append(f"  field: {error.param}")
            if error.request_id:
                lines.append(f"  request id: {error.request_id}")
        else:
            lines = [f"error: {error}"]
        print("\n".join(lines), file=self.stderr)

    def bar(self, label: str, total: float | None = None) -> ProgressBar:
        return ProgressBar(self.stderr, label, total)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class ProgressBar:
    """A one-line bar on stderr, redrawn in place on a terminal; elsewhere a line every tenth of the way."""

    WIDTH = 30

    def __init__(self, stream: IO[str], label: str, total: float | None) -> None:
        self.stream, self.label, self.total = stream, label, total
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_tenth = -1
        self.last_printed: tuple[float, str] | None = None
        self.drawn = False

    def update(self, done: float, detail: str = "", *, final: bool = False) -> None:
        fraction = min(done / self.total, 1.0) if self.total else None
        if fraction is not None:
            filled = int(self.WIDTH * fraction)
            line = f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {100 * fraction:5.1f}%"
        else:
            line = f"{self.label} {size(done)}"
        line = f"{line}  {detail}  {time.monotonic() - self.started:.1f}s".rstrip()
        if self.live:
            self.stream.write("\r\x1b[2K" + line)
            self.drawn = True
            if final:
                self.stream.write("\n")
            self.stream.flush()
            return
        tenth = int(fraction * 10) if fraction is not None else self.last_tenth  # no total: only the last line
        if (final and (done, detail) != self.last_printed) or tenth > self.last_tenth:
            self.last_tenth, self.last_printed = tenth, (done, detail)
            print(line, file=self.stream, flush=True)

    def finish(self, done: float, detail: str = "") -> None:
        self.update(done, detail, final=True)


def size(count: float) -> str:
    """A byte count for people (1.2 MB)."""
    for unit in ("B", "kB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"
