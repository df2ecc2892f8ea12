"""Shared helpers of the HTTP benchmarks (lease_throughput.py, import_tasks.py).

PostgreSQL databases created and dropped per run, gunicorn started and always stopped, a small
blocking client for setup calls, a lean asyncio load generator (raw sockets, one short connection
per request: gunicorn's sync workers close the connection after every response anyway), and
percentiles / a plain-text table. Standard library plus psycopg only; everything talks to 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
# The checkout whose wsgi.py, marketplace/ and migrations/ are measured (default: this repository).
# Point it at an exported commit (git archive) to measure a fixed state while the tree is being edited.
APP_DIR = Path(os.environ.get("BENCH_APP_DIR", REPO)).resolve()
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
PASSWORD = "bench-password-123"


def db_url(name: str) -> str:
    """Return the URL of database `name` on the benchmark server."""
    return f"{PG_URL}/{name}"


def admin_sql(*statements: str) -> None:
    """Run statements outside a transaction on the maintenance database."""
    with psycopg.connect(db_url("postgres"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def recreate_db(name: str, template: str | None = None) -> None:
    """Drop and create a database (optionally as a copy of `template`)."""
    suffix = f" TEMPLATE {template}" if template else ""
    admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}{suffix}")


def drop_db(name: str) -> None:
    admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def migrate(name: str) -> None:
    """Build the schema by running the app's migrations."""
    env = app_env(name)
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=APP_DIR, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


# PostgreSQL's autovacuum defaults: a table is analyzed once this many rows changed since its last
# ANALYZE (base + scale x its rows), and vacuumed once this many rows are dead.
ANALYZE_BASE, ANALYZE_SCALE = 50, 0.1
VACUUM_BASE, VACUUM_SCALE = 50, 0.2


def autovacuum(name: str) -> None:
    """Do on database `name` what PostgreSQL's autovacuum, at its default settings, would have done by now.

    The benchmark server may run with autovacuum off (this machine's does). Then a table a run fills
    from empty keeps an empty table's statistics for good, and every backend keeps the plans it
    made for one in its foreign-key checks and prepared statements (measured: a check on
    ledger_transactions read 30 buffers instead of 5), so the run measures a planner artifact no
    deployment has. Callers run this between measured windows, for every compared app alike.
    """
    with psycopg.connect(db_url(name), autocommit=True) as conn:
        tables = conn.execute("""SELECT s.relname, s.n_mod_since_analyze, s.n_dead_tup, greatest(c.reltuples, 0)
                                 FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid""").fetchall()
        for table, changed, dead, rows in tables:
            if dead > VACUUM_BASE + VACUUM_SCALE * rows:
                conn.execute(f'VACUUM ANALYZE "{table}"')
            elif changed > ANALYZE_BASE + ANALYZE_SCALE * rows:
                conn.execute(f'ANALYZE "{table}"')


def app_env(name: str) -> dict:
    """Environment of the app: PostgreSQL database `name`, jobs inline (no Redis)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "FLASK_APP")}
    env.update(DATABASE_URL=db_url(name), SECRET_KEY="bench-secret", PYTHONUNBUFFERED="1", PAYMENTS_SIMULATED="1",
               PYTHONPATH=os.pathsep.join([str(APP_DIR), str(HERE)]))
    # One load generator is many people on one address: the limits stay on (their cost is measured)
    # but with budgets a single machine's load cannot reach.
    env.update(RATELIMIT_SIGNUP_PER_CLIENT="1000000 per hour", RATELIMIT_LOGIN_PER_CLIENT="1000000 per hour",
               RATELIMIT_API="1000000 per minute", LOG_LEVEL="WARNING")  # no access line per request on the console
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn master (sync workers) on 127.0.0.1; `stop()` is safe to call twice."""

    def __init__(self, target: str, env: dict, workers: int, extra: tuple = (), database: str | None = None):
        self.port = free_port()
        self.database = database  # the database it serves, for autovacuum() between measured windows
        cmd = [str(BIN / "gunicorn"), "-k", "sync", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               "--log-level", "warning", "--backlog", "2048", *extra, target]
        self.proc = subprocess.Popen(cmd, cwd=APP_DIR, env=env, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                status, _ = call(self.port, "GET", "/__ready__")
                if status:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start listening in time")

    def worker_cpu(self) -> float:
        """CPU seconds used so far by the worker processes (user + system)."""
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return float("nan")
        return sum(cpu_ticks(pid) for pid in children) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only processes we started
            self.proc.wait()


def cpu_ticks(pid: str) -> int:
    """User + system CPU of process `pid` in clock ticks (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return 0


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks stop gunicorn."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# ---------------------------------------------------------------- blocking client for setup calls

def call(port: int, method: str, path: str, body=None, token: str | None = None, raw: bytes | None = None):
    """One HTTP request; returns (status, parsed JSON or None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(data) if data else None
    except ValueError:
        return response.status, None


def expect(port: int, method: str, path: str, body=None, token=None, status: int = 201, raw=None):
    got, data = call(port, method, path, body, token, raw)
    if got != status:
        raise RuntimeError(f"{method} {path}: expected {status}, got {got}: {data}")
    return data


def account(port: int, role: str, email: str) -> tuple[int, str]:
    """Register an account of `role` ('requesters' or 'annotators') and log in; return (id, token)."""
    created = expect(port, "POST", f"/api/v1/{role}", {"email": email, "password": PASSWORD, "display_name": email})
    token = expect(port, "POST", "/api/v1/auth/tokens", {"email": email, "password": PASSWORD})["token"]
    return created["id"], token


def publish(port: int, token: str, project_id: int) -> None:
    """Fund the requester for the project's worst case (simulated: the app runs ledger-only) and publish it."""
    project = expect(port, "GET", f"/api/v1/projects/{project_id}", token=token, status=200)
    answers = project["task_count"] * project["answers_per_task"]
    if project["gold_count"]:  # the gold allowance at the project's gold rate, as the app reckons it
        answers += math.ceil(answers * project["gold_rate"] / (1 - project["gold_rate"]))
    worst = answers * project["escrow"]["answer_cost_cents"]
    while worst > 0:
        chunk = min(worst, 100_000_000)
        funded = expect(port, "POST", "/api/v1/payments/fundings", {"amount_cents": max(chunk, 50)}, token)
        assert funded["simulated"] and funded["status"] == "succeeded", funded
        worst -= chunk
    expect(port, "POST", f"/api/v1/projects/{project_id}/publish", token=token, status=200)


def accounts(port: int, role: str, emails: list[str], threads: int = 4) -> list[tuple[int, str]]:
    """Register many accounts in parallel (argon2 makes each take ~0.2 s of CPU)."""
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda e: account(port, role, e), emails))


# ---------------------------------------------------------------- asyncio load generator

def raw_request(method: str, path: str, body: bytes = b"", token: str | None = None) -> bytes:
    """Serialise one HTTP/1.1 request that asks the server to close the connection afterwards."""
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
            f"Content-Length: {len(body)}"]
    if body:
        head.append("Content-Type: application/json")
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def send(port: int, request: bytes) -> tuple[int, bytes]:
    """Send one request on a fresh connection and read the response until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        data = await reader.read(-1)
    finally:
        writer.close()
    if len(data) < 12:
        return 0, b""
    return int(data[9:12]), data[data.find(b"\r\n\r\n") + 4:]


@dataclass
class Samples:
    """Completed requests of one kind: (end time, latency s, status)."""

    rows: list = field(default_factory=list)

    def within(self, windows: list[tuple[float, float]], ok: int):
        """Latencies of the `ok` responses that ended inside any window, sorted; and the others' count."""
        inside = [r for r in self.rows if any(start <= r[0] < end for start, end in windows)]
        good = sorted(r[1] for r in inside if r[2] == ok)
        return good, len(inside) - len(good)


@dataclass
class Summary:
    rate: float
    p50_ms: float
    p99_ms: float
    count: int
    errors: int
    p95_ms: float = float("nan")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def summarise(samples: Samples, windows: list[tuple[float, float]], ok: int) -> Summary:
    good, errors = samples.within(windows, ok)
    seconds = sum(end - start for start, end in windows)
    return Summary(len(good) / seconds, percentile(good, 50) * 1e3, percentile(good, 99) * 1e3, len(good), errors,
                   percentile(good, 95) * 1e3)


class Annotator:
    """How one simulated annotator asks for a lease and answers it (app or reference dialect)."""

    def __init__(self, lease_request: bytes, answer_request):
        self.lease_request = lease_request
        self.answer_request = answer_request  # assignment id -> request bytes
        self.leases = Samples()
        self.answers = Samples()
        self.statuses: dict[int, int] = {}


async def _annotator_loop(port: int, who: Annotator, stop_at: float) -> None:
    while time.perf_counter() < stop_at:
        status = await _pair(port, who)
        if status != 201:
            await asyncio.sleep(0.05 if status == 404 else 0.01)


def run_load(port: int, annotators: list[Annotator], seconds: float, warmup: float) -> tuple[float, float, float]:
    """Run every annotator's lease -> answer loop; return (window start, window end, client CPU s)."""
    cpu0 = time.process_time()
    start = time.perf_counter() + warmup
    end = start + seconds

    async def main():
        await asyncio.gather(*(_annotator_loop(port, a, end) for a in annotators))

    asyncio.run(main())
    return start, end, time.process_time() - cpu0


async def _pair(port: int, who: Annotator) -> int:
    """One lease -> answer pair (no retry: a refused lease ends the pair); returns the lease's status."""
    clock = time.perf_counter
    began = clock()
    try:
        status, body = await send(port, who.lease_request)
    except OSError:
        status, body = 0, b""
    ended = clock()
    who.leases.rows.append((ended, ended - began, status))
    who.statuses[status] = who.statuses.get(status, 0) + 1
    if status != 201:
        return status
    began = clock()
    try:
        answered, _ = await send(port, who.answer_request(json.loads(body)["id"]))
    except OSError:
        answered = 0
    ended = clock()
    who.answers.rows.append((ended, ended - began, answered))
    return status


def run_open_loop(port: int, annotators: list[Annotator], rate: float, seconds: float, warmup: float,
                  seed: int) -> tuple[float, float, int]:
    """Poisson arrivals of lease -> answer pairs at `rate` per second, each by an annotator not busy with
    one (latency does not slow the arrivals, as it would in a closed loop). Returns (window start,
    window end, arrivals that found every annotator busy: the server fell that far behind)."""
    rng = random.Random(seed)

    async def main() -> int:
        idle = list(reversed(annotators))
        running: set = set()
        turned_away = 0
        loop = asyncio.get_running_loop()
        due = loop.time()
        stop = due + warmup + seconds
        while due < stop:
            await asyncio.sleep(max(0.0, due - loop.time()))
            if idle:
                who = idle.pop()
                pair = asyncio.ensure_future(_pair(port, who))
                running.add(pair)
                pair.add_done_callback(lambda done, who=who: (running.discard(done), idle.append(who)))
            else:
                turned_away += 1
            due += rng.expovariate(rate)
        await asyncio.gather(*running)
        return turned_away

    start = time.perf_counter() + warmup
    turned_away = asyncio.run(main())
    return start, start + seconds, turned_away


def merged(annotators: list[Annotator], kind: str) -> Samples:
    out = Samples()
    for a in annotators:
        out.rows.extend(getattr(a, kind).rows)
    return out


# ---------------------------------------------------------------- output

def table(headers: list[str], rows: list[list]) -> str:
    """Format rows as a plain-text table with right-aligned numbers."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    out = [line, "-" * len(line)]
    for row in cells:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(out)


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
