"""GET /metrics is scraped like Prometheus does, and /health compares the schema revision with the code's head.

The metric objects are process-wide (prometheus_client's default registry), so tests compare a
value before and after the calls they make, never an absolute count. Multiprocess mode is tested in
subprocesses (prometheus_client picks its mode when imported) and under a real gunicorn.
"""
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from marketplace import metrics, queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.health import revision
from marketplace.results import recompute
from workers.context import job
from tests import real_gunicorn
from tests.factories import AnnotatorFactory, bearer, open_project

ROOT = Path(__file__).resolve().parent.parent
LEASE_ROUTE = "/api/v1/projects/<int:project_id>/assignments"
ANSWER_ROUTE = "/api/v1/assignments/<int:assignment_id>/answer"


@job
def failing_job(reason: str) -> None:
    """A job body that always raises, for the failure counter."""
    raise RuntimeError(reason)


def scrape(client, **kwargs) -> dict[tuple, float]:
    """GET /metrics and return {(sample name, sorted label pairs): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def parse(exposition: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(exposition) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def lease_and_answer(client, project, headers) -> None:
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers)
    assert leased.status_code == 201
    answered = client.post(f"/api/v1/assignments/{leased.json['id']}/answer", json={"answer": {"label": "cat"}},
                           headers=headers)
    assert answered.status_code == 200


def test_scrape_shows_latency_by_route_and_counts_leases_answers_and_closed_tasks(client):
    project = open_project(tasks=1, answers_per_task=1)
    before = scrape(client)
    lease_and_answer(client, project, bearer(AnnotatorFactory()))
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("marketplace_leases_total") == 1
    assert moved("marketplace_answers_total") == 1
    assert moved("marketplace_tasks_closed_total", reason="redundancy") == 1
    histogram = "marketplace_http_request_duration_seconds"
    assert moved(f"{histogram}_count", route=LEASE_ROUTE, method="POST", status="201") == 1
    assert moved(f"{histogram}_count", route=ANSWER_ROUTE, method="POST", status="200") == 1
    assert moved(f"{histogram}_bucket", route=LEASE_ROUTE, method="POST", status="201", le="+Inf") == 1
    assert value(after, f"{histogram}_sum", route=LEASE_ROUTE, method="POST", status="201") > 0
    assert not any(f"/projects/{project.id}/" in dict(labels).get("route", "") for _, labels in after)


def test_a_refused_lease_is_timed_but_not_counted(client):
    project = open_project(tasks=3, max_leases_per_annotator=1)
    headers = bearer(AnnotatorFactory())
    before = scrape(client)
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).status_code == 201
    refused = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers)  # one live lease at a time
    assert 400 <= refused.status_code < 500
    after = scrape(client)
    assert value(after, "marketplace_leases_total") - value(before, "marketplace_leases_total") == 1
    assert value(after, "marketplace_http_request_duration_seconds_count", route=LEASE_ROUTE, method="POST",
                 status=str(refused.status_code)) >= 1


def test_unmatched_paths_share_one_route_label(client):
    before = scrape(client)
    for n in range(3):
        assert client.get(f"/api/v1/nowhere/{n}").status_code == 404
    after = scrape(client)
    name, labels = "marketplace_http_request_duration_seconds_count", {"route": "unmatched", "method": "GET",
                                                                         "status": "404"}
    assert value(after, name, **labels) - value(before, name, **labels) == 3
    assert not any("nowhere" in dict(labels).get("route", "") for _, labels in after)
    client.open("/metrics", method="BREW")  # an invented method is one `other` series, not a new one per name
    methods = {dict(labels).get("method") for _, labels in scrape(client)}
    assert "other" in methods and "BREW" not in methods


def test_with_a_token_set_the_scrape_needs_it_even_from_loopback(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "METRICS_TOKEN", "s3cret-scrape-token")
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json["status"] == 401 and missing.json["code"] and "request_id" in missing.json  # the one error shape
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scrape(client, headers={"Authorization": "Bearer s3cret-scrape-token"})


@pytest.mark.parametrize("address, headers, status", [
    ("127.0.0.1", {}, 200),
    ("::1", {}, 200),
    ("10.1.2.3", {}, 200),  # a scraper inside the private network
    ("8.8.8.8", {}, 403),  # a public address
    ("127.0.0.1", {"X-Forwarded-For": "8.8.8.8"}, 403),  # a local proxy relaying anyone: not local
])
def test_without_a_token_only_direct_local_addresses_may_scrape(client, address, headers, status):
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == status
    if status == 403:
        assert "METRICS_TOKEN" in response.json["message"]


def test_metrics_is_outside_the_api_spec_and_the_rate_limits(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATELIMIT_API", "2 per minute")
    assert all(client.get("/metrics").status_code == 200 for _ in range(4))
    spec = client.get("/api/v1/openapi.json").json
    assert not any("metrics" in path for path in spec["paths"])


def in_process(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_failing_job_is_counted_and_timed(ctx):
    path = f"{__name__}.failing_job"
    failures = in_process("marketplace_job_failures_total", job=path)
    runs = in_process("marketplace_job_duration_seconds_count", job=path)
    with transaction():  # no Redis: the job runs inline after the commit, through the job wrapper
        queue.enqueue_after_commit(path, "boom")
    assert in_process("marketplace_job_failures_total", job=path) == failures + 1
    assert in_process("marketplace_job_duration_seconds_count", job=path) == runs + 1


def test_recompute_durations_are_recorded(client):
    project = open_project(tasks=1, answers_per_task=1)
    lease_and_answer(client, project, bearer(AnnotatorFactory()))
    before = scrape(client)
    recompute.recompute_project(project_id=project.id, now=utcnow())
    after = scrape(client)
    name = "marketplace_recompute_duration_seconds_count"
    assert value(after, name) - value(before, name) == 1


def test_webhook_outcomes_and_policy_decisions_get_their_labels():
    retrying = in_process("marketplace_webhook_attempts_total", outcome="retrying")
    escalated = in_process("marketplace_tasks_escalated_total")
    assert metrics.webhook_attempted("pending") == "pending" and metrics.webhook_attempted(None) is None
    assert metrics.policy_decided("escalate") == "escalate" and metrics.policy_decided("closed") == "closed"
    assert in_process("marketplace_webhook_attempts_total", outcome="retrying") == retrying + 1
    assert in_process("marketplace_tasks_escalated_total") == escalated + 1


def test_queue_depths_are_read_from_redis_at_scrape_time(client, with_redis):
    for n in range(2):
        with transaction():
            queue.enqueue_after_commit(f"{__name__}.failing_job", str(n), queue=queue.TRUTH)
    samples = scrape(client)
    assert value(samples, "marketplace_queue_redis_up") == 1
    assert value(samples, "marketplace_queue_jobs", queue="truth", state="queued") == 2
    assert value(samples, "marketplace_queue_jobs", queue="default", state="failed") == 0


def test_a_redis_that_is_down_does_not_fail_the_scrape(client, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setitem(client.application.config, "REDIS_URL", f"redis://127.0.0.1:{port}/0")
    samples = scrape(client)
    assert value(samples, "marketplace_queue_redis_up") == 0
    assert not any(name == "marketplace_queue_jobs" for name, _ in samples)


# Multiprocess mode: each "worker" is a process that counts leases and exits; the scraper is another.
WORKER = """
from marketplace import metrics
metrics.LEASES.inc(int(__import__("sys").argv[1]))
metrics.JOB_FAILURES.labels("workers.demo.job").inc()
"""
SCRAPER = """
import sys
from marketplace import create_app
from marketplace.config import config_from_env
app = create_app(config_from_env())
response = app.test_client().get("/metrics")
assert response.status_code == 200, response.data
sys.stdout.write(response.get_data(as_text=True))
"""


def _python(code: str, *args: str, env: dict) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_multiprocess_mode_sums_the_values_every_process_wrote(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "LOG_LEVEL": "WARNING"}
    for key in ("REDIS_URL", "METRICS_TOKEN"):
        env.pop(key, None)
    _python(WORKER, "2", env=env)
    _python(WORKER, "3", env=env)
    samples = parse(_python(SCRAPER, env=env))
    assert value(samples, "marketplace_leases_total") == 5
    assert value(samples, "marketplace_job_failures_total", job="workers.demo.job") == 2
    assert len(list(tmp_path.glob("counter_*.db"))) >= 3  # two workers and the scraper, one file each


def test_gunicorn_child_exit_drops_a_dead_workers_live_values(tmp_path, monkeypatch):
    import runpy

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    live, kept = tmp_path / "gauge_livesum_4242.db", tmp_path / "counter_4242.db"
    live.write_bytes(b""), kept.write_bytes(b"")
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["child_exit"](None, SimpleNamespace(pid=4242))
    assert not live.exists() and kept.exists()  # a dead worker's counts still add up; its live gauges go


def _get(port: int, path: str) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=120) as conn:  # the first waits for a worker's boot
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        raw = b"".join(iter(lambda: conn.recv(65536), b""))
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload.decode()


def test_gunicorn_workers_are_scraped_as_one(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    with real_gunicorn.running(tmp_path / "app.db", workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as port:
        for _ in range(20):
            assert _get(port, "/api/v1/nowhere")[0] == 404
        for _ in range(3):  # whichever worker answers the scrape, it reports every worker's requests
            status, body = _get(port, "/metrics")
            assert status == 200
            assert value(parse(body), "marketplace_http_request_duration_seconds_count", route="unmatched",
                         method="GET", status="404") == 20
        assert len(list(metrics_dir.glob("histogram_*.db"))) >= 1


# /health: the schema revision.

def test_health_reports_the_schema_at_the_codes_head(client, app):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    schema = response.json["schema"]
    heads, _ = revision.code_revisions(app.config["MIGRATIONS_DIR"])
    assert schema == {"revision": ",".join(heads), "head": ",".join(heads), "state": "current", "ok": True}


def test_health_fails_when_the_database_is_behind_the_code(client, app, monkeypatch):
    heads, known = revision.code_revisions(app.config["MIGRATIONS_DIR"])
    monkeypatch.setattr(revision, "code_revisions", lambda directory: (("f00dfeed",), known | {"f00dfeed"}))
    response = client.get("/api/v1/health")
    assert response.status_code == 503 and response.json["status"] == "down"
    assert response.json["schema"] == {"revision": ",".join(heads), "head": "f00dfeed", "state": "behind", "ok": False}


def test_health_accepts_a_schema_a_newer_release_migrated(client, monkeypatch):
    monkeypatch.setattr(revision, "code_revisions", lambda directory: (("0ld",), frozenset({"0ld"})))
    response = client.get("/api/v1/health")
    assert response.status_code == 200 and response.json["schema"]["state"] == "ahead"


def test_health_fails_on_a_database_never_migrated(client):
    db.session.execute(text("ALTER TABLE alembic_version RENAME TO alembic_version_hidden"))  # rolled back after
    response = client.get("/api/v1/health")
    assert response.status_code == 503 and response.json["status"] == "down"
    assert response.json["schema"]["ok"] is False and response.json["schema"]["revision"] is None
    assert response.json["database"]["ok"] is True
