"""The lease benchmark's databases: accounts, projects and tasks built through the app, then copied.

Used by lease_throughput.py: the app builds bench_lease through its API (accounts, projects,
publishing), tasks and history go in with server-side SQL (setup only, never measured), and
bench_ref is a template copy for the reference app.
"""
from __future__ import annotations

import psycopg

import _harness as h

APP_DB, REF_DB = "bench_lease", "bench_ref"
CLASSES = ["a", "b", "c"]

QUALITY = {
    "gold_rate": 0.1,
    "quality_rules": [
        {"metric": "gold_accuracy_lower_bound", "below": 0.2, "min_count": 5, "action": "block", "reject_answers": True},
        {"metric": "median_answer_time_s", "below": 0.0001, "min_count": 10, "action": "block"},
        {"metric": "agreement_with_truth", "below": 0.1, "min_count": 20, "action": "downweight", "weight": 0.2},
    ],
}


def project_body(name: str, apt: int, **extra) -> dict:
    """The benchmarks' project: three classes, 5 cents an answer, `apt` answers per task, one lease at a time."""
    return {"name": name, "label_schema": {"type": "classification", "classes": CLASSES}, "reward_cents": 5,
            "answers_per_task": apt, "assignment_duration_s": 3600, "max_leases_per_annotator": 1, **extra}


def new_project(port: int, token: str, name: str, apt: int, **extra) -> int:
    return h.expect(port, "POST", "/api/v1/projects", project_body(name, apt, **extra), token)["id"]


def load_gold(conn: psycopg.Connection, project_id: int, n: int) -> None:
    """Insert n gold tasks whose known answer is the one the simulated crowd gives (so nobody is blocked)."""
    conn.execute("""
        INSERT INTO tasks (project_id, external_id, data, status, gold_answer, slots_taken, answer_count, created_at)
        SELECT %(p)s, 'gold-' || g, jsonb_build_object('text', 'sentence number ' || g), 'gold', '{"label": "a"}',
               0, 0, now()
        FROM generate_series(1, %(n)s) g""", {"p": project_id, "n": n})
    conn.execute("UPDATE projects SET gold_count = gold_count + %s WHERE id = %s", (n, project_id))
    conn.commit()


def load_tasks(conn: psycopg.Connection, project_id: int, n: int) -> None:
    """Insert n tasks server-side (setup only; the API import is measured by import_tasks.py)."""
    conn.execute("""
        INSERT INTO tasks (project_id, external_id, data, status, slots_taken, answer_count, created_at)
        SELECT %(p)s, 'item-' || g, jsonb_build_object('text', 'sentence number ' || g,
               'url', 'https://example.org/img/' || g || '.jpg'), 'open', 0, 0, now()
        FROM generate_series(1, %(n)s) g""", {"p": project_id, "n": n})
    conn.execute("UPDATE projects SET task_count = task_count + %s WHERE id = %s", (n, project_id))
    conn.commit()


def give_history(conn: psycopg.Connection, project_id: int, annotator_id: int, n: int) -> None:
    """The annotator answered the project's first n tasks; tasks' counters follow."""
    conn.execute("""
        WITH first AS (SELECT id FROM tasks WHERE project_id = %(p)s ORDER BY id LIMIT %(n)s)
        INSERT INTO assignments (task_id, project_id, annotator_id, status, leased_at, expires_at,
                                 submitted_at, ended_at, answer, duration_ms)
        SELECT id, %(p)s, %(a)s, 'submitted', now() - interval '1 day', now() - interval '23 hours',
               now() - interval '1 day', now() - interval '1 day', '{"label": "a"}', 5000 FROM first""",
                 {"p": project_id, "a": annotator_id, "n": n})
    conn.execute("""UPDATE tasks SET slots_taken = slots_taken + 1, answer_count = answer_count + 1
                    WHERE id IN (SELECT task_id FROM assignments WHERE annotator_id = %s AND project_id = %s)""",
                 (annotator_id, project_id))
    conn.commit()


def vacuum(db: str) -> None:
    with psycopg.connect(h.db_url(db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def setup_main(args, counts: list[int]) -> dict:
    """Build bench_lease through the app, then copy it to bench_ref."""
    h.recreate_db(APP_DB)
    h.migrate(APP_DB)
    app = h.Gunicorn("wsgi:app", h.app_env(APP_DB), args.workers)
    try:
        _, req_token = h.account(app.port, "requesters", "req@bench.test")
        projects = {apt: new_project(app.port, req_token, f"throughput-{apt}", apt) for apt in args.redundancies}
        first = args.redundancies[0]
        quality = None if args.skip_quality else new_project(app.port, req_token, "quality", first, **QUALITY)
        with psycopg.connect(h.db_url(APP_DB)) as conn:
            for target in filter(None, (*projects.values(), quality)):
                load_tasks(conn, target, args.tasks)
            if quality:
                load_gold(conn, quality, args.gold)
        for target in filter(None, (*projects.values(), quality)):
            h.publish(app.port, req_token, target)
        emails = [f"ann{i}@bench.test" for i in range(sum(counts) + (args.pool if args.open_loop else 0))]
        people = h.accounts(app.port, "annotators", emails)
    finally:
        app.stop()
    vacuum(APP_DB)
    h.recreate_db(REF_DB, template=APP_DB)
    return {"projects": projects, "project": projects[first], "quality": quality, "people": people,
            "req_token": req_token}


