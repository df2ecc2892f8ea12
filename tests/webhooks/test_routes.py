"""Webhook endpoints over HTTP: secrets shown once, ownership 404s, deliveries with attempts, replay, ping, jobs."""
from pathlib import Path

import pytest

from marketplace.accounts.models import ADMIN
from marketplace.webhooks.signing import verify_signature
from tests.factories import (
    AccountFactory,
    AnnotatorFactory,
    ProjectFactory,
    RequesterFactory,
    bearer,
)
from marketplace.webhooks import jobs
from workers import webhooks as webhook_jobs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def owner_headers(requester):
    return bearer(requester)


def register(client, headers, url, **fields):
    return client.post("/api/v1/webhooks", headers=headers, json={"url": url, "events": ["task.completed"], **fields})


def test_register_shows_the_secret_once_then_only_its_prefix(client, local_targets, receiver, owner_headers):
    created = register(client, owner_headers, receiver.url(), description="labels in")
    assert created.status_code == 201
    body = created.json
    assert body["secret"].startswith("whsec_") and body["secret"].startswith(body["secret_prefix"])
    assert body["events"] == ["task.completed"] and body["active"] is True and body["project_id"] is None
    read = client.get(f"/api/v1/webhooks/{body['id']}", headers=owner_headers)
    assert read.status_code == 200 and "secret" not in read.json and read.json["secret_prefix"] == body["secret_prefix"]
    listed = client.get("/api/v1/webhooks", headers=owner_headers).json
    assert [e["id"] for e in listed["items"]] == [body["id"]] and body["secret"] not in str(listed)


@pytest.mark.parametrize("fields, field", [
    ({"events": []}, "events"),
    ({"events": ["task.deleted"]}, "events"),
    ({"url": ""}, "url"),
    ({"project_id": "7"}, "project_id"),
])
def test_registration_validates_its_fields(client, local_targets, receiver, owner_headers, fields, field):
    response = client.post("/api/v1/webhooks", headers=owner_headers,
                           json={"url": receiver.url(), "events": ["task.completed"], **fields})
    assert response.status_code == 422 and field in response.json["errors"]["json"]


def test_http_urls_are_refused_unless_allowed(client, owner_headers, dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    response = register(client, owner_headers, "http://hooks.example.com/in")
    assert response.status_code == 422 and "https" in response.json["errors"]["json"]["url"][0]
    assert register(client, owner_headers, "https://hooks.example.com/in").status_code == 201


def test_project_filter_must_be_your_project(client, local_targets, receiver, requester, owner_headers):
    mine = ProjectFactory(requester_id=requester.id)
    theirs = ProjectFactory()
    refused = register(client, owner_headers, receiver.url(), project_id=theirs.id)
    assert refused.status_code == 422 and "project_id" in refused.json["errors"]["json"]
    assert register(client, owner_headers, receiver.url(), project_id=mine.id).json["project_id"] == mine.id


def test_another_requesters_endpoint_and_deliveries_are_404(client, local_targets, receiver, owner_headers):
    endpoint = register(client, owner_headers, receiver.url()).json
    client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=owner_headers)
    delivery_id = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=owner_headers).json["items"][0]["id"]
    stranger = bearer(RequesterFactory())
    base = f"/api/v1/webhooks/{endpoint['id']}"
    for method, path, json in [("get", base, None), ("patch", base, {"active": False}), ("delete", base, None),
                               ("post", base + "/rotate-secret", {}), ("post", base + "/test", None),
                               ("get", base + "/deliveries", None),
                               ("post", f"/api/v1/webhook-deliveries/{delivery_id}/replay", None)]:
        response = getattr(client, method)(path, headers=stranger, json=json)
        assert response.status_code == 404, (method, path)
    assert client.get("/api/v1/webhooks", headers=stranger).json["items"] == []
    assert client.get(base, headers=bearer(AnnotatorFactory())).status_code == 403
    admin = bearer(AccountFactory(role=ADMIN))
    assert client.get(base, headers=admin).status_code == 200


def test_patch_rechecks_the_url_and_changes_fields(client, local_targets, receiver, owner_headers, app):
    endpoint = register(client, owner_headers, receiver.url()).json
    path = f"/api/v1/webhooks/{endpoint['id']}"
    changed = client.patch(path, headers=owner_headers, json={"events": ["task.escalated", "recompute.finished"],
                                                              "active": False, "description": "later"})
    assert changed.status_code == 200
    assert changed.json["events"] == ["recompute.finished", "task.escalated"] and changed.json["active"] is False
    app.config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = False
    refused = client.patch(path, headers=owner_headers, json={"url": "https://127.0.0.1/x"})
    assert refused.status_code == 422 and "loopback" in refused.json["errors"]["json"]["url"][0]


def test_ping_delivers_a_signed_test_event_and_lists_it_with_its_attempts(client, local_targets, receiver, owner_headers):
    endpoint = register(client, owner_headers, receiver.url()).json
    pinged = client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=owner_headers)
    assert pinged.status_code == 202 and pinged.json["event"] == "ping"
    [got] = receiver.requests  # embedded mode: the job ran right after the commit
    assert got["headers"]["X-Marketplace-Event"] == "ping"
    assert verify_signature(endpoint["secret"], got["headers"]["X-Marketplace-Timestamp"], got["body"],
                            got["headers"]["X-Marketplace-Signature"])
    page = client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=owner_headers).json
    [listed] = page["items"]
    assert listed["status"] == "delivered" and listed["event_id"] == pinged.json["event_id"]
    assert [(a["number"], a["status_code"]) for a in listed["attempts"]] == [(1, 200)]


def test_deliveries_are_paginated_newest_first_and_filterable(client, local_targets, receiver, owner_headers):
    endpoint = register(client, owner_headers, receiver.url()).json
    receiver.plan[:] = [500, 200, 200]
    ids = [client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=owner_headers).json["id"] for _ in range(3)]
    path = f"/api/v1/webhooks/{endpoint['id']}/deliveries"
    first = client.get(path, headers=owner_headers, query_string={"limit": 2}).json
    assert [d["id"] for d in first["items"]] == ids[::-1][:2] and first["next_cursor"] == ids[1]
    rest = client.get(path, headers=owner_headers, query_string={"limit": 2, "cursor": first["next_cursor"]}).json
    assert [d["id"] for d in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    pending = client.get(path, headers=owner_headers, query_string={"status": "pending"}).json["items"]
    assert [d["id"] for d in pending] == [ids[0]] and pending[0]["attempts"][0]["status_code"] == 500
    assert client.get(path, headers=owner_headers, query_string={"status": "lost"}).status_code == 422


def test_replay_route_redelivers(client, local_targets, receiver, owner_headers):
    endpoint = register(client, owner_headers, receiver.url()).json
    delivery = client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=owner_headers).json
    replayed = client.post(f"/api/v1/webhook-deliveries/{delivery['id']}/replay", headers=owner_headers)
    assert replayed.status_code == 202 and replayed.json["cycle"] == 2
    assert len(receiver.requests) == 2
    assert len({r["headers"]["X-Marketplace-Delivery"] for r in receiver.requests}) == 1
    assert client.post("/api/v1/webhook-deliveries/999999/replay", headers=owner_headers).status_code == 404


def test_rotate_secret_returns_a_new_secret_once(client, local_targets, receiver, owner_headers):
    endpoint = register(client, owner_headers, receiver.url()).json
    rotated = client.post(f"/api/v1/webhooks/{endpoint['id']}/rotate-secret", headers=owner_headers,
                          json={"previous_valid_for_s": 0})
    assert rotated.status_code == 200 and rotated.json["secret"] != endpoint["secret"]
    assert rotated.json["previous_secret_expires_at"] is None
    client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=owner_headers)
    [got] = receiver.requests
    args = (got["headers"]["X-Marketplace-Timestamp"], got["body"], got["headers"]["X-Marketplace-Signature"])
    assert verify_signature(rotated.json["secret"], *args) and not verify_signature(endpoint["secret"], *args)


def test_delete_removes_the_endpoint_and_its_history(client, local_targets, receiver, owner_headers):
    endpoint = register(client, owner_headers, receiver.url()).json
    client.post(f"/api/v1/webhooks/{endpoint['id']}/test", headers=owner_headers)
    assert client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=owner_headers).status_code == 204
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=owner_headers).status_code == 404


def test_deliver_job_is_idempotent(ctx, local_targets, receiver, requester, project):
    from tests.webhooks.conftest import emitted, endpoint_for

    endpoint_for(requester, receiver.url())
    ids = emitted(project)
    assert webhook_jobs.deliver(ids) == {ids[0]: "delivered"}
    assert webhook_jobs.deliver(ids) == {}
    assert webhook_jobs.sweep_due_deliveries() == 0
    assert len(receiver.requests) == 1


def test_cron_sweeps_due_deliveries_every_minute(redis_conn):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file(str(ROOT / "workers" / "cron.py"))
    intervals = {job.func_name: job.interval for job in scheduler.get_jobs()}
    assert intervals[jobs.SWEEP_DUE_DELIVERIES.path] == 60
