"""Project recompute at scale: 1M and 10M answers read, inferred (the default truth model) and written back.

Per size: a project of answers/5 closed tasks, 5,000 annotators and 5 answers per task (5 classes;
annotators right with accuracy drawn from 0.55-0.95, a tenth of them spammers), each task with the
result its closing answer wrote (so the recompute rewrites results, as in a running project), loaded with SQL,
then the app's own recompute job (marketplace/results/recompute.py) run on PostgreSQL in a fresh
process (so that its peak RSS is that recompute's). Prints the seconds of each stage (read,
encode, infer, write results, trust, commit), the total and the peak RSS per size, and a linear
extrapolation to 100M answers from the two largest sizes. Targets (issue 20): 10M answers <= 45 s
end to end with a peak RSS <= 1.5 GB; 100M within the 600 s job timeout (in chunks), <= 8 min.

A job writes its results itself while it would end within a quarter of the job timeout, and stages
the rest for merge jobs of RECOMPUTE_CHUNK_TASKS tasks each (results/chunked.py). Each size is run
twice: as the app runs it, then with every result after the first range staged ("staged"), which
measures what staging and merging cost per result; every job is timed on its own. The 100M figure
applies the app's rule to those measured rates.

Run from the repo root:  .venv/bin/python benchmarks/recompute.py [--answers 1000000,10000000] [--keep-db]
(the 10M load takes a few minutes of server-side SQL)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

DB = "bench_recompute"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--answers", default="1000000,10000000",
                   help="project sizes in answers, comma-separated (default 1M and 10M)")
    p.add_argument("--answers-per-task", type=int, default=5)
    p.add_argument("--annotators", type=int, default=5_000)
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--run-one", type=int, metavar="PROJECT", help=argparse.SUPPRESS)  # the child's mode
    p.add_argument("--staged", action="store_true", help=argparse.SUPPRESS)  # the child: no time budget
    return p.parse_args()


def load(args, tasks: int) -> int:
    """Accounts, one project, its closed tasks and their answers, all with server-side SQL."""
    with psycopg.connect(h.db_url(DB)) as conn:
        conn.execute("""INSERT INTO accounts (email, password_hash, role, status, display_name, created_at, updated_at)
                        VALUES ('req@bench.test', 'x', 'requester', 'active', '', now(), now())""")
        conn.execute("""INSERT INTO accounts (email, password_hash, role, status, display_name, created_at, updated_at)
                        SELECT 'ann' || g || '@bench.test', 'x', 'annotator', 'active', '', now(), now()
                        FROM generate_series(1, %s) g""", (args.annotators,))
        project = conn.execute("""
            INSERT INTO projects (requester_id, name, description, instructions, label_schema, reward_cents, currency,
                answers_per_task, assignment_duration_s, max_leases_per_annotator, gold_rate, gold_feedback,
                requirements, quality_rules, gold_count, aggregation, status, task_count,
                created_at, updated_at)
            SELECT id, 'recompute', '', '', '{"type": "classification", "classes": ["a", "b", "c", "d", "e"]}', 1,
                'usd', %s, 600, 1, 0, false, '{}', '[]', 0, 'ds', 'open', %s, now(), now()
            FROM accounts WHERE role = 'requester' RETURNING id""", (args.answers_per_task, tasks)).fetchone()[0]
        conn.execute("""INSERT INTO tasks (project_id, external_id, data, status, slots_taken, slot_limit, answer_count,
                                           created_at, closed_at)
                        SELECT %(p)s, 't' || g, '{}', 'closed', %(k)s, %(k)s, %(k)s, now(), now()
                        FROM generate_series(1, %(n)s) g""", {"p": project, "k": args.answers_per_task, "n": tasks})
        # Truth per task; annotator w is right with accuracy acc(w) (spammers: every tenth, uniform answers).
        conn.execute("""
            CREATE TEMP TABLE truth AS SELECT id AS task_id, floor(random() * 5)::int AS k,
                   row_number() OVER (ORDER BY id) AS n FROM tasks WHERE project_id = %s""", (project,))
        conn.execute("""
            CREATE TEMP TABLE crowd AS SELECT id AS annotator_id, row_number() OVER (ORDER BY id) - 1 AS w,
                   CASE WHEN (row_number() OVER (ORDER BY id)) % 10 = 0 THEN 0.2 ELSE 0.55 + random() * 0.4 END AS acc
            FROM accounts WHERE role = 'annotator'""")
        conn.execute("""
            INSERT INTO assignments (task_id, project_id, annotator_id, status, leased_at, expires_at, submitted_at,
                                     ended_at, answer, duration_ms, is_gold)
            SELECT t.task_id, %(p)s, c.annotator_id, 'submitted', now(), now(), now(), now(),
                   jsonb_build_object('label', (ARRAY['a','b','c','d','e'])[
                       1 + CASE WHEN random() < c.acc THEN t.k ELSE (t.k + 1 + floor(random() * 4)::int) %% 5 END]),
                   4000, false
            FROM truth t CROSS JOIN generate_series(0, %(k)s - 1) j
            JOIN crowd c ON c.w = (t.n * 7 + j * 997) %% %(w)s""",
                     {"p": project, "k": args.answers_per_task, "w": args.annotators})
        conn.execute("""INSERT INTO annotator_stats (annotator_id, project_id, answers, duration_ms_total, gold_seen,
                            gold_correct, agreement_answers, weight, blocked, created_at, updated_at)
                        SELECT annotator_id, %s, count(*), 0, 0, 0, 0, 1.0, false, now(), now()
                        FROM assignments GROUP BY annotator_id""", (project,))
        # Every closed task already has the result its closing answer wrote (results/closing.py), as in a
        # running project: the recompute rewrites them.
        conn.execute("""INSERT INTO results (task_id, project_id, label, confidence, method, answer_count, tie, posterior,
                                             announced, created_at, updated_at)
                        SELECT id, %(p)s, '"a"', 0.5, 'dawid_skene', %(k)s, false, '[0.5, 0.5, 0, 0, 0]', true, now(), now()
                        FROM tasks WHERE project_id = %(p)s""", {"p": project, "k": args.answers_per_task})
        conn.execute("INSERT INTO project_progress (project_id, done_tasks) VALUES (%s, %s)", (project, tasks))
        conn.commit()
    with psycopg.connect(h.db_url(DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return project


def merge_lane(app, project: int, lane: int, merges: list) -> None:
    """One lane's merge jobs, one after the other until no chunk is left to claim, each timed."""
    from marketplace import queue
    from marketplace.db import utcnow
    from marketplace.extensions import db
    from marketplace.results import chunked

    with app.app_context():
        while True:
            t = time.perf_counter()
            merged = chunked.merge_next_chunk(project_id=project, lane=lane, now=utcnow())
            db.session.commit()
            queue.discard_pending()
            if merged["merged"] is None:
                return
            merges.append(time.perf_counter() - t)


def run_one(project: int, staged: bool) -> None:
    """The child process: the recompute's jobs one after the other, as a worker runs them; each job's
    seconds (the fitting job's by stage), and the peak RSS, as one JSON line. `staged`: no time budget
    (everything after the first range is staged and merged a chunk per job)."""
    os.environ.update(h.app_env(DB))
    sys.path.insert(0, str(h.APP_DIR))
    from marketplace import create_app, queue
    from marketplace.db import utcnow
    from marketplace.extensions import db
    from marketplace.results import chunked, recompute, runs, store

    stages: dict[str, float] = {}

    def timed(module, name, label):
        original = getattr(module, name)

        def run(*a, **k):
            t = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                stages[label] = stages.get(label, 0.0) + time.perf_counter() - t
        setattr(module, name, run)

    timed(store, "read_answers", "read answers")
    timed(recompute.inference, "encode_coded_answers", "encode ids")
    timed(recompute.truth_model, "fit", "truth model (default method)")
    timed(store, "write_results", "write results")
    timed(store, "stage_results", "stage results")
    timed(recompute, "update_trust", "write trust")
    app = create_app()
    if staged:  # one chunk written by the job, the rest staged
        chunked.WRITE_BUDGET_SHARE, chunked.WRITE_RANGE = 0.0, app.config["RECOMPUTE_CHUNK_TASKS"]
    merges = []
    with app.app_context():
        runs.queue_run(project_id=project, reason="requested", now=utcnow())  # as the requester's trigger does
        db.session.commit()
        queue.discard_pending()
        t0 = time.perf_counter()
        outcome = recompute.recompute_project(project_id=project, now=utcnow())
        t1 = time.perf_counter()
        db.session.commit()
        queue.discard_pending()  # the merge jobs run below, each timed
        stages["commit"] = time.perf_counter() - t1
        fit_job = time.perf_counter() - t0
        if outcome.get("chunks"):  # the merge jobs, MERGE_LANES at a time as that many workers would run them
            lanes = [threading.Thread(target=merge_lane, args=(app, project, lane, merges))
                     for lane in range(chunked.MERGE_LANES)]
            for thread in lanes:
                thread.start()
            for thread in lanes:
                thread.join()
        total = time.perf_counter() - t0
        chunk_tasks = app.config["RECOMPUTE_CHUNK_TASKS"]
        results = db.session.execute(db.text("SELECT count(*) FROM results WHERE project_id = :p"), {"p": project}).scalar()
    print(json.dumps({"stages": stages, "fit_job": fit_job, "merges": merges, "total": total, "staged": staged,
                      "chunk_tasks": chunk_tasks, "write_range": chunked.WRITE_RANGE, "results": results,
                      "budget_s": chunked.WRITE_BUDGET_SHARE * app.config["RQ_JOB_TIMEOUT_S"],
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "answers": outcome["answers"], "annotators": outcome["annotators"],
                      "iterations": outcome["iterations"], "model": outcome["model"]["method"]}))


def _extrapolated(args, as_run: list[dict], staged: list[dict]) -> str:
    """100M answers from the last two sizes: reading, inferring and trust grow linearly with the answers;
    writing, staging and merging cost what they cost per result in the measured runs; the app's rule
    (write while the job would end within its budget, stage the rest) decides how many results each takes."""
    small, big = as_run
    fixed = ("read answers", "encode ids", "truth model (default method)", "write trust", "commit")
    core = [sum(m["stages"].get(name, 0.0) for name in fixed) for m in as_run]
    core_100m = core[1] + (core[1] - core[0]) / (big["answers"] - small["answers"]) * (100_000_000 - big["answers"])
    write = sum(m["stages"]["write results"] for m in as_run) / sum(m["results"] for m in as_run)
    stage = sum(m["stages"]["stage results"] for m in staged) / sum(m["results"] - m["write_range"] for m in staged)
    merges = [t for m in staged for t in m["merges"]]
    per_merge = sum(m["total"] - m["fit_job"] for m in staged) / len(merges)  # wall time per chunk, lanes side by side
    rss = big["rss_mb"] + (big["rss_mb"] - small["rss_mb"]) / (big["answers"] - small["answers"]) * (100_000_000 - big["answers"])
    results = 100_000_000 // args.answers_per_task
    written = min(results, max(big["write_range"], int((big["budget_s"] - core_100m) / write) // big["write_range"] * big["write_range"]))
    chunks = -(-(results - written) // big["chunk_tasks"])
    fit_job = core_100m + written * write + (results - written) * stage
    total = fit_job + chunks * per_merge
    return (f"100M answers, extrapolated: the fitting job {fit_job:.0f} s (read and infer {core_100m:.0f} s, writes "
            f"{written:,} results itself at {write * 1e6:.1f} us each, stages {results - written:,} at {stage * 1e6:.1f} us; "
            f"peak RSS {rss / 1024:.1f} GB), then {chunks} merge jobs, {per_merge:.2f} s of wall time each side by side; total {total / 60:.1f} min "
            f"(target <= 8 min) {'PASS' if total <= 480 else 'FAIL'}; longest job {max(fit_job, max(merges)):.0f} s "
            f"(job timeout 600 s) {'PASS' if max(fit_job, max(merges)) <= 600 else 'FAIL'}")


def main() -> None:
    args = parse_args()
    if args.run_one:
        run_one(args.run_one, args.staged)
        return
    sizes = [int(n) for n in args.answers.split(",") if n]
    measured = []
    for answers in sizes:
        tasks = answers // args.answers_per_task
        began = time.perf_counter()
        h.recreate_db(DB)
        try:
            h.migrate(DB)
            project = load(args, tasks)
            loaded = time.perf_counter() - began
            print(f"{answers:,} answers loaded in {loaded:.0f} s; recomputing ...", flush=True)
            for staged in ([], ["--staged"]):
                child = subprocess.run([sys.executable, __file__, "--run-one", str(project), *staged], capture_output=True,
                                       text=True, env={**os.environ, **h.app_env(DB)})
                if child.returncode:
                    raise RuntimeError(f"the recompute failed:\n{child.stderr[-4000:]}")
                measured.append(json.loads(child.stdout.strip().splitlines()[-1]))
        finally:
            if not args.keep_db:
                h.drop_db(DB)
    print()
    print(f"Project recompute, in one process per size: {args.answers_per_task} answers per task, {args.annotators:,} "
          f"annotators, 5 classes (a tenth spammers); the default truth model; peak RSS of that process")
    labels = [f"{m['answers'] / 1e6:g}M{' staged' if m['staged'] else ''}" for m in measured]
    stage_names = list(dict.fromkeys(name for m in measured for name in m["stages"]))
    rows = [[name] + [m["stages"].get(name, 0.0) for m in measured] for name in stage_names]
    rows.append(["fitting job"] + [m["fit_job"] for m in measured])
    rows.append(["merge jobs (chunks)"] + [str(len(m["merges"])) for m in measured])
    rows.append(["longest merge job"] + [max(m["merges"], default=0.0) for m in measured])
    rows.append(["all merge jobs (side by side)"] + [m["total"] - m["fit_job"] for m in measured])
    rows.append(["total"] + [m["total"] for m in measured])
    rows.append(["peak RSS (MB)"] + [m["rss_mb"] for m in measured])
    rows.append(["EM iterations"] + [str(m["iterations"]) for m in measured])
    print(h.table(["stage (seconds)"] + labels, rows))
    print(f"model chosen: {', '.join(m['model'] for m in measured)}")
    verdicts = []
    for m in measured:
        if m["answers"] >= 10_000_000 and not m["staged"]:
            verdicts.append(f"10M answers: {m['total']:.1f} s (target <= 45 s) {'PASS' if m['total'] <= 45 else 'FAIL'}; "
                            f"peak RSS {m['rss_mb']:,.0f} MB (target <= 1,536 MB) "
                            f"{'PASS' if m['rss_mb'] <= 1536 else 'FAIL'}")
    as_run = [m for m in measured if not m["staged"]]
    if len(as_run) >= 2:
        verdicts.append(_extrapolated(args, as_run[-2:], [m for m in measured if m["staged"]][-2:]))
    for verdict in verdicts:
        print(verdict)


if __name__ == "__main__":
    main()
