"""Import and export jobs: big work the server does in the background, followed by its progress.

    job = client.exports.create(project_id, format="coco")
    job = client.exports.wait(job["id"], on_progress=lambda j: print(j["percent"]))
    client.exports.download(job["id"], "results.json")   # resumes a broken download with Range

    job = client.imports.upload(project_id, "tasks.jsonl")  # any size: the server imports it in chunks
    client.imports.wait(job["id"])

A download goes to `<destination>.<export>-<etag>.part` and is renamed when complete: run it again
after a broken connection and it asks only for the bytes it lacks (`Range`, `If-Range` with the
file's ETag, so a partial file is never completed with another file's bytes).
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource
from labelctl.errors import LabelctlError, NetworkError
from labelctl.types import ExportJob, ImportJob, TransferJob

FINISHED = frozenset({"succeeded", "failed"})
_CHUNK = 256 * 1024


class JobFailed(LabelctlError):
    """A job ended in `failed`: `code`, `message` and `errors` are the job's own (a bad row names its line)."""

    def __init__(self, job: TransferJob) -> None:
        error = job.get("error") or {}
        self.job = job
        self.code = error.get("code", "failed")
        self.message = error.get("message", "the job failed")
        self.errors = error.get("errors") or {}
        super().__init__(f"{job.get('id')}: {self.code}: {self.message}")


class _Jobs(Resource):
    kind = ""

    def get(self, job_id: int) -> Any:
        """Read one job: status, rows done of the total, percent, ETA."""
        return self._http.request("GET", f"/{self.kind}s/{job_id}")

    def list(self, project_id: int, *, page_size: int = 100) -> Iterator[Any]:
        """A project's jobs of this kind, newest first."""
        return self._http.pages(f"/projects/{project_id}/{self.kind}s", page_size=page_size)

    def wait(self, job_id: int, *, interval: float = 2.0, timeout: float | None = None,
             on_progress: Callable[[Any], None] | None = None, sleep: Callable[[float], None] = time.sleep) -> Any:
        """Poll until the job finishes; return it when it succeeded, raise JobFailed when it failed.

        `timeout` (seconds) raises TimeoutError with the job still running on the server.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if on_progress is not None:
                on_progress(job)
            if job.get("status") == "failed":
                raise JobFailed(job)
            if job.get("status") in FINISHED:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{self.kind} {job_id} is still {job.get('status')} after {timeout} s")
            sleep(interval)


class Exports(_Jobs):
    kind = "export"

    def create(self, project_id: int, *, format: str = "jsonl", idempotency_key: IdempotencyKey = None,
               **options: Any) -> ExportJob:
        """Queue an export of the project's results; `options` are the format's own (val_fraction, lang, ...)."""
        body = {"format": format, **{k: v for k, v in options.items() if v is not None}}
        return cast(ExportJob, self._http.request("POST", f"/projects/{project_id}/exports", json=body,
                                                  idempotency_key=idempotency_key))

    def download(self, export_id: int, destination: str | os.PathLike[str], *, attempts: int = 5,
                 on_bytes: Callable[[int, int], None] | None = None) -> Path:
        """Download a finished export to a path, resuming after broken connections; returns the path.

        `on_bytes(done, total)` hears the progress. Bytes already in the `.part` file are not asked again.
        """
        job = cast(ExportJob, self.get(export_id))
        if job.get("status") != "succeeded" or not job.get("download_url"):
            raise LabelctlError(f"export {export_id} is {job.get('status')}: nothing to download yet")
        target = Path(destination)
        etag = job.get("etag") or ""
        partial = target.with_name(f"{target.name}.{export_id}-{re.sub(r'[^A-Za-z0-9]', '', etag)[:24]}.part")
        total = int(job.get("size_bytes") or 0)
        for attempt in range(attempts):
            try:
                self._fetch(export_id, partial, etag, total, on_bytes)
                break
            except (httpx.TransportError, NetworkError):
                if attempt == attempts - 1:
                    raise NetworkError(f"export {export_id}: the download broke {attempts} times; "
                                       f"{partial.stat().st_size if partial.exists() else 0} bytes kept in {partial}")
        os.replace(partial, target)
        return target

    def _fetch(self, export_id: int, partial: Path, etag: str, total: int,
               on_bytes: Callable[[int, int], None] | None) -> None:
        have = partial.stat().st_size if partial.exists() else 0
        if total and have >= total:
            return
        headers = {"Range": f"bytes={have}-", "If-Range": etag} if have else {}
        with self._http.stream("GET", f"/exports/{export_id}/download", headers=headers) as response:
            mode = "ab" if response.status_code == 206 else "wb"  # 200: the whole file, from the start
            done = have if mode == "ab" else 0
            with open(partial, mode) as out:
                for chunk in response.iter_bytes(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if on_bytes is not None:
                        on_bytes(done, total)


class Imports(_Jobs):
    kind = "import"

    def upload(self, project_id: int, file: str | os.PathLike[str], *, format: str | None = None,
               idempotency_key: IdempotencyKey = None) -> ImportJob:
        """Upload a JSONL or CSV file of tasks (no row limit, streamed from disk) and queue its import."""
        return cast(ImportJob, self._http.upload(f"/projects/{project_id}/imports/upload", Path(file),
                                                 params={"format": format}, idempotency_key=idempotency_key))

    def from_url(self, project_id: int, url: str, *, format: str | None = None,
                 idempotency_key: IdempotencyKey = None) -> ImportJob:
        """Queue the import of a file the server fetches from an https URL (e.g. a signed object URL)."""
        body = {"url": url, **({"format": format} if format else {})}
        return cast(ImportJob, self._http.request("POST", f"/projects/{project_id}/imports", json=body,
                                                  idempotency_key=idempotency_key))
