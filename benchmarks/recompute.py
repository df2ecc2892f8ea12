"""Project recompute at scale: 1M and 10M answers read, inferred (the default truth model) and written back.

Per size: a project of answers/5 closed tasks, 5,000 annotators and 5 answers per task (5 classes;
annotators right with accuracy drawn from 0.55-0.95, a tenth of them spammers), each task with the
result its closing answer wrote (so the recompute rewrites results, as in a running project), loaded with SQL,
then the app's own recompute job (marketplace/results/recompute.py) run on PostgreSQL in a fresh
process (so that its peak RSS is that recompute's). Prints the seconds of each stage (read,
encode, infer, write results, trust, commit), the total and the peak RSS per size, and a linear
extrapolation to 100M answers from the two largest sizes. Targets (issue 20): 10M answers <= 45 s
end to end with a peak RSS <= 1.5 GB; 100M within the 600 s job timeout (in chunks), <= 8 min.
Above RECOMPUTE_CHUNK_TASKS results (500,000 tasks: 2.5M answers here) the fitting job stages the
results and merge jobs write them a chunk each (results/chunked.py); each job is timed on its own.

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


def run_one(project: int) -> None:
    """The child process: the recompute's jobs one after the other, as a worker runs them; each job's
    seconds (the fitting job's by stage), and the peak RSS, as one JSON line."""
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
    timed(recompute, "_write_back", "write or stage results")
    timed(recompute, "update_trust", "write trust")
    app = create_app()
    merges = []
    with app.app_context():
        runs.queue_run(project_id=project, reason="requested", now=utcnow())  # as the requester's trigger does
        db.session.commit()
        queue.discard_pending()
        t0 = time.perf_counter()
        outcome = recompute.recompute_project(project_id=project, now=utcnow())
        t1 = time.perf_counter()
        db.session.commit()
        queue.discard_pending()  # the merge jobs are run here, one after the other, each timed
        stages["commit"] = time.perf_counter() - t1
        fit_job = time.perf_counter() - t0
        left = outcome.get("chunks", 0)
        while left:
            t = time.perf_counter()
            merged = chunked.merge_next_chunk(project_id=project, now=utcnow())
            db.session.commit()
            queue.discard_pending()
            merges.append(time.perf_counter() - t)
            left = merged["left"]
        total = time.perf_counter() - t0
    print(json.dumps({"stages": stages, "fit_job": fit_job, "merges": merges, "total": total,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "answers": outcome["answers"], "annotators": outcome["annotators"],
                      "iterations": outcome["iterations"], "model": outcome["model"]["method"]}))


def _extrapolated(args, small: dict, big: dict) -> str:
    """100M answers, from the last two sizes: the fitting job (and its RSS) grow linearly with the answers;
    the merge jobs are one per chunk, each as long as the measured chunks (a chunk is a fixed number of tasks)."""
    def linear(key):
        slope = (big[key] - small[key]) / (big["answers"] - small["answers"])
        return big[key] + slope * (100_000_000 - big["answers"])
    fit_job, rss = linear("fit_job"), linear("rss_mb")
    chunk_tasks = int(os.environ.get("RECOMPUTE_CHUNK_TASKS", 500_000))
    chunks = -(-(100_000_000 // args.answers_per_task) // chunk_tasks)
    merges = [t for m in (small, big) for t in m["merges"]]
    per_merge, longest_merge = (sum(merges) / len(merges), max(merges)) if merges else (0.0, 0.0)
    total = fit_job + chunks * per_merge
    longest = max(fit_job, longest_merge)
    return (f"100M answers, extrapolated from the last two sizes: the fitting job {fit_job:.0f} s (peak RSS "
            f"{rss / 1024:.1f} GB), then {chunks} merge jobs of ~{per_merge:.1f} s; total {total / 60:.1f} min "
            f"(target <= 8 min) {'PASS' if total <= 480 else 'FAIL'}; longest job {longest:.0f} s (job timeout "
            f"600 s) {'PASS' if longest <= 600 else 'FAIL'}")


def main() -> None:
    args = parse_args()
    if args.run_one:
        run_one(args.run_one)
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
            child = subprocess.run([sys.executable, __file__, "--run-one", str(project)], capture_output=True, text=True,
                                   env={**os.environ, **h.app_env(DB)})
            if child.returncode:
                raise RuntimeError(f"the recompute failed:\n{child.stderr[-4000:]}")
            measured.append(json.loads(child.stdout.strip().splitlines()[-1]))
        finally:
            if not args.keep_db:
                h.drop_db(DB)
    print()
    print(f"Project recompute, in one process per size: {args.answers_per_task} answers per task, {args.annotators:,} "
          f"annotators, 5 classes (a tenth spammers); the default truth model; peak RSS of that process")
    labels = [f"{m['answers'] / 1e6:g}M answers" for m in measured]
    stage_names = list(measured[0]["stages"])
    rows = [[name] + [m["stages"].get(name, 0.0) for m in measured] for name in stage_names]
    rows.append(["fitting job"] + [m["fit_job"] for m in measured])
    rows.append(["merge jobs (chunks)"] + [str(len(m["merges"])) for m in measured])
    rows.append(["longest merge job"] + [max(m["merges"], default=0.0) for m in measured])
    rows.append(["all merge jobs"] + [sum(m["merges"]) for m in measured])
    rows.append(["total"] + [m["total"] for m in measured])
    rows.append(["peak RSS (MB)"] + [m["rss_mb"] for m in measured])
    rows.append(["EM iterations"] + [str(m["iterations"]) for m in measured])
    print(h.table(["stage (seconds)"] + labels, rows))
    print(f"model chosen: {', '.join(m['model'] for m in measured)}")
    verdicts = []
    for m in measured:
        if m["answers"] >= 10_000_000:
            verdicts.append(f"10M answers: {m['total']:.1f} s (target <= 45 s) {'PASS' if m['total'] <= 45 else 'FAIL'}; "
                            f"peak RSS {m['rss_mb']:,.0f} MB (target <= 1,536 MB) "
                            f"{'PASS' if m['rss_mb'] <= 1536 else 'FAIL'}")
    if len(measured) >= 2:
        verdicts.append(_extrapolated(args, measured[-2], measured[-1]))
    for verdict in verdicts:
        print(verdict)


if __name__ == "__main__":
    main()
