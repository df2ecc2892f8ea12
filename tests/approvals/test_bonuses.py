"""Bonuses need an Idempotency-Key; a replay returns the first response and moves money once."""
from sqlalchemy import func, select

from marketplace.accounts.models import Account
from marketplace.extensions import db
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, PLATFORM_FEES, LedgerAccount
from marketplace.approvals.models import Bonus
from tests.factories import AnnotatorFactory, RequesterFactory, bearer, fund_requester, open_project


def _answer(client, project, annotator):
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "cat"}}, headers=bearer(annotator))
    return lease["id"]


def _available(kind, owner_id):
    row = db.session.scalar(select(LedgerAccount).where(LedgerAccount.kind == kind, LedgerAccount.owner_id == owner_id)
                            .execution_options(populate_existing=True))
    return 0 if row is None else row.balance_cents


def test_a_bonus_replay_returns_the_first_response_and_pays_once(client):
    project = open_project(tasks=1, fee_bps=1000)
    annotator = AnnotatorFactory()
    assignment_id = _answer(client, project, annotator)
    owner = bearer(db.session.get(Account, project.requester_id))
    fund_requester(project.requester_id, 1_000)
    body = {"assignment_id": assignment_id, "amount_cents": 100, "reason": "careful work"}
    first = client.post("/api/v1/bonuses", json=body, headers={**owner, "Idempotency-Key": "b-1"})
    replay = client.post("/api/v1/bonuses", json=body, headers={**owner, "Idempotency-Key": "b-1"})
    assert first.status_code == replay.status_code == 201 and first.json == replay.json
    assert first.json["fee_cents"] == 10
    assert _available(ANNOTATOR_AVAILABLE, annotator.id) == 100 and _available(PLATFORM_FEES, 0) == 10
    changed = client.post("/api/v1/bonuses", json={**body, "amount_cents": 101}, headers={**owner, "Idempotency-Key": "b-1"})
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json["errors"]["headers"]
    received = client.get("/api/v1/bonuses", headers=bearer(annotator)).json["items"]
    assert [(b["amount_cents"], b["reason"]) for b in received] == [(100, "careful work")]


def test_a_bonus_without_an_idempotency_key_is_refused(client):
    project = open_project(tasks=1)
    assignment_id = _answer(client, project, AnnotatorFactory())
    response = client.post("/api/v1/bonuses", json={"assignment_id": assignment_id, "amount_cents": 5, "reason": "thanks"},
                           headers=bearer(db.session.get(Account, project.requester_id)))
    assert response.status_code == 422 and response.json["errors"] == {"headers": {"Idempotency-Key": ["required"]}}


def test_bonuses_are_paid_from_available_and_only_for_your_own_projects(client):
    project = open_project(tasks=1)
    assignment_id = _answer(client, project, AnnotatorFactory())
    body = {"assignment_id": assignment_id, "amount_cents": 50, "reason": "thanks"}
    broke = client.post("/api/v1/bonuses", json=body,
                        headers={**bearer(db.session.get(Account, project.requester_id)), "Idempotency-Key": "k"})
    assert broke.status_code == 402
    stranger = RequesterFactory()
    fund_requester(stranger.id, 1_000)
    other = client.post("/api/v1/bonuses", json=body, headers={**bearer(stranger), "Idempotency-Key": "k"})
    assert other.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Bonus)) == 0
