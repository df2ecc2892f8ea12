"""Bare reference app for benchmarks/lease_throughput.py: Flask + SQLAlchemy and the lease SQL only.

No auth, no schemas, no ORM objects, no project lookup per request: the floor of what a lease costs
through Flask + SQLAlchemy + psycopg on this machine, so the real app's figure can be read as a
ratio. It runs against a copy of the benchmark database (same tables, rows and indexes).

- POST /ref/projects/<project_id>/annotators/<annotator_id>/lease -> 201 {id, task: {id, data}} | 404
  One statement: the annotator's position (max task id had in the project), the first open task
  after it with a free slot that this annotator has not had, FOR UPDATE SKIP LOCKED, under the live
  lease cap; insert the assignment (ON CONFLICT DO NOTHING) and bump the task's slot counter.
- POST /ref/assignments/<assignment_id>/answer?annotator=<id>&project=<id>  body {"answer": {...}}
  One statement: mark the live lease submitted and count the answer on its task (closing it when full).

Run: gunicorn --pythonpath benchmarks reference_app:app with BENCH_REF_DATABASE_URL set (the harness does).
"""
import json
import os

from flask import Flask, abort, jsonify, request
from sqlalchemy import create_engine, text

_url = os.environ.get("BENCH_REF_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_ref")
engine = create_engine(_url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=10, max_overflow=20)
app = Flask(__name__)

LEASE = text("""
WITH picked AS (
    SELECT t.id FROM tasks t
    WHERE t.project_id = :project_id AND t.status = 'open' AND t.slots_taken < :answers_per_task
      AND t.id > (SELECT coalesce(max(p.task_id), 0) FROM assignments p
                  WHERE p.annotator_id = :annotator_id AND p.project_id = :project_id)
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.annotator_id = :annotator_id)
      AND (SELECT count(*) FROM assignments l
           WHERE l.annotator_id = :annotator_id AND l.project_id = :project_id AND l.status = 'leased') < :cap
    ORDER BY t.id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
), inserted AS (
    INSERT INTO assignments (task_id, project_id, annotator_id, status, leased_at, expires_at)
    SELECT id, :project_id, :annotator_id, 'leased', now(), now() + make_interval(secs => :duration) FROM picked
    ON CONFLICT (task_id, annotator_id) DO NOTHING
    RETURNING id, task_id
), bumped AS (
    UPDATE tasks SET slots_taken = tasks.slots_taken + 1
    FROM inserted WHERE tasks.id = inserted.task_id
    RETURNING tasks.id, tasks.data
)
SELECT inserted.id, inserted.task_id, bumped.data FROM inserted JOIN bumped ON bumped.id = inserted.task_id
""")

ANSWER = text("""
WITH done AS (
    UPDATE assignments SET status = 'submitted', answer = CAST(:answer AS jsonb), submitted_at = now(),
           ended_at = now(), duration_ms = (extract(epoch FROM now() - leased_at) * 1000)::int
    WHERE id = :assignment_id AND annotator_id = :annotator_id AND status = 'leased' AND expires_at > now()
    RETURNING task_id
)
UPDATE tasks SET answer_count = tasks.answer_count + 1,
       status = CASE WHEN tasks.answer_count + 1 >= :answers_per_task THEN 'closed' ELSE tasks.status END,
       closed_at = CASE WHEN tasks.answer_count + 1 >= :answers_per_task THEN now() ELSE tasks.closed_at END
FROM done WHERE tasks.id = done.task_id
RETURNING tasks.id
""")

_projects: dict[int, tuple[int, int, int]] = {}  # project settings, read once per worker


def _settings(project_id: int) -> tuple[int, int, int]:
    if project_id not in _projects:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT answers_per_task, max_leases_per_annotator, assignment_duration_s FROM projects WHERE id = :id"
            ), {"id": project_id}).first()
        if row is None:
            abort(404)
        _projects[project_id] = tuple(row)
    return _projects[project_id]


@app.post("/ref/projects/<int:project_id>/annotators/<int:annotator_id>/lease")
def lease(project_id, annotator_id):
    answers_per_task, cap, duration = _settings(project_id)
    with engine.begin() as conn:
        row = conn.execute(LEASE, {"project_id": project_id, "annotator_id": annotator_id,
                                   "answers_per_task": answers_per_task, "cap": cap, "duration": duration}).first()
    if row is None:
        return jsonify(message="no task"), 404
    return jsonify(id=row.id, task={"id": row.task_id, "data": row.data}), 201


@app.post("/ref/assignments/<int:assignment_id>/answer")
def answer(assignment_id):
    answers_per_task, _, _ = _settings(int(request.args["project"]))
    with engine.begin() as conn:
        row = conn.execute(ANSWER, {"assignment_id": assignment_id, "annotator_id": int(request.args["annotator"]),
                                    "answer": json.dumps(request.get_json()["answer"]),
                                    "answers_per_task": answers_per_task}).first()
    if row is None:
        return jsonify(message="not a live lease"), 409
    return jsonify(id=assignment_id, status="submitted"), 200
