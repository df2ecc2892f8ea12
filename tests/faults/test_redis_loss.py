"""Redis down, then back without what it held (issue 21): the API keeps serving, the sweeps find the work.

Down: the app's Redis (queues, rate-limit counters) refuses every connection; it serves leases and
answers, counts rate limits per process, and /health says degraded with a 200 (the load balancer
keeps it). Back empty (a restart without persistence): a requester's recompute queued
in Redis is gone; the periodic sweep sends its job again from the run row, and a worker runs it.
"""
import time
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from limits.storage import storage_from_string

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.results import recompute, runs
from marketplace.results.models import FINISHED, QUEUED, RecomputeRun, Result
from tests.factories import AnnotatorFactory, bearer, fresh, open_project
from tests.results.test_policy import answer
from workers import results as result_jobs

pytestmark = pytest.mark.postgres


DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every Redis call is refused


@pytest.fixture
def redis_down(committed_app, monkeypatch):
    """The app with its Redis gone: the queue's connection and the per-credential rate counters (as in
    production, where both live in REDIS_URL) are refused."""
    monkeypatch.setitem(committed_app.config, "REDIS_URL", DEAD_REDIS)
    monkeypatch.setitem(committed_app.extensions["queue"], "redis", None)  # reconnects to the dead address
    monkeypatch.setitem(committed_app.extensions, "rate_budget", storage_from_string(DEAD_REDIS))
    return committed_app


def test_with_redis_down_leases_and_answers_are_served_and_health_is_degraded(redis_down):
    down = redis_down
    with down.app_context():
        project = open_project(tasks=2, answers_per_task=1)
        headers = bearer(AnnotatorFactory())
        db.session.commit()
        project_id = project.id
    client = down.test_client()
    started = time.perf_counter()
    health = client.get("/api/v1/health")
    assert health.status_code == 200 and health.json["status"] == "degraded"
    assert health.json["queue"]["ok"] is False and health.json["database"]["ok"] is True
    lease = client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers)
    assert lease.status_code == 201, lease.json
    answered = client.post(f"/api/v1/assignments/{lease.json['id']}/answer", json={"answer": {"label": "cat"}},
                           headers=headers)
    assert answered.status_code == 200, answered.json
    with down.app_context():  # the closing answer wrote its task's result itself: no job was needed for it
        written = db.session.scalars(select(Result).where(Result.project_id == project_id)).all()
        assert [result.label for result in written] == ["cat"]
    print(f"\ninjected: Redis unreachable for the API; health degraded (200), a lease and a closing answer served "
          f"in {time.perf_counter() - started:.2f} s")


def test_a_job_lost_with_redis_runs_after_the_sweep(ctx, with_redis, monkeypatch):
    project = open_project(tasks=2, answers_per_task=1, aggregation="ds", max_leases_per_annotator=1)
    answer(project, AnnotatorFactory(), "dog")
    with transaction():
        run = runs.queue_run(project_id=project.id, reason="requested", now=utcnow())
    truth = Queue(queue.TRUTH, connection=with_redis)
    assert [job.func_name for job in truth.jobs] == ["workers.results.recompute_project"]
    with_redis.flushdb()  # Redis restarted without persistence: the job and its debounce mark are gone
    lost_at = time.perf_counter()
    assert truth.jobs == [] and fresh(RecomputeRun, run.id).status == QUEUED
    later = utcnow() + recompute.RESEND_QUEUED_AFTER + timedelta(minutes=1)
    monkeypatch.setattr(result_jobs, "utcnow", lambda: later)  # the sweep's clock, past the resend delay
    result_jobs.recompute_due_projects()
    assert [(job.func_name, job.args) for job in truth.jobs] == [("workers.results.recompute_project", (project.id,))]
    SimpleWorker([truth], connection=with_redis).work(burst=True)
    assert fresh(RecomputeRun, run.id).status == FINISHED
    print(f"\ninjected: Redis emptied with a recompute queued; the sweep sent it again and it ran, "
          f"{time.perf_counter() - lost_at:.2f} s after the loss")
