"""CPU of the two hot endpoints split by layer: how much of a lease and an answer is the framework (issue 20).

The app runs in this process on a PostgreSQL database of its own (bench_hot_path), driven by Flask's
test client: no gunicorn, no socket, no load generator, so the CPU counted is the request's own.
After a warm-up, annotators lease and answer `--pairs` tasks (at `--answers-per-task` 100 no task
closes; at 3 every third answer closes its task). Two passes: one timed with the process clock (CPU
ms per lease+answer pair), one under cProfile, whose own-time per function is charged to a layer:

- framework: flask, werkzeug, flask_smorest, webargs, marshmallow, apispec (routing, parsing the
  body, validating it, serialising the response);
- app: marketplace/ (our code);
- sqlalchemy, psycopg: the database layers (with `--clock wall`, the default, psycopg's share includes
  waiting on the server, which cProfile counts to the driver's C calls; `--clock cpu` times the profile
  with the process clock, so the waits drop out and the shares are of this process's CPU alone);
- other: the standard library and the rest.

The test client's own work (building each request's environ) is shown apart and left out of the
shares. cProfile inflates every Python call, so the shares are what to read, not the profiled
milliseconds; "CPU ms/pair" is the unprofiled pass, test client included.
Prints a table per configuration and the framework's ten costliest functions.

Run from the repo root:  .venv/bin/python benchmarks/hot_path_cpu.py [--pairs 3000] [--answers-per-task 100,3] [--clock wall|cpu]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402
from _lease_setup import load_tasks, project_body  # noqa: E402

DB = "bench_hot_path"
ANNOTATORS = 16
CLIENT = ("werkzeug/test.py", "flask/testing.py")  # the test client building requests: the load generator's work
FRAMEWORK = ("flask", "werkzeug", "flask_smorest", "webargs", "marshmallow", "apispec")
LAYERS = {"sqlalchemy": ("sqlalchemy",), "psycopg": ("psycopg", "psycopg_binary", "psycopg_c")}
SHOWN = ("framework", "app", "sqlalchemy", "psycopg", "other")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=3_000, help="lease+answer pairs measured per pass (default 3000)")
    p.add_argument("--warmup", type=int, default=300, help="unmeasured pairs first (default 300)")
    p.add_argument("--answers-per-task", default="100,3", help="redundancies, comma-separated (default 100,3)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="the profile's timer: wall (waits on the server count) or cpu (this process's CPU only)")
    p.add_argument("--keep-db", action="store_true")
    return p.parse_args()


class Api:
    """The API through Flask's test client, with the benchmark harness's expect() shape."""

    def __init__(self, app):
        self.client = app.test_client()

    def expect(self, method: str, path: str, body=None, token: str | None = None, status: int = 201):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        reply = self.client.open(path, method=method, json=body, headers=headers)
        if reply.status_code != status:
            raise RuntimeError(f"{method} {path}: expected {status}, got {reply.status_code}: {reply.json}")
        return reply.json

    def account(self, role: str, email: str) -> str:
        self.expect("POST", f"/api/v1/{role}", {"email": email, "password": h.PASSWORD, "display_name": email})
        return self.expect("POST", "/api/v1/auth/tokens", {"email": email, "password": h.PASSWORD})["token"]


def setup(api: Api, apt: int, tasks: int) -> tuple[int, list[str]]:
    requester = api.account("requesters", f"req-{apt}@bench.test")
    project_id = api.expect("POST", "/api/v1/projects", project_body(f"hot path x{apt}", apt), requester)["id"]
    with psycopg.connect(h.db_url(DB)) as conn:
        load_tasks(conn, project_id, tasks)
    project = api.expect("GET", f"/api/v1/projects/{project_id}", token=requester, status=200)
    worst = project["task_count"] * project["answers_per_task"] * project["escrow"]["answer_cost_cents"]
    while worst > 0:
        chunk = min(worst, 100_000_000)
        api.expect("POST", "/api/v1/payments/fundings", {"amount_cents": max(chunk, 50)}, requester)
        worst -= chunk
    api.expect("POST", f"/api/v1/projects/{project_id}/publish", token=requester, status=200)
    annotators = [api.account("annotators", f"ann-{apt}-{n}@bench.test") for n in range(ANNOTATORS)]
    return project_id, annotators


def pairs(api: Api, project_id: int, annotators: list[str], count: int, start: int) -> None:
    for n in range(start, start + count):
        token = annotators[n % len(annotators)]
        lease = api.expect("POST", f"/api/v1/projects/{project_id}/assignments", token=token)
        api.expect("POST", f"/api/v1/assignments/{lease['id']}/answer", {"answer": {"label": "a"}}, token, status=200)


def layer(filename: str) -> str:
    path = filename.replace("\\", "/")
    if "/marketplace/" in path:
        return "app"
    if any(path.endswith("/site-packages/" + name) for name in CLIENT):
        return "client"
    for name in FRAMEWORK:
        if f"/site-packages/{name}/" in path:
            return "framework"
    for where, packages in LAYERS.items():
        if any(f"/site-packages/{name}/" in path for name in packages):
            return where
    return "other"


def by_layer(stats: pstats.Stats) -> tuple[dict[str, float], list[tuple[float, str]]]:
    totals = dict.fromkeys(SHOWN + ("client",), 0.0)
    framework = []
    for (filename, line, name), (_cc, _nc, own, _cum, callers) in stats.stats.items():
        if filename == "~":  # a C function: charge it to its callers' layer (the first caller decides)
            caller = next(iter(callers), None)
            where = layer(caller[0]) if caller else "other"
        else:
            where = layer(filename)
        totals[where] += own
        if where == "framework" and filename != "~":
            short = filename.split("/site-packages/")[-1]
            framework.append((own, f"{short}:{line} {name}"))
    return totals, sorted(framework, reverse=True)[:10]


def main() -> None:
    args = parse_args()
    redundancies = [int(x) for x in args.answers_per_task.split(",")]
    h.recreate_db(DB)
    h.migrate(DB)
    os.environ.update(h.app_env(DB))
    from marketplace import create_app

    app = create_app()
    api = Api(app)
    tasks = (args.warmup + 2 * args.pairs) * max(1, min(redundancies)) + 1_000
    rows, tops = [], []
    try:
        for apt in redundancies:
            project_id, annotators = setup(api, apt, tasks)
            pairs(api, project_id, annotators, args.warmup, 0)
            started = time.process_time()
            pairs(api, project_id, annotators, args.pairs, args.warmup)
            cpu_ms = (time.process_time() - started) * 1000 / args.pairs
            profiler = cProfile.Profile(time.process_time) if args.clock == "cpu" else cProfile.Profile()
            profiler.enable()
            pairs(api, project_id, annotators, args.pairs, args.warmup + args.pairs)
            profiler.disable()
            totals, top = by_layer(pstats.Stats(profiler))
            whole = sum(totals.values()) - totals["client"]  # the server's side of each request
            rows.append([f"x{apt}", f"{cpu_ms:.2f}", f"{100 * totals['client'] / (whole + totals['client']):.1f}%"]
                        + [f"{100 * totals[k] / whole:.1f}%" for k in SHOWN])
            tops.append((apt, top, whole))
    finally:
        if not args.keep_db:
            h.drop_db(DB)
    print(f"\nCPU per lease+answer pair, in process ({args.pairs} pairs per pass, {ANNOTATORS} annotators; "
          f"shares by {args.clock} clock)")
    print(h.table(["answers_per_task", "CPU ms/pair", "test client", *SHOWN], rows))
    for apt, top, whole in tops:
        print(f"\nx{apt}: the framework's costliest functions (own time, share of the profiled pass)")
        print(h.table(["share", "function"], [[f"{100 * own / whole:.2f}%", name] for own, name in top]))


if __name__ == "__main__":
    main()
