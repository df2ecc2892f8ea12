"""Escrow: publishing needs the worst case, every lease reserves an answer's cost, no work beyond the money."""
import pytest

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_PENDING, PROJECT_ESCROW, REQUESTER_AVAILABLE, LedgerAccount
from marketplace.payments import escrow
from tests.factories import (AnnotatorFactory, ProjectFactory, RequesterFactory, TaskFactory, account_totals, bearer,
                             fund_escrow, fund_requester, open_project)

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane

LABEL = {"answer": {"label": "cat"}}


def _balance(kind, owner_id):
    return account_totals(kind, owner_id)


def _owner(project):
    from marketplace.accounts.models import Account

    return db.session.get(Account, project.requester_id)


def test_publishing_needs_the_worst_case_and_moves_it_into_escrow(client):
    project = ProjectFactory(reward_cents=10, fee_bps=2000, answers_per_task=3, task_count=2)
    for i in range(2):
        TaskFactory(project_id=project.id, external_id=f"e{i}", slot_limit=3)
    headers = bearer(_owner(project))
    fund_requester(project.requester_id, 71)  # 2 tasks x 3 answers x (10 + 2) = 72
    short = client.post(f"/api/v1/projects/{project.id}/publish", headers=headers)
    assert short.status_code == 402 and "72 needed" in short.json["message"]
    assert client.get(f"/api/v1/projects/{project.id}", headers=headers).json["status"] == "draft"
    fund_requester(project.requester_id, 29)
    published = client.post(f"/api/v1/projects/{project.id}/publish", headers=headers).json
    assert published["escrow"] == {"escrow_cents": 72, "escrow_held_cents": 0, "escrow_free_cents": 72,
                                   "answer_cost_cents": 12, "fee_bps": 2000}
    assert _balance(REQUESTER_AVAILABLE, project.requester_id) == (28, 0)


def test_a_lease_reserves_an_answer_and_the_answer_pays_the_reward_into_pending(client):
    project = open_project(tasks=1, answers_per_task=1, reward_cents=10, fee_bps=2000, funded=False)
    fund_escrow(project)  # exactly one answer: 12 cents
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    assert _balance(PROJECT_ESCROW, project.id) == (12, 12)
    done = client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=headers)
    assert done.status_code == 200 and done.json["payment_status"] == "pending"
    assert _balance(PROJECT_ESCROW, project.id) == (2, 2)  # the fee stays reserved until approval
    assert _balance(ANNOTATOR_PENDING, annotator.id) == (10, 0)
    balance = client.get("/api/v1/balance", headers=headers).json
    assert balance["balances"] == [{"currency": "usd", "available_cents": 0, "pending_cents": 10}]
    assert balance["gateway"] == {"name": "ledger-only", "moves_money": False}


def test_no_work_is_handed_out_beyond_what_escrow_can_pay(client):
    project = open_project(tasks=3, answers_per_task=1, reward_cents=10, fee_bps=0, funded=False)
    fund_escrow(project, 15)  # one answer and a half
    first, second = AnnotatorFactory(), AnnotatorFactory()
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(first)).status_code == 201
    refused = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(second))
    assert refused.status_code == 409 and "escrow cannot pay for one more answer" in refused.json["message"]
    top_up = client.post(f"/api/v1/projects/{project.id}/escrow", json={}, headers=bearer(_owner(project)))
    assert top_up.status_code == 402  # the requester has nothing available
    fund_requester(project.requester_id, 100)
    topped = client.post(f"/api/v1/projects/{project.id}/escrow", json={}, headers=bearer(_owner(project))).json
    # Two slots are still to lease (the third is leased and reserved): 20 needed, 5 free, 15 moved.
    assert topped["moved_cents"] == 15 and topped["escrow_free_cents"] == 20
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(second)).status_code == 201


def test_released_and_expired_leases_give_their_reservation_back(ctx):
    from marketplace.assignments import services as assignments

    project = open_project(tasks=2, answers_per_task=1, reward_cents=10, fee_bps=0, funded=False)
    fund_escrow(project)
    now = utcnow()
    a, b = AnnotatorFactory(), AnnotatorFactory()
    first = assignments.lease_next_task(project_id=project.id, annotator=a, now=now)
    assignments.lease_next_task(project_id=project.id, annotator=b, now=now)
    assert _balance(PROJECT_ESCROW, project.id) == (20, 20)
    assignments.release(assignment_id=first.assignment_id, annotator=a, now=now)
    assert _balance(PROJECT_ESCROW, project.id) == (20, 10)
    assert assignments.expire_leases(now=now.replace(year=now.year + 1)) == 1
    assert _balance(PROJECT_ESCROW, project.id) == (20, 0)


def test_closing_a_project_returns_the_free_escrow_and_ends_live_leases(client):
    project = open_project(tasks=2, answers_per_task=1, reward_cents=10, fee_bps=2000, funded=False)
    fund_escrow(project)  # 24
    annotator = AnnotatorFactory()
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=bearer(annotator))
    closed = client.post(f"/api/v1/projects/{project.id}/close", headers=bearer(_owner(project))).json
    assert closed["escrow"]["escrow_cents"] == 2 and closed["escrow"]["escrow_free_cents"] == 0  # the pending fee
    assert _balance(REQUESTER_AVAILABLE, project.requester_id) == (12, 0)


def test_tasks_imported_into_an_open_project_are_escrowed_or_refused(client):
    project = open_project(tasks=0, answers_per_task=2, reward_cents=5, fee_bps=0, funded=False)
    owner = bearer(_owner(project))
    body = {"tasks": [{"external_id": "n1", "data": {}}, {"external_id": "n2", "data": {}}]}
    refused = client.post(f"/api/v1/projects/{project.id}/tasks", json=body, headers=owner)
    assert refused.status_code == 402
    assert client.get(f"/api/v1/projects/{project.id}", headers=owner).json["task_count"] == 0
    fund_requester(project.requester_id, 20)
    assert client.post(f"/api/v1/projects/{project.id}/tasks", json=body, headers=owner).status_code == 201
    assert escrow.state(project)["escrow_cents"] == 20


def test_nobody_tops_up_or_reads_another_requesters_escrow(client):
    project = open_project(tasks=1)
    stranger = bearer(RequesterFactory())
    assert client.get(f"/api/v1/projects/{project.id}/escrow", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/projects/{project.id}/escrow", json={"amount_cents": 5}, headers=stranger).status_code \
        == 404
    assert ledger.find_account(REQUESTER_AVAILABLE, 0, "usd") is None


def test_a_top_up_replayed_with_its_idempotency_key_moves_money_once(client):
    project = open_project(tasks=1, funded=False)
    fund_requester(project.requester_id, 1_000)
    owner = {**bearer(_owner(project)), "Idempotency-Key": "top-1"}
    first = client.post(f"/api/v1/projects/{project.id}/escrow", json={"amount_cents": 300}, headers=owner).json
    replay = client.post(f"/api/v1/projects/{project.id}/escrow", json={"amount_cents": 300}, headers=owner).json
    assert first == replay and first["moved_cents"] == 300 and first["escrow_cents"] == 300
    assert _balance(REQUESTER_AVAILABLE, project.requester_id) == (700, 0)


def test_the_hourly_check_finds_reservations_in_step_and_corrects_drift(client):
    from marketplace.payments.models import Funding  # noqa: F401 (every table loaded)
    from workers.payments import check_escrow_holds

    project = open_project(tasks=3, answers_per_task=1, reward_cents=10, fee_bps=2000)
    a, b = AnnotatorFactory(), AnnotatorFactory()
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(a)).json
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=bearer(a))
    client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(b))
    assert check_escrow_holds() == 0  # one live lease (12) and one pending fee (2)
    assert _balance(PROJECT_ESCROW, project.id)[1] == 14
    db.session.execute(LedgerAccount.__table__.update().where(LedgerAccount.kind == PROJECT_ESCROW,
                                                              LedgerAccount.lane == 0).values(held_cents=3))
    assert check_escrow_holds() == 1
    assert _balance(PROJECT_ESCROW, project.id)[1] == 14


def test_the_fee_is_rounded_up_in_integer_cents():
    assert [escrow.fee_cents(3, 2000), escrow.fee_cents(10, 2000), escrow.fee_cents(0, 2000),
            escrow.fee_cents(100_000, 1), escrow.fee_cents(99_999_999, 2999)] == [1, 2, 0, 10, 29_990_000]
