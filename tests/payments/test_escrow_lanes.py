"""Escrow lanes: a project's escrow is split over ESCROW_LANES accounts so its leases and answers do not
all queue for one row; every movement of an answer stays on the lane its lease reserved on."""
import threading

import pytest
from sqlalchemy import func, select, text

from marketplace.approvals import services as approvals
from marketplace.assignments import services as assignments
from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger import services as ledger
from marketplace.ledger.models import (ESCROW_LANES, PROJECT_ESCROW, REQUESTER_AVAILABLE, LedgerAccount, LedgerEntry,
                                       LedgerTransaction)
from marketplace.payments import escrow
from tests.factories import AnnotatorFactory, account_totals, bearer, fund_escrow, fund_requester, open_project

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane (the portable lease path)

LABEL = {"answer": {"label": "cat"}}
JOIN_TIMEOUT_S = 120


def _lanes(project_id) -> dict[int, tuple[int, int]]:
    """lane -> (balance, held) of a project's escrow lanes, as the database has them now."""
    rows = db.session.execute(select(LedgerAccount.lane, LedgerAccount.balance_cents, LedgerAccount.held_cents).where(
        LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id == project_id)).all()
    return {lane: (balance, held) for lane, balance, held in rows}


def _on_lane(lane: int):
    """A new annotator whose own escrow lane is `lane`."""
    while True:
        annotator = AnnotatorFactory()
        if escrow.lane_of(annotator.id) == lane:
            return annotator


def _spread(project, cents_per_lane: int) -> None:
    """Put `cents_per_lane` on every lane of the project's escrow (out of its requester's funds)."""
    fund_requester(project.requester_id, cents_per_lane * ESCROW_LANES)
    source = ledger.account(REQUESTER_AVAILABLE, project.requester_id, project.currency)
    ledger.post(key=f"spread-{project.id}", kind="escrow", reference=("project", project.id), now=utcnow(),
                moves=[ledger.Move(source, lane, cents_per_lane) for lane in escrow.escrow_lanes(project)])


def test_a_top_up_spreads_whole_answers_over_the_lanes():
    assert ESCROW_LANES == 8
    assert escrow.split(100, 12) == [16, 12, 12, 12, 12, 12, 12, 12]  # 8 answers, 4 cents left over on lane 0
    assert escrow.split(30, 12) == [18, 12, 0, 0, 0, 0, 0, 0]  # fewer answers than lanes
    assert escrow.split(120, 12) == [24, 24, 12, 12, 12, 12, 12, 12]
    assert escrow.split(5, 0) == [5, 0, 0, 0, 0, 0, 0, 0]  # free answers: nothing to divide by
    for amount in range(0, 300, 7):
        shares = escrow.split(amount, 11)
        assert sum(shares) == amount and all(s >= 0 for s in shares)
        assert all(s % 11 == 0 for s in shares[1:]) and max(shares[1:]) - min(shares[1:]) <= 11


def test_an_answer_is_paid_and_approved_on_the_lane_its_lease_reserved_on(client):
    project = open_project(tasks=2, answers_per_task=8, reward_cents=10, fee_bps=2000, funded=False)
    fund_escrow(project)  # 16 answers of 12 cents: two on each lane
    assert _lanes(project.id) == {lane: (24, 0) for lane in range(ESCROW_LANES)}
    annotator = _on_lane(3)
    headers = bearer(annotator)
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    assert db.session.get(Assignment, lease["id"]).escrow_lane == 3
    assert _lanes(project.id)[3] == (24, 12)
    assert client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=headers).status_code == 200
    assert _lanes(project.id)[3] == (14, 2)  # the reward went to pending; the fee stays reserved on the lane
    paid_from = db.session.execute(
        select(LedgerAccount.lane).join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.idempotency_key == f"answer-{lease['id']}", LedgerAccount.kind == PROJECT_ESCROW)
    ).scalars().all()
    assert paid_from == [3]
    approvals.approve(project=project, ids=[lease["id"]], actor_id=None, now=utcnow())
    assert _lanes(project.id) == {lane: (12, 0) if lane == 3 else (24, 0) for lane in range(ESCROW_LANES)}
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_a_lease_whose_lane_is_dry_reserves_on_the_richest_lane(client):
    project = open_project(tasks=1, answers_per_task=2, reward_cents=10, fee_bps=0, funded=False)
    fund_escrow(project)  # 2 answers of 10 cents: lanes 0 and 1
    assert _lanes(project.id)[5] == (0, 0)
    annotator = _on_lane(5)
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
    assert db.session.get(Assignment, lease["id"]).escrow_lane == 0  # the tie between lanes 0 and 1 goes to 0
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=bearer(annotator))
    assert _lanes(project.id)[0] == (0, 0) and _lanes(project.id)[1] == (10, 0)
    rejected = approvals.reject(project=project, ids=[lease["id"]], category="other", reason="not what we asked for",
                                actor_id=None, now=utcnow())
    assert rejected == 1 and _lanes(project.id)[0] == (10, 0)  # the reward went back to the lane that paid it
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_money_spread_thinner_than_an_answer_is_pooled_for_the_lease(ctx):
    project = open_project(tasks=3, answers_per_task=1, reward_cents=10, fee_bps=0, funded=False)
    _spread(project, 3)  # 24 cents: two answers, but no lane can pay for one
    first, second, third = AnnotatorFactory(), AnnotatorFactory(), AnnotatorFactory()
    assignments.lease_next_task(project_id=project.id, annotator=first, now=utcnow())
    assignments.lease_next_task(project_id=project.id, annotator=second, now=utcnow())
    assert account_totals(PROJECT_ESCROW, project.id) == (24, 20)
    pooled = db.session.scalars(select(LedgerTransaction.idempotency_key)
                                .where(LedgerTransaction.kind == "escrow_pool")).all()
    assert pooled == [f"escrow_pool-{project.id}-1"]  # the second lease found 14 on one lane: no second pooling
    with pytest.raises(Conflict) as refused:
        assignments.lease_next_task(project_id=project.id, annotator=third, now=utcnow())
    assert refused.value.code == "insufficient_escrow"  # 4 cents left in all
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_closing_a_project_returns_every_lanes_free_money(client):
    project = open_project(tasks=4, answers_per_task=4, reward_cents=10, fee_bps=0, funded=False)
    fund_escrow(project)  # 160 cents, 20 on each lane
    annotators = [_on_lane(lane) for lane in (2, 6)]
    for annotator in annotators:
        client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator))
    owner = bearer(db.session.get(type(annotators[0]), project.requester_id))
    closed = client.post(f"/api/v1/projects/{project.id}/close", headers=owner)
    assert closed.status_code == 200 and closed.json["escrow"]["escrow_cents"] == 0
    assert account_totals(REQUESTER_AVAILABLE, project.requester_id) == (160, 0)
    assert set(_lanes(project.id).values()) == {(0, 0)}
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


@pytest.mark.postgres
def test_concurrent_leases_on_thin_lanes_spend_the_escrow_to_the_cent(committed_app):
    """Twelve annotators lease at once from an escrow spread 7 cents a lane (56 cents, answers of 10):
    pooling under concurrency hands out exactly five leases, refuses the rest for want of money, and
    never deadlocks or reserves a cent that is not there."""
    with committed_app.app_context():
        project = open_project(tasks=12, answers_per_task=1, reward_cents=10, fee_bps=0, funded=False)
        _spread(project, 7)
        annotators = [AnnotatorFactory() for _ in range(12)]
        headers = [bearer(a) for a in annotators]
        db.session.commit()
        project_id = project.id
    outcomes, start = [], threading.Barrier(len(headers))

    def lease(h):
        client = committed_app.test_client()
        start.wait(timeout=JOIN_TIMEOUT_S)
        while True:  # a lane drained under a lease (a race, not a shortage) is a 404 worth asking again
            answer = client.post(f"/api/v1/projects/{project_id}/assignments", headers=h)
            if answer.status_code != 404:
                outcomes.append((answer.status_code, (answer.json or {}).get("code")))
                return

    threads = [threading.Thread(target=lease, args=(h,), daemon=True) for h in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(outcomes) == [(201, None)] * 5 + [(409, "insufficient_escrow")] * 7
    with committed_app.app_context():
        assert account_totals(PROJECT_ESCROW, project_id) == (56, 50)
        assert db.session.scalar(select(func.count()).select_from(Assignment)
                                 .where(Assignment.project_id == project_id)) == 5
        assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def _waits_for_lane_before_another(app, project_id: int, held_lane: int, touched_lane: int, call) -> None:
    """Run `call` (an HTTP call in a thread) while this test holds `held_lane` of the project's escrow: it must
    wait for that lane before it locks `touched_lane`, a lane of higher id it would otherwise lock first."""
    with app.app_context(), db.engine.connect() as holder, db.engine.connect() as probe:
        ids = dict(holder.execute(select(LedgerAccount.lane, LedgerAccount.id).where(
            LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id == project_id)).all())
        assert ids[held_lane] < ids[touched_lane]
        holder.execute(select(LedgerAccount.id).where(LedgerAccount.id == ids[held_lane]).with_for_update())
        done = {}
        thread = threading.Thread(target=lambda: done.update(status=call()), daemon=True)
        thread.start()
        waiting = select(func.count()).select_from(text("pg_stat_activity")).where(
            text("wait_event_type = 'Lock' AND backend_type = 'client backend'"))
        while thread.is_alive() and not probe.scalar(waiting):
            probe.rollback()
        probe.rollback()
        assert thread.is_alive()  # it waits for the held lane...
        free = probe.execute(text("SELECT id FROM ledger_accounts WHERE id = :id FOR UPDATE SKIP LOCKED"),
                             {"id": ids[touched_lane]}).all()
        probe.rollback()
        assert free == [(ids[touched_lane],)]  # ...holding no other lane
        holder.rollback()
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not thread.is_alive() and done["status"] in (200, 201)


@pytest.mark.postgres
def test_closing_a_project_takes_every_lane_before_giving_back_a_lease_hold(committed_app):
    with committed_app.app_context():
        project = open_project(tasks=4, answers_per_task=4, reward_cents=10, fee_bps=0, funded=False)
        fund_escrow(project)
        annotator = _on_lane(5)
        client = committed_app.test_client()
        assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).status_code == 201
        owner = bearer(db.session.get(type(annotator), project.requester_id))
        db.session.commit()
        project_id = project.id
    _waits_for_lane_before_another(committed_app, project_id, 0, 5, lambda: committed_app.test_client().post(
        f"/api/v1/projects/{project_id}/close", headers=owner).status_code)
    with committed_app.app_context():
        assert set(_lanes(project_id).values()) == {(0, 0)}
        assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def _answers_on_lanes_2_and_5(app, rule: dict):
    """An annotator of lane 5 with two answers' worth of work in a project with `rule`: the first lease was
    reserved (and its answer paid) on lane 2, the second lease, not yet answered, on lane 5."""
    with app.app_context():
        project = open_project(tasks=4, answers_per_task=4, reward_cents=10, fee_bps=0, funded=False,
                               quality_rules=[rule])
        lanes = escrow.escrow_lanes(project)
        fund_requester(project.requester_id, 30)
        source = ledger.account(REQUESTER_AVAILABLE, project.requester_id, project.currency)
        ledger.post(key="to-lane-2", kind="escrow", reference=("project", project.id), now=utcnow(),
                    moves=[ledger.Move(source, lanes[2], 10)])
        annotator = _on_lane(5)
        headers = bearer(annotator)
        client = app.test_client()
        first = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
        assert client.post(f"/api/v1/assignments/{first['id']}/answer", json=LABEL, headers=headers).status_code == 200
        ledger.post(key="to-lane-5", kind="escrow", reference=("project", project.id), now=utcnow(),
                    moves=[ledger.Move(source, lanes[5], 20)])
        second = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
        assert [db.session.get(Assignment, a["id"]).escrow_lane for a in (first, second)] == [2, 5]
        db.session.commit()
        return project.id, lambda: app.test_client().post(
            f"/api/v1/assignments/{second['id']}/answer", json=LABEL, headers=headers).status_code


@pytest.mark.postgres
def test_an_answer_whose_rule_rejects_takes_its_pending_answers_lanes_before_paying(committed_app):
    """Where a rule that rejects answers fires, the answer locks the lanes of the annotator's pending answers
    (which the rejection refunds to) before it pays on its own: here lane 2, then lane 5."""
    rule = {"metric": "median_answer_time_s", "below": 3600, "min_count": 2, "action": "block",
            "reject_answers": True}  # fires at the second answer (tests judge the rules at every answer)
    project_id, answer = _answers_on_lanes_2_and_5(committed_app, rule)
    _waits_for_lane_before_another(committed_app, project_id, 2, 5, answer)
    with committed_app.app_context():
        # Both answers were paid and then rejected: each lane has its money back.
        assert _lanes(project_id)[2] == (10, 0) and _lanes(project_id)[5] == (20, 0)
        assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


@pytest.mark.postgres
def test_an_answer_whose_rule_is_judged_without_firing_takes_no_other_lane(committed_app):
    """Judging the rules does not read the annotator's pending answers' lanes, let alone lock them: with
    lane 2 held elsewhere, the answer on lane 5 goes through."""
    rule = {"metric": "gold_accuracy_lower_bound", "below": 0.6, "min_count": 5, "action": "block",
            "reject_answers": True}  # no gold answered: judged at every answer, never fires
    project_id, answer = _answers_on_lanes_2_and_5(committed_app, rule)
    with committed_app.app_context(), db.engine.connect() as holder:
        held = holder.execute(select(LedgerAccount.id).where(
            LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id == project_id, LedgerAccount.lane == 2)
            .with_for_update()).scalar_one()
        done = {}
        thread = threading.Thread(target=lambda: done.update(status=answer()), daemon=True)
        thread.start()
        thread.join(timeout=JOIN_TIMEOUT_S)
        assert not thread.is_alive() and done["status"] == 200 and held
        holder.rollback()
    with committed_app.app_context():
        assert _lanes(project_id)[2] == (0, 0) and _lanes(project_id)[5] == (10, 0)
        assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]
