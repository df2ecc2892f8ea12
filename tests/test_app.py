"""App-wide behaviour: health, the one error shape, the committed OpenAPI spec, job paths."""
import importlib
import json
from functools import partial
from pathlib import Path

import pytest

from marketplace import queue, routes

SPEC = Path(__file__).resolve().parent.parent / "api_spec" / "openapi.json"
ERROR_KEYS = {"status", "type", "code", "message", "param", "errors", "request_id"}


def test_health_reports_database_and_queue(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json["database"] == {"backend": "postgresql", "ok": True}
    assert response.json["queue"]["backend"] == "inline"
    assert response.json["status"] == "ok"


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("get", "/api/v1/projects", None, 401),  # no credentials
        ("post", "/api/v1/requesters", {"email": "not-an-email", "password": "long enough pw"}, 422),  # schema
        ("get", "/api/v1/nowhere", None, 404),  # werkzeug
        ("delete", "/api/v1/requesters", None, 405),
    ],
)
def test_every_error_has_the_one_shape(client, method, path, body, status):
    response = getattr(client, method)(path, json=body)
    assert response.status_code == status
    assert set(response.json) == ERROR_KEYS
    assert response.json["status"] == status
    assert response.json["code"] == {401: "missing_credentials", 422: "invalid_field", 404: "not_found",
                                     405: "method_not_allowed"}[status]
    assert response.json["request_id"] == response.headers["X-Request-Id"]
    if status == 422:
        assert response.json["param"] == "email" and response.json["type"] == "invalid_request"


def test_committed_openapi_spec_is_current(app):
    with app.test_request_context():
        current = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    assert json.loads(SPEC.read_text()) == json.loads(json.dumps(current)), "run `make spec` and commit api_spec/openapi.json"


@pytest.mark.parametrize("declared", queue.declared(), ids=lambda job: job.path)
def test_every_declared_job_imports_and_knows_its_queue(declared):
    module_path, name = declared.path.rsplit(".", 1)
    func = getattr(importlib.import_module(module_path), name)
    assert callable(func) and func.job_path == declared.path
    assert declared.queue in queue.ALL


def test_every_declared_job_enqueues_on_its_queue_and_resolves(redis_conn):
    from rq import Queue

    jobs = queue.declared()
    assert {job.path.split(".")[1] for job in jobs} >= {"assignments", "payments", "results", "webhooks"}
    for declared in jobs:
        sent = Queue(declared.queue, connection=redis_conn).enqueue(declared.path, retry=declared.retry
                                                                    or queue.retry_for(declared.queue))
        fetched = Queue(declared.queue, connection=redis_conn).fetch_job(sent.id)
        assert fetched.func_name == declared.path and callable(fetched.func)
        assert fetched.origin == declared.queue


def test_cron_config_schedules_the_periodic_jobs(redis_conn):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file(str(Path(__file__).resolve().parent.parent / "workers" / "cron.py"))
    intervals = {job.func_name: job.interval for job in scheduler.get_jobs()}
    assert intervals["workers.assignments.expire_leases"] == 60
    assert "workers.results.sweep_unaggregated" in intervals
    assert "workers.results.recompute_due_projects" in intervals


def test_schema_error_message_names_the_failing_field(client):
    response = client.post("/api/v1/requesters", json={"password": "long enough pw"})
    assert response.status_code == 422
    assert response.json["message"] == "json.email: Missing data for required field."


def test_invalid_json_body_is_400_in_the_one_shape(client):
    response = client.post("/api/v1/requesters", data="{oops", content_type="application/json")
    assert response.status_code == 400 and set(response.json) == ERROR_KEYS


@pytest.mark.parametrize("settings, variable", [
    ({}, "SECRET_KEY"),  # the development default
    ({"SECRET_KEY": ""}, "SECRET_KEY"),
    ({"SECRET_KEY": "a-long-random-value-0123456789", "WEBHOOKS_SECRET_KEY": "changeme"}, "WEBHOOKS_SECRET_KEY"),
])
def test_the_app_refuses_to_start_on_postgresql_with_a_known_key(settings, variable):
    from marketplace import create_app
    from marketplace.config import Config, UnsafeConfig

    config = type("Unsafe", (Config,), {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/x", **settings})
    with pytest.raises(UnsafeConfig, match=variable):
        create_app(config)


def test_the_embedded_mode_keeps_its_development_key_and_a_real_key_starts():
    from marketplace import create_app
    from marketplace.config import Config

    assert create_app(Config).config["SECRET_KEY"] == Config.SECRET_KEY  # SQLite: the demo starts
    real = type("Real", (Config,), {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1/x",
                                    "SECRET_KEY": "a-long-random-value-0123456789"})
    assert create_app(real).config["SECRET_KEY"] == "a-long-random-value-0123456789"


class _View:
    def get(self):
        return "plain"


def test_the_app_asks_once_per_function_whether_it_is_a_coroutine(app, monkeypatch):
    asked = []
    real = routes.iscoroutinefunction
    monkeypatch.setattr(routes, "iscoroutinefunction", lambda f: asked.append(f) or real(f))
    app._coroutines.clear()

    def hook():
        return None

    assert app.ensure_sync(hook) is hook and app.ensure_sync(hook) is hook
    methods = [_View().get for _ in range(50)]  # what MethodView does: a new instance per request
    assert all(app.ensure_sync(m) is m for m in methods)
    assert len(asked) == 2 and set(app._coroutines) == {hook, _View.get}


def test_a_coroutine_still_runs_through_async_to_sync(app, monkeypatch):
    monkeypatch.setattr(app, "async_to_sync", lambda func: ("wrapped", func))

    async def view():
        return "async"

    assert app.ensure_sync(view) == ("wrapped", view)
    assert app.ensure_sync(view) == ("wrapped", view)  # remembered as a coroutine, still wrapped


def test_the_memo_stays_bounded(app, monkeypatch):
    monkeypatch.setattr(type(app), "MEMO_SIZE", 3)
    app._coroutines.clear()
    made = [partial(print, n) for n in range(10)]  # objects made per call, without __func__
    assert all(app.ensure_sync(p) is p for p in made)
    assert len(app._coroutines) == 3
