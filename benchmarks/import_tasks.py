"""Task import: 100,000 tasks through the HTTP API vs a raw PostgreSQL COPY of the same rows.

What it measures
  API:  POST /api/v1/projects/{id}/tasks with {"tasks": [...]} in batches of 10,000, one after the
        other, against the real app served by gunicorn (sync workers, --workers, jobs inline), as a
        requester with a bearer token. Timed from the first byte of JSON serialisation on the client
        to the last 201, so it includes serialising, HTTP, parsing, validation, the INSERTs and commits.
  COPY: psycopg `cursor.copy("COPY tasks (...) FROM STDIN")` writing the same rows (JSON serialised
        per row inside the timing) into another project, then commit: the floor for getting these
        rows into this table with its indexes.
  Each round starts both from an empty tasks table (TRUNCATE), in alternating order; the table
  prints the median over --rounds, tasks/s and API/COPY. Target (issue 2): API >= 15% of COPY's rate.

Run from the repo root:  .venv/bin/python benchmarks/import_tasks.py [--rounds 3] [--help]
Environment: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432); BENCH_APP_DIR, the checkout
to measure (default this repo). Database bench_import is dropped and recreated per run, and at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

DB = "bench_import"
COPY_SQL = ("COPY tasks (project_id, external_id, data, status, slots_taken, answer_count, created_at) "
            "FROM STDIN")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=100_000, help="tasks per import (default 100,000)")
    p.add_argument("--batch", type=int, default=10_000, help="tasks per API request (default 10,000, the maximum)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of API + COPY; the median is printed (default 3)")
    p.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    p.add_argument("--keep-db", action="store_true", help="leave the database behind for inspection")
    return p.parse_args()


def make_rows(n: int) -> list[dict]:
    """Tasks that look like a text/image labeling job (~150 bytes of JSON each)."""
    return [{"external_id": f"item-{i:07d}",
             "data": {"text": f"Sentence number {i} to classify by sentiment.",
                      "url": f"https://cdn.example.org/images/{i:07d}.jpg", "source": "bench", "n": i}}
            for i in range(n)]


def new_project(port: int, token: str, name: str) -> int:
    return h.expect(port, "POST", "/api/v1/projects", {
        "name": name, "label_schema": {"type": "classification", "classes": ["pos", "neg", "neutral"]},
        "reward_cents": 5, "answers_per_task": 3, "assignment_duration_s": 600, "max_leases_per_annotator": 1,
    }, token)["id"]


def truncate() -> None:
    with psycopg.connect(h.db_url(DB), autocommit=True) as conn:
        conn.execute("TRUNCATE tasks CASCADE")
        conn.execute("UPDATE projects SET task_count = 0")
        conn.execute("CHECKPOINT")


def via_api(server: h.Gunicorn, token: str, rows: list[dict], batch: int) -> tuple[float, float]:
    """Import rows through the API; return (seconds, worker CPU seconds)."""
    project = new_project(server.port, token, "import-api")
    path = f"/api/v1/projects/{project}/tasks"
    cpu = server.worker_cpu()
    began = time.perf_counter()
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        body = json.dumps({"tasks": chunk}).encode()
        out = h.expect(server.port, "POST", path, raw=body, token=token)
        if out["created"] != len(chunk):
            raise RuntimeError(f"API created {out['created']} of {len(chunk)}")
    return time.perf_counter() - began, server.worker_cpu() - cpu


def via_copy(server: h.Gunicorn, token: str, rows: list[dict]) -> float:
    """COPY the same rows straight into the tasks table; return seconds."""
    project = new_project(server.port, token, "import-copy")
    now = datetime.now(timezone.utc)
    with psycopg.connect(h.db_url(DB)) as conn:
        began = time.perf_counter()
        with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
            for row in rows:
                copy.write_row((project, row["external_id"], json.dumps(row["data"]), "open", 0, 0, now))
        conn.commit()
        seconds = time.perf_counter() - began
        count = conn.execute("SELECT count(*) FROM tasks WHERE project_id = %s", (project,)).fetchone()[0]
    if count != len(rows):
        raise RuntimeError(f"COPY stored {count} of {len(rows)} rows")
    return seconds


def main() -> None:
    args = parse_args()
    h.exit_on_sigterm()
    began = time.perf_counter()
    rows = make_rows(args.tasks)
    api_s, api_cpu, copy_s = [], [], []
    print(f"load average {os.getloadavg()[0]:.1f}; {args.tasks:,} tasks, batches of {args.batch:,}, "
          f"{args.rounds} rounds", flush=True)
    try:
        h.recreate_db(DB)
        h.migrate(DB)
        server = h.Gunicorn("wsgi:app", h.app_env(DB), args.workers)
        try:
            _, token = h.account(server.port, "requesters", "importer@bench.test")
            for round_no in range(args.rounds):
                order = ("api", "copy") if round_no % 2 == 0 else ("copy", "api")
                for kind in order:
                    truncate()
                    if kind == "api":
                        seconds, cpu = via_api(server, token, rows, args.batch)
                        api_s.append(seconds)
                        api_cpu.append(cpu)
                    else:
                        copy_s.append(via_copy(server, token, rows))
                print(f"  round {round_no + 1}: API {api_s[-1]:.2f} s, COPY {copy_s[-1]:.2f} s", flush=True)
        finally:
            server.stop()
    finally:
        if not args.keep_db:
            h.drop_db(DB)
    api, copy = statistics.median(api_s), statistics.median(copy_s)
    api_rate, copy_rate = args.tasks / api, args.tasks / copy
    print()
    print(f"Task import: {args.tasks:,} tasks; API = POST /projects/{{id}}/tasks, {args.batch:,} per request, "
          f"gunicorn sync x{args.workers}; median of {args.rounds} rounds; app from {h.APP_DIR}")
    print(h.table(["method", "seconds", "best s", "tasks/s", "vs COPY", "worker CPU s"], [
        ["API (HTTP, gunicorn)", api, min(api_s), api_rate, api_rate / copy_rate, statistics.median(api_cpu)],
        ["COPY (psycopg)", copy, min(copy_s), copy_rate, 1.0, float("nan")],
    ]))
    ratio = api_rate / copy_rate
    print()
    print(f"API rate / COPY rate: {ratio:.2f} (target >= 0.15) {'PASS' if ratio >= 0.15 else 'FAIL'}")
    print(f"total {time.perf_counter() - began:.0f} s; load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
