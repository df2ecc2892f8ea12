"""`Idempotency-Key` on every state-changing request: one effect, the first response replayed, reuse refused."""
import hashlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.idempotency import store
from marketplace.idempotency.models import IdempotencyKey
from marketplace.projects.models import Project
from marketplace.webhooks.models import WebhookEndpoint
from tests.factories import RequesterFactory, bearer, fund_requester, open_project

PROJECT = {"name": "Pets", "instructions": "Which animal?", "reward_cents": 3,
           "label_schema": {"type": "classification", "classes": ["cat", "dog"]}}
pytestmark = pytest.mark.embedded


def _projects(requester_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Project).where(Project.requester_id == requester_id))


def test_the_same_key_twice_creates_one_project_and_replays_the_first_response(client):
    requester = RequesterFactory()
    headers = {**bearer(requester), "Idempotency-Key": "create-pets-1"}
    first = client.post("/api/v1/projects", json=PROJECT, headers=headers)
    again = client.post("/api/v1/projects", json=PROJECT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _projects(requester.id) == 1
    other = client.post("/api/v1/projects", json=PROJECT, headers={**bearer(requester), "Idempotency-Key": "pets-2"})
    assert other.status_code == 201 and _projects(requester.id) == 2


def test_a_key_reused_for_a_different_request_is_422(client):
    headers = {**bearer(RequesterFactory()), "Idempotency-Key": "k1"}
    assert client.post("/api/v1/projects", json=PROJECT, headers=headers).status_code == 201
    reused = client.post("/api/v1/projects", json={**PROJECT, "name": "Birds"}, headers=headers)
    assert reused.status_code == 422 and reused.json["code"] == "idempotency_key_reused"
    assert reused.json["param"] == "Idempotency-Key"


def test_keys_belong_to_one_account(client):
    one, two = RequesterFactory(), RequesterFactory()
    for who in (one, two):
        response = client.post("/api/v1/projects", json=PROJECT, headers={**bearer(who), "Idempotency-Key": "same"})
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert _projects(one.id) == _projects(two.id) == 1


def test_a_failed_request_leaves_the_key_free(client):
    requester = RequesterFactory()
    project = open_project(tasks=0, funded=False, requester_id=requester.id)
    headers = {**bearer(requester), "Idempotency-Key": "publish-1"}
    refused = client.post(f"/api/v1/projects/{project.id}/publish", headers=headers)
    assert refused.status_code == 409  # already open: nothing changed, nothing kept
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_a_state_change_is_replayed_not_repeated(client):
    requester = RequesterFactory()
    created = client.post("/api/v1/projects", json=PROJECT, headers=bearer(requester)).json
    client.post(f"/api/v1/projects/{created['id']}/tasks", json={"tasks": [{"external_id": "a", "data": {"text": "a"}}]},
                headers=bearer(requester))
    fund_requester(requester.id, 10_000)
    headers = {**bearer(requester), "Idempotency-Key": "publish-once"}
    first = client.post(f"/api/v1/projects/{created['id']}/publish", headers=headers)
    again = client.post(f"/api/v1/projects/{created['id']}/publish", headers=headers)
    assert first.status_code == 200 and again.status_code == 200 and again.json == first.json, first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    plain = client.post(f"/api/v1/projects/{created['id']}/publish", headers=bearer(requester))
    assert plain.status_code == 409  # without the key the second publish is refused as usual


def test_a_secret_shown_once_is_not_kept_for_replays(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", True)
    headers = {**bearer(RequesterFactory()), "Idempotency-Key": "hook-1"}
    body = {"url": "https://127.0.0.1/hook", "events": ["task.completed"]}
    first = client.post("/api/v1/webhooks", json=body, headers=headers)
    again = client.post("/api/v1/webhooks", json=body, headers=headers)
    assert first.status_code == 201 and first.json["secret"]
    assert again.json["secret"] is None and again.json["id"] == first.json["id"]
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 1
    kept = db.session.scalar(select(IdempotencyKey.body))
    assert first.json["secret"] not in kept


def test_an_unfinished_claim_answers_409_and_expired_keys_are_purged(client):
    requester = RequesterFactory()
    raw = json.dumps(PROJECT).encode()
    now = utcnow()
    db.session.add(IdempotencyKey(account_id=requester.id, key="busy", method="POST", path="/api/v1/projects?",
                                  request_hash=hashlib.sha256(b"POST /api/v1/projects?\n" + raw).hexdigest(),
                                  created_at=now))  # claimed by a request that has not finished
    db.session.flush()
    busy = client.post("/api/v1/projects", data=raw, content_type="application/json",
                       headers={**bearer(requester), "Idempotency-Key": "busy"})
    assert busy.status_code == 409 and busy.json["code"] == "idempotency_key_in_use"
    assert _projects(requester.id) == 0
    assert store.purge(before=now + timedelta(hours=25)) >= 1
    assert client.post("/api/v1/projects", json=PROJECT,
                       headers={**bearer(requester), "Idempotency-Key": "busy"}).status_code == 201


def test_the_spec_declares_the_header_on_state_changing_operations(client):
    spec = client.get("/api/v1/openapi.json").json
    names = [p["name"] for p in spec["paths"]["/api/v1/projects"]["post"]["parameters"]]
    assert "Idempotency-Key" in names
