"""Operators' signals: periodic runs recorded, /health's ok/degraded/down, failed jobs listed and retried."""
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from marketplace import queue
from marketplace.audit.models import AdminAction
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.operations import services
from marketplace.operations import store as job_runs
from marketplace.operations.models import JobRun
from tests.factories import AdminFactory, AnnotatorFactory, bearer, fresh
from workers.results import sweep_unaggregated

SWEEP = "workers.results.sweep_unaggregated"


def _all_ran(at) -> None:
    for path in queue.periodic_paths():
        job_runs.record_finished(path, started=at, finished=at)
    db.session.flush()


def test_a_periodic_job_records_each_run_and_each_failure_apart_from_its_work(ctx, monkeypatch):
    sweep_unaggregated()
    sweep_unaggregated()
    run = fresh(JobRun, SWEEP)
    assert (run.runs, run.failures, run.last_failed_at) == (2, 0, None) and run.last_finished_at is not None
    monkeypatch.setattr("workers.results.services.sweep_unaggregated", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        sweep_unaggregated()
    run = fresh(JobRun, SWEEP)
    assert (run.runs, run.failures) == (3, 1) and run.last_error == "ZeroDivisionError: division by zero"
    assert run.last_failed_at >= run.last_finished_at


def test_without_a_queue_backend_health_has_no_scheduler_to_watch(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert response.json["jobs"] == {"scheduler": "inline", "ok": True}


def test_health_is_degraded_until_the_scheduler_is_seen_and_while_a_job_is_overdue(client, with_redis):
    unseen = client.get("/api/v1/health")
    assert unseen.status_code == 200  # requests are still served: not a 503
    assert unseen.json["status"] == "degraded" and unseen.json["jobs"]["cron_seen"] is False
    now = utcnow()
    _all_ran(now)
    seen = client.get("/api/v1/health").json
    assert seen["status"] == "ok" and seen["jobs"]["overdue"] == [] and seen["jobs"]["failed"] == 0
    job_runs.record_finished(SWEEP, started=now - timedelta(hours=1), finished=now - timedelta(hours=1))
    db.session.flush()
    late = client.get("/api/v1/health").json  # every 120 s: two periods and the slack are long past
    assert late["status"] == "degraded" and late["jobs"]["overdue"] == ["sweep_unaggregated"]


def test_a_cron_job_is_overdue_only_once_a_time_it_named_passed_since_its_last_finish():
    now = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    daily = {"cron": "0 2 * * *"}  # 02:00 UTC every day
    assert not services._overdue(daily, None, now)  # never run: not yet due
    assert not services._overdue(daily, JobRun(last_finished_at=now - timedelta(hours=9), failures=0), now)
    assert services._overdue(daily, JobRun(last_finished_at=now - timedelta(hours=11), failures=0), now)
    assert services._overdue({"interval": 60}, JobRun(last_finished_at=None, failures=2), now)


def _fail_one_job(redis) -> str:
    """A real job that fails in a real worker, with no retries left: RQ's failed registry holds it (a body
    that a newer release renamed: the worker cannot load it)."""
    job = Queue(queue.MAINTENANCE, connection=redis).enqueue("workers.results.renamed_since", 7)
    SimpleWorker([Queue(queue.MAINTENANCE, connection=redis)], connection=redis).work(burst=True)
    assert job.id in FailedJobRegistry(queue.MAINTENANCE, connection=redis).get_job_ids()
    return job.id


def test_a_failed_job_degrades_health_is_listed_and_an_admin_retries_it(client, with_redis):
    _all_ran(utcnow())
    failed_id = _fail_one_job(with_redis)
    health = client.get("/api/v1/health").json
    assert health["status"] == "degraded" and health["jobs"]["failed"] == 1
    admin = bearer(AdminFactory())
    listed = client.get("/api/v1/admin/jobs", headers=admin).json
    assert [(j["id"], j["queue"], j["path"], j["args"]) for j in listed["failed"]] == [
        (failed_id, queue.MAINTENANCE, "workers.results.renamed_since", [7])]
    assert "renamed_since" in listed["failed"][0]["error"]
    assert {j["name"] for j in listed["periodic"]} >= {"sweep_unaggregated", "run_payouts"}
    assert client.post(f"/api/v1/admin/jobs/failed/{failed_id}/retry", json={"reason": "the fix is deployed"},
                       headers=bearer(AnnotatorFactory())).status_code == 403
    retried = client.post(f"/api/v1/admin/jobs/failed/{failed_id}/retry", json={"reason": "the fix is deployed"},
                          headers=admin)
    assert retried.status_code == 200 and retried.json == {"id": failed_id, "queue": queue.MAINTENANCE, "status": "queued"}
    assert failed_id in Queue(queue.MAINTENANCE, connection=with_redis).job_ids
    assert client.get("/api/v1/health").json["status"] == "ok"
    audited = db.session.scalars(select(AdminAction).where(AdminAction.action == "job.retry")).all()
    assert [a.details["id"] for a in audited] == [failed_id]
    again = client.post(f"/api/v1/admin/jobs/failed/{failed_id}/retry", json={"reason": "the fix is deployed"},
                        headers=admin)
    assert again.status_code == 404 and again.json["code"] == "not_found"


def test_an_admin_runs_a_periodic_job_now(client, with_redis):
    admin = bearer(AdminFactory())
    sent = client.post("/api/v1/admin/jobs/periodic/sweep_unaggregated/run", json={"reason": "catch up after the outage"},
                       headers=admin)
    assert sent.status_code == 202 and sent.json == {"name": "sweep_unaggregated", "path": SWEEP, "status": "sent"}
    assert [job.func_name for job in Queue(queue.MAINTENANCE, connection=with_redis).jobs] == [SWEEP]
    unknown = client.post("/api/v1/admin/jobs/periodic/drop_tables/run", json={"reason": "catch up after the outage"},
                          headers=admin)
    assert unknown.status_code == 404
    short = client.post("/api/v1/admin/jobs/periodic/sweep_unaggregated/run", json={"reason": "x"}, headers=admin)
    assert short.status_code == 422 and short.json["param"] == "reason"
