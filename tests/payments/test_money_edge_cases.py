"""Money edge cases found in review: lost jobs, refunds racing their webhooks, debts, superseded answers."""
from datetime import timedelta

from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.assignments.models import Assignment
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, REFUNDS, REQUESTER_AVAILABLE, REQUESTER_RECEIVABLE
from marketplace.payments import gateway as gateways
from marketplace.payments import payouts, refunds
from marketplace.payments.models import Payout, Refund
from marketplace.tasks.models import Task
from tests.factories import (AdminFactory, AnnotatorFactory, RequesterFactory, account_totals, bearer, fund_requester,
                             open_project)
from tests.payments.test_stripe_flows import _deliver, _fund, _ready_annotator

REASON = "The image shows a dog, not a cat; see the guidelines."


def _balance(kind, owner_id):
    return account_totals(kind, owner_id)[0]


def _funded(client, fake_stripe, cents=4_000):
    requester = RequesterFactory()
    funding = _fund(client, fake_stripe, requester, cents=cents)
    _deliver(client, fake_stripe, fake_stripe.succeed_payment(funding["payment_intent_id"]))
    return requester, funding


def test_a_refund_whose_answer_was_lost_is_not_booked_again_by_its_webhook(client, fake_stripe, stripe_gateway):
    requester, funding = _funded(client, fake_stripe)
    fake_stripe.fail_next("POST", "/v1/refunds", "5xx_after", times=3)  # Stripe refunds; we never hear back
    body = {"funding_id": funding["id"], "amount_cents": 1_500, "reason": "unused credit"}
    assert client.post("/api/v1/admin/refunds", json=body, headers=bearer(AdminFactory())).status_code == 201
    refund = db.session.scalar(select(Refund))
    assert refund.status == "pending" and _balance(REQUESTER_AVAILABLE, requester.id) == 2_500
    _deliver(client, fake_stripe, fake_stripe.events[-1])  # charge.refunded: our refund, by its metadata
    assert _balance(REQUESTER_AVAILABLE, requester.id) == 2_500
    with transaction():
        assert refunds.send(refund_id=refund.id, now=utcnow()) == "succeeded"  # the retry gets the same refund
    assert len(fake_stripe.objects("refund")) == 1 and _balance(REFUNDS, 0) == 0
    assert reports.trial_balance()["balanced"]


def test_a_refund_stripe_holds_pending_then_fails_returns_the_money(client, fake_stripe, stripe_gateway):
    requester, funding = _funded(client, fake_stripe)
    fake_stripe.refunds_start_pending()
    body = {"funding_id": funding["id"], "amount_cents": 1_000, "reason": "unused credit"}
    client.post("/api/v1/admin/refunds", json=body, headers=bearer(AdminFactory()))
    refund = db.session.scalar(select(Refund))
    assert (refund.status, _balance(REFUNDS, 0)) == ("pending", 1_000)  # still on its way out
    _deliver(client, fake_stripe, fake_stripe.fail_refund(refund.stripe_refund_id))
    assert db.session.get(Refund, refund.id, populate_existing=True).status == "failed"
    assert _balance(REQUESTER_AVAILABLE, requester.id) == 4_000 and _balance(REFUNDS, 0) == 0


def test_a_refund_key_reused_for_another_refund_is_422_and_audited_once(client, fake_stripe, stripe_gateway):
    _, funding = _funded(client, fake_stripe)
    admin = {**bearer(AdminFactory()), "Idempotency-Key": "same"}
    body = {"funding_id": funding["id"], "amount_cents": 100, "reason": "unused credit"}
    assert client.post("/api/v1/admin/refunds", json=body, headers=admin).status_code == 201
    assert client.post("/api/v1/admin/refunds", json=body, headers=admin).status_code == 201
    other = client.post("/api/v1/admin/refunds", json={**body, "amount_cents": 200}, headers=admin)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]["headers"]
    log = client.get("/api/v1/admin/audit-log?target_type=refund", headers=admin).json["items"]
    assert len(log) == 1


def test_a_payout_whose_job_gave_up_is_sent_by_the_sweep_with_the_same_key(ctx, fake_stripe, stripe_gateway):
    from workers.payments import sweep_money_jobs

    annotator = _ready_annotator(ctx.test_client(), fake_stripe, 1_500)
    (payout_id,) = payouts.run(now=utcnow(), minimum_cents=1_000)
    fake_stripe.fail_next("POST", "/v1/transfers", "5xx", times=3)
    try:
        payouts.send(payout_id=payout_id, now=utcnow())
    except gateways.GatewayError as exc:
        assert exc.retryable  # RQ would retry; suppose every retry was spent
    db.session.get(Payout, payout_id).updated_at = utcnow() - timedelta(hours=1)
    assert sweep_money_jobs() == 1  # inline: the queued send runs now
    payout = db.session.get(Payout, payout_id, populate_existing=True)
    assert payout.status == "paid" and len(fake_stripe.transfers_with_key(f"payout-{payout_id}")) == 1
    assert _balance(ANNOTATOR_AVAILABLE, annotator.id) == 0


def test_a_payout_sent_after_stripe_forgot_its_key_finds_the_transfer_instead_of_making_another(
        ctx, fake_stripe, stripe_gateway):
    _ready_annotator(ctx.test_client(), fake_stripe, 1_500)
    (payout_id,) = payouts.run(now=utcnow(), minimum_cents=1_000)
    savepoint = db.session.begin_nested()
    assert payouts.send(payout_id=payout_id, now=utcnow()) == "paid"
    savepoint.rollback()  # Stripe made it; our commit was lost
    fake_stripe.forget_idempotency_keys()
    assert payouts.send(payout_id=payout_id, now=utcnow() + timedelta(days=2)) == "paid"
    assert len(fake_stripe.objects("transfer")) == 1


def test_rejecting_a_superseded_answer_does_not_reopen_its_task_again(client):
    project = open_project(tasks=1, answers_per_task=1)
    owner = bearer(db.session.get(Account, project.requester_id))
    first, second = AnnotatorFactory(), AnnotatorFactory()

    def answer(annotator):
        lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
        client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "cat"}},
                    headers=bearer(annotator))
        return lease["id"]

    old = answer(first)
    client.post(f"/api/v1/projects/{project.id}/guidelines", headers=owner,
                json={"instructions": "v2", "major": True, "reopen_answered": True})
    answer(second)
    rejected = client.post(f"/api/v1/projects/{project.id}/answers/reject", headers=owner,
                           json={"assignment_ids": [old], "category": "wrong_answer", "reason": REASON}).json
    assert rejected["decided"] == 1
    task = db.session.get(Task, db.session.get(Assignment, old).task_id)
    assert (task.status, task.answer_count, task.slots_taken) == ("closed", 1, 1)


def test_an_overturn_the_requester_cannot_pay_is_advanced_and_repaid_from_the_next_funding(client):
    project = open_project(tasks=1, answers_per_task=1, reward_cents=10, fee_bps=2000)
    owner = bearer(db.session.get(Account, project.requester_id))
    annotator = AnnotatorFactory()
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "cat"}}, headers=bearer(annotator))
    client.post(f"/api/v1/projects/{project.id}/close", headers=owner)
    client.post(f"/api/v1/projects/{project.id}/answers/reject", headers=owner,
                json={"assignment_ids": [lease["id"]], "category": "wrong_answer", "reason": REASON})
    available = _balance(REQUESTER_AVAILABLE, project.requester_id)
    spender = RequesterFactory()  # the requester spends everything (a bonus elsewhere would do the same)
    ledger.post(key="spent", kind="test", reference=("test", 0), now=utcnow(),
                moves=[ledger.Move(ledger.account(REQUESTER_AVAILABLE, project.requester_id, "usd"),
                                   ledger.account(REQUESTER_AVAILABLE, spender.id, "usd"), available)])
    dispute = client.post("/api/v1/disputes", json={"assignment_id": lease["id"], "reason": "x" * 25},
                          headers=bearer(annotator)).json
    done = client.post(f"/api/v1/admin/disputes/{dispute['id']}/resolve", json={"outcome": "overturned", "note": "fair enough"},
                       headers=bearer(AdminFactory()))
    assert done.status_code == 200 and _balance(ANNOTATOR_AVAILABLE, annotator.id) == 10
    assert _balance(REQUESTER_RECEIVABLE, project.requester_id) == 12
    client.post("/api/v1/payments/fundings", json={"amount_cents": 100}, headers=owner)  # simulated: credited now
    assert _balance(REQUESTER_RECEIVABLE, project.requester_id) == 0
    assert _balance(REQUESTER_AVAILABLE, project.requester_id) == 88
    assert reports.trial_balance()["balanced"]


def test_without_stripe_keys_or_the_opt_in_payments_are_switched_off(client, app):
    previous = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = gateways.DisabledGateway()
    try:
        refused = client.post("/api/v1/payments/fundings", json={"amount_cents": 500}, headers=bearer(RequesterFactory()))
        assert refused.status_code == 503 and "not configured" in refused.json["message"]
        with transaction():
            assert payouts.run(now=utcnow(), minimum_cents=1) == []
    finally:
        app.extensions["payment_gateway"] = previous


def test_a_top_up_replay_after_nothing_was_moved_still_moves_nothing(client):
    project = open_project(tasks=1)  # escrow already covers the worst case
    owner = {**bearer(db.session.get(Account, project.requester_id)), "Idempotency-Key": "t"}
    first = client.post(f"/api/v1/projects/{project.id}/escrow", json={}, headers=owner).json
    fund_requester(project.requester_id, 500)
    db.session.execute(Task.__table__.update().values(slot_limit=50))  # now the worst case is higher
    replay = client.post(f"/api/v1/projects/{project.id}/escrow", json={}, headers=owner).json
    assert first["moved_cents"] == replay["moved_cents"] == 0
    assert _balance(REQUESTER_AVAILABLE, project.requester_id) == 500
