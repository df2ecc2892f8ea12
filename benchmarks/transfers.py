"""Import and export jobs end to end: 1,000,000 tasks uploaded and imported by a real rq worker, then exported.

What it measures
  Import: a JSONL file of --tasks rows (~150 bytes each, like import_tasks.py's) is generated on disk,
          then timed from the first byte of the multipart upload (POST /projects/{id}/imports/upload,
          streamed from the file, to gunicorn) until the job's row says `succeeded`: the upload,
          storing the file's chunks, and the job's parsing, validation, INSERTs and checkpoint commits
          in chunks of TRANSFER_IMPORT_CHUNK_ROWS. Target (issue 18): >= 30,000 tasks/s.
  Export: every task is given a result (one SQL statement, not timed), then POST /projects/{id}/exports
          (JSONL) is timed until `succeeded`, and the download (GET .../download) until its last byte.
  The worker is one `rq worker -w rq.worker.SimpleWorker` process (jobs run in it, no fork): its peak
  resident set (VmHWM) after each job shows whether memory stayed flat. Status is read from the
  database every 0.1 s (the time resolution).

Run from the repo root:  .venv/bin/python benchmarks/transfers.py [--tasks 1000000] [--help]
Environment: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/10, flushed), BENCH_APP_DIR. Database bench_transfers is dropped and recreated per run.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

DB = "bench_transfers"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
BOUNDARY = "benchtransfersboundary"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=1_000_000, help="rows in the file (default 1,000,000)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    p.add_argument("--keep-db", action="store_true", help="leave the database behind for inspection")
    return p.parse_args()


def write_file(path: Path, n: int) -> int:
    """The same rows as import_tasks.py's make_rows, as JSON Lines; returns the size in bytes."""
    with path.open("w") as out:
        for i in range(n):
            out.write(json.dumps({"external_id": f"item-{i:07d}",
                                  "data": {"text": f"Sentence number {i} to classify by sentiment.",
                                           "url": f"https://cdn.example.org/images/{i:07d}.jpg", "source": "bench",
                                           "n": i}}) + "\n")
    return path.stat().st_size


def upload(port: int, token: str, project: int, path: Path) -> dict:
    """Stream a multipart upload of the file (never whole in this process's memory)."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"tasks.jsonl\"\r\n"
            f"Content-Type: application/x-ndjson\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    size = len(head) + path.stat().st_size + len(tail)

    def body():
        yield head
        with path.open("rb") as f:
            while piece := f.read(1 << 20):
                yield piece
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    conn.request("POST", f"/api/v1/projects/{project}/imports/upload", body=body(), encode_chunked=False,
                 headers={"Authorization": f"Bearer {token}", "Content-Length": str(size),
                          "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    if response.status != 202:
        raise RuntimeError(f"upload: {response.status} {data}")
    return data


def wait_done(transfer_id: int, timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    with psycopg.connect(h.db_url(DB), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT status, rows_done, error_message FROM transfers WHERE id = %s",
                               (transfer_id,)).fetchone()
            if row[0] in ("succeeded", "failed"):
                if row[0] == "failed":
                    raise RuntimeError(f"transfer {transfer_id} failed: {row[2]}")
                return {"status": row[0], "rows": row[1]}
            time.sleep(0.1)
    raise RuntimeError(f"transfer {transfer_id} did not finish in {timeout} s")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def download(port: int, token: str, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    total = 0
    while piece := response.read(1 << 20):
        total += len(piece)
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"download: {response.status}")
    return total


def main() -> None:
    args = parse_args()
    h.exit_on_sigterm()
    began = time.perf_counter()
    print(f"load average {os.getloadavg()[0]:.1f}; {args.tasks:,} tasks", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.jsonl"
        size = write_file(path, args.tasks)
        h.recreate_db(DB)
        h.migrate(DB)
        env = {**h.app_env(DB), "REDIS_URL": REDIS_URL}
        subprocess.run([str(h.BIN / "python"), "-c", f"import redis; redis.Redis.from_url({REDIS_URL!r}).flushdb()"],
                       check=True)
        server = h.Gunicorn("wsgi:app", env, args.workers)
        worker = subprocess.Popen([str(h.BIN / "rq"), "worker", "-w", "rq.worker.SimpleWorker", "-u", REDIS_URL,
                                   "transfers"], cwd=h.APP_DIR, env=env, stdout=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            _, token = h.account(server.port, "requesters", "transfers@bench.test")
            project = h.expect(server.port, "POST", "/api/v1/projects", {
                "name": "transfers", "label_schema": {"type": "classification", "classes": ["pos", "neg", "neutral"]},
                "reward_cents": 5, "answers_per_task": 3, "assignment_duration_s": 600,
                "max_leases_per_annotator": 1}, token)["id"]
            start = time.perf_counter()
            created = upload(server.port, token, project, path)
            uploaded = time.perf_counter() - start
            done = wait_done(created["id"])
            seconds = time.perf_counter() - start
            if done["rows"] != args.tasks:
                raise RuntimeError(f"imported {done['rows']} of {args.tasks}")
            import_rss = peak_rss_mib(worker.pid)
            rows.append([f"import (upload {uploaded:.1f} s + job)", seconds, args.tasks / seconds, import_rss,
                         size / 2 ** 20])

            with psycopg.connect(h.db_url(DB), autocommit=True) as conn:
                conn.execute("INSERT INTO results (task_id, project_id, label, confidence, method, answer_count, tie, "
                             "announced, created_at, updated_at) SELECT id, project_id, '{\"label\": \"pos\"}', 0.9, "
                             "'mv', 3, false, true, now(), now() FROM tasks WHERE project_id = %s", (project,))
                conn.execute("VACUUM ANALYZE results")
            start = time.perf_counter()
            export = h.expect(server.port, "POST", f"/api/v1/projects/{project}/exports", {"format": "jsonl"}, token,
                              status=202)
            done = wait_done(export["id"])
            seconds = time.perf_counter() - start
            rows.append(["export (job)", seconds, done["rows"] / seconds, peak_rss_mib(worker.pid), float("nan")])
            start = time.perf_counter()
            got = download(server.port, token, f"/api/v1/exports/{export['id']}/download")
            seconds = time.perf_counter() - start
            rows.append(["download (GET, whole file)", seconds, done["rows"] / seconds, float("nan"), got / 2 ** 20])
        finally:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=30)
            server.stop()
            if not args.keep_db:
                h.drop_db(DB)
    print()
    print(f"Transfers: {args.tasks:,} tasks; one rq SimpleWorker; gunicorn sync x{args.workers}; app from {h.APP_DIR}")
    print(h.table(["step", "seconds", "rows/s", "worker peak RSS MiB", "file MiB"], rows))
    rate = rows[0][2]
    print()
    print(f"import through the job: {rate:,.0f} tasks/s (target >= 30,000) {'PASS' if rate >= 30_000 else 'FAIL'}")
    print(f"total {time.perf_counter() - began:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
