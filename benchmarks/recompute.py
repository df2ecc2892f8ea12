"""Project recompute at scale: 1,000,000 answers read, inferred (the default truth model) and written back.

A project of 200,000 closed tasks, 5,000 annotators and 5 answers per task (5 classes; annotators
right with accuracy drawn from 0.55-0.95, a tenth of them spammers), loaded with SQL, then the app's
own recompute job (marketplace/results/recompute.py) run in-process on PostgreSQL. Prints the
seconds of each stage (read, infer, write results, trust) and the total. Target (issue 5): <= 10 s.

Run from the repo root:  .venv/bin/python benchmarks/recompute.py [--tasks 200000] [--keep-db]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

DB = "bench_recompute"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=200_000)
    p.add_argument("--annotators", type=int, default=5_000)
    p.add_argument("--answers-per-task", type=int, default=5)
    p.add_argument("--keep-db", action="store_true")
    return p.parse_args()


def load(args) -> int:
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
            FROM accounts WHERE role = 'requester' RETURNING id""", (args.answers_per_task, args.tasks)).fetchone()[0]
        conn.execute("""INSERT INTO tasks (project_id, external_id, data, status, slots_taken, slot_limit, answer_count,
                                           created_at, closed_at)
                        SELECT %(p)s, 't' || g, '{}', 'closed', %(k)s, %(k)s, %(k)s, now(), now()
                        FROM generate_series(1, %(n)s) g""", {"p": project, "k": args.answers_per_task, "n": args.tasks})
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
        conn.commit()
    with psycopg.connect(h.db_url(DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return project


def main() -> None:
    args = parse_args()
    began = time.perf_counter()
    h.recreate_db(DB)
    try:
        h.migrate(DB)
        project = load(args)
        loaded = time.perf_counter() - began
        os.environ.update(h.app_env(DB))
        sys.path.insert(0, str(h.APP_DIR))
        from marketplace import create_app
        from marketplace.db import utcnow
        from marketplace.extensions import db
        from marketplace.quality import trust_from_fit as trust_module
        from marketplace.results import recompute

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

        timed(recompute, "_read_answers", "read answers")
        timed(recompute.inference, "encode_answers", "encode ids")
        timed(recompute.truth_model, "fit", "truth model (default method)")
        timed(recompute, "_write_back", "write results")
        timed(recompute, "update_trust", "write trust")
        app = create_app()
        with app.app_context():
            t0 = time.perf_counter()
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats
                profiler = cProfile.Profile()
                outcome = profiler.runcall(recompute.recompute_project, project_id=project, now=utcnow())
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            else:
                outcome = recompute.recompute_project(project_id=project, now=utcnow())
            db.session.commit()
            total = time.perf_counter() - t0
        del trust_module
    finally:
        if not args.keep_db:
            h.drop_db(DB)
    print()
    print(f"Project recompute: {args.tasks:,} tasks x {args.answers_per_task} answers = "
          f"{outcome['answers']:,} answers, {outcome['annotators']:,} annotators, {outcome['iterations']} EM iterations "
          f"(setup {loaded:.0f} s); model {outcome['model']['method']} {outcome['model']['weights']}")
    rows = [[name, seconds] for name, seconds in stages.items()]
    rows.append(["total (incl. commit)", total])
    print(h.table(["stage", "seconds"], rows))
    print(f"results written {outcome['results_written']:,}; recompute {total:.2f} s (target <= 10 s) "
          f"{'PASS' if total <= 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
