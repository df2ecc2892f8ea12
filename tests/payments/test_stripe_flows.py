"""Funding, webhooks, payouts and refunds through the real stripe SDK against the local fake Stripe."""
import time

import pytest
from sqlalchemy import func, select

from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, REQUESTER_AVAILABLE, LedgerEntry
from marketplace.ledger import services as ledger
from marketplace.payments import payouts, reconcile
from marketplace.payments.models import Funding, Payout, StripeEvent
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer

WEBHOOK = "/api/v1/payments/stripe/webhook"


def _balance(kind, owner_id):
    row = ledger.find_account(kind, owner_id, "usd")
    return 0 if row is None else db.session.get(type(row), row.id, populate_existing=True).balance_cents


def _deliver(client, fake_stripe, event):
    payload, signature = fake_stripe.signed(event)
    return client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": signature, "Content-Type": "application/json"})


def _fund(client, fake_stripe, requester, cents=5_000, key=None):
    headers = {**bearer(requester), **({"Idempotency-Key": key} if key else {})}
    created = client.post("/api/v1/payments/fundings", json={"amount_cents": cents}, headers=headers)
    assert created.status_code == 201, created.json
    return created.json


def test_a_funding_creates_one_payment_intent_keyed_by_our_row(client, fake_stripe, stripe_gateway):
    requester = RequesterFactory()
    first = _fund(client, fake_stripe, requester, key="k1")
    replay = _fund(client, fake_stripe, requester, key="k1")
    assert replay == first and first["client_secret"] and first["status"] == "created" and not first["simulated"]
    assert len(fake_stripe.objects("payment_intent")) == 1
    assert [r.idempotency_key for r in fake_stripe.requests if r.method == "POST"] == [f"funding-{first['id']}"]
    assert _balance(REQUESTER_AVAILABLE, requester.id) == 0  # nothing until Stripe says it succeeded


def test_webhooks_delivered_three_times_and_out_of_order_credit_once(client, fake_stripe, stripe_gateway):
    requester = RequesterFactory()
    funding = _fund(client, fake_stripe, requester, cents=7_500)
    failed = fake_stripe.fail_payment(funding["payment_intent_id"])
    succeeded = fake_stripe.succeed_payment(funding["payment_intent_id"])
    for event in (succeeded, failed, succeeded, failed, succeeded):  # the failure arrives after the success too
        assert _deliver(client, fake_stripe, event).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 2
    assert db.session.get(Funding, funding["id"]).status == "succeeded"
    assert _balance(REQUESTER_AVAILABLE, requester.id) == 7_500
    assert ledger.posted(f"funding-{funding['id']}").external_id == funding["payment_intent_id"]
    assert reports.trial_balance()["balanced"]


def test_a_failed_payment_marks_the_funding_failed_and_credits_nothing(client, fake_stripe, stripe_gateway):
    requester = RequesterFactory()
    funding = _fund(client, fake_stripe, requester)
    _deliver(client, fake_stripe, fake_stripe.fail_payment(funding["payment_intent_id"], "Card declined."))
    got = client.get(f"/api/v1/payments/fundings/{funding['id']}", headers=bearer(requester)).json
    assert got["status"] == "failed" and got["failure_message"] == "Card declined."
    assert _balance(REQUESTER_AVAILABLE, requester.id) == 0


def test_a_bad_signature_is_refused_and_stores_nothing(client, fake_stripe, stripe_gateway):
    requester = RequesterFactory()
    funding = _fund(client, fake_stripe, requester)
    payload, _ = fake_stripe.signed(fake_stripe.succeed_payment(funding["payment_intent_id"]))
    response = client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": "t=1,v1=deadbeef"})
    assert response.status_code == 401 and response.json["code"] == "invalid_signature"
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 0


def _ready_annotator(client, fake_stripe, available_cents):
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    account = client.post("/api/v1/payouts/account", headers=headers)
    assert account.status_code == 201 and account.json["payouts_enabled"] is False
    link = client.post("/api/v1/payouts/account/onboarding-link", headers=headers)
    assert link.status_code == 201 and link.json["url"].startswith(fake_stripe.url)
    _deliver(client, fake_stripe, fake_stripe.complete_onboarding(account.json["stripe_account_id"]))
    assert client.get("/api/v1/payouts/account", headers=headers).json["payouts_enabled"] is True
    cash = ledger.account("stripe_cash", None, "usd")
    ledger.post(key=f"test-earned-{annotator.id}", kind="test", reference=("test", 0), now=utcnow(),
                moves=[ledger.Move(cash, ledger.account(ANNOTATOR_AVAILABLE, annotator.id, "usd"), available_cents)])
    fake_stripe.add_platform_balance(available_cents)
    return annotator


def test_a_payout_makes_one_transfer_keyed_payout_id(client, fake_stripe, stripe_gateway):
    annotator = _ready_annotator(client, fake_stripe, 2_500)
    with transaction():
        (payout_id,) = payouts.run(now=utcnow(), minimum_cents=1_000)  # the inline job sends it after the commit
    payout = db.session.get(Payout, payout_id, populate_existing=True)
    assert payout.status == "paid" and payout.amount_cents == 2_500
    assert [t["id"] for t in fake_stripe.transfers_with_key(f"payout-{payout_id}")] == [payout.stripe_transfer_id]
    assert _balance(ANNOTATOR_AVAILABLE, annotator.id) == 0
    listed = client.get("/api/v1/payouts", headers=bearer(annotator)).json["items"]
    assert [(p["id"], p["status"]) for p in listed] == [(payout_id, "paid")]


def test_a_transfer_that_times_out_twice_then_succeeds_is_made_once(ctx, fake_stripe, stripe_gateway):
    _ready_annotator(ctx.test_client(), fake_stripe, 1_500)
    ids = payouts.run(now=utcnow(), minimum_cents=1_000)
    fake_stripe.fail_next("POST", "/v1/transfers", "timeout", times=2)
    assert payouts.send(payout_id=ids[0], now=utcnow()) == "paid"
    transfer_posts = [r for r in fake_stripe.requests if r.method == "POST" and r.path == "/v1/transfers"]
    assert len(transfer_posts) == 3 and {r.idempotency_key for r in transfer_posts} == {f"payout-{ids[0]}"}
    assert len(fake_stripe.objects("transfer")) == 1


def test_a_payout_job_killed_after_stripe_answered_runs_again_into_one_transfer(ctx, fake_stripe, stripe_gateway):
    _ready_annotator(ctx.test_client(), fake_stripe, 1_200)
    (payout_id,) = payouts.run(now=utcnow(), minimum_cents=1_000)
    db.session.commit()  # the run's own commit (a savepoint here)
    savepoint = db.session.begin_nested()
    assert payouts.send(payout_id=payout_id, now=utcnow()) == "paid"
    savepoint.rollback()  # the worker died before our commit: Stripe made the transfer, we recorded nothing
    assert db.session.get(Payout, payout_id, populate_existing=True).status == "pending"
    assert payouts.send(payout_id=payout_id, now=utcnow()) == "paid"
    assert len(fake_stripe.objects("transfer")) == 1
    assert db.session.get(Payout, payout_id).stripe_transfer_id == fake_stripe.objects("transfer")[0]["id"]


def test_a_refused_transfer_returns_the_money_and_an_admin_can_retry(client, fake_stripe, stripe_gateway):
    annotator = _ready_annotator(client, fake_stripe, 3_000)
    fake_stripe.add_platform_balance(-3_000)  # Stripe's balance is short: the transfer is refused
    with transaction():
        (payout_id,) = payouts.run(now=utcnow(), minimum_cents=1_000)
    assert db.session.get(Payout, payout_id, populate_existing=True).status == "failed"
    assert _balance(ANNOTATOR_AVAILABLE, annotator.id) == 3_000
    fake_stripe.add_platform_balance(3_000)
    admin = bearer(AdminFactory())
    retried = client.post(f"/api/v1/admin/payouts/{payout_id}/retry", json={"reason": "balance topped up"},
                          headers=admin)
    assert retried.status_code == 200, retried.json
    assert db.session.get(Payout, payout_id, populate_existing=True).status == "paid"
    assert _balance(ANNOTATOR_AVAILABLE, annotator.id) == 0
    assert len(fake_stripe.transfers_with_key(f"payout-{payout_id}-retry-1")) == 1
    audit = client.get("/api/v1/admin/audit-log", headers=admin).json["items"]
    assert [(a["action"], a["target_id"], a["reason"]) for a in audit] == [("payout_retry", payout_id, "balance topped up")]
    assert reports.trial_balance()["balanced"]


def test_a_refund_leaves_available_and_cash_once_and_reconciliation_matches(client, fake_stripe, stripe_gateway):
    requester = RequesterFactory()
    funding = _fund(client, fake_stripe, requester, cents=4_000)
    _deliver(client, fake_stripe, fake_stripe.succeed_payment(funding["payment_intent_id"]))
    admin = bearer(AdminFactory())
    body = {"funding_id": funding["id"], "amount_cents": 1_500, "reason": "unused credit"}
    first = client.post("/api/v1/admin/refunds", json=body, headers={**admin, "Idempotency-Key": "r1"})
    again = client.post("/api/v1/admin/refunds", json=body, headers={**admin, "Idempotency-Key": "r1"})
    assert first.status_code == again.status_code == 201 and first.json["id"] == again.json["id"]
    assert client.get(f"/api/v1/admin/refunds?requester_id={requester.id}", headers=admin).json["items"][0]["status"] \
        == "succeeded"
    assert len(fake_stripe.objects("refund")) == 1 and _balance(REQUESTER_AVAILABLE, requester.id) == 2_500
    assert fake_stripe.events[-1]["type"] == "charge.refunded"  # our own refund's event books nothing more
    _deliver(client, fake_stripe, fake_stripe.events[-1])
    assert _balance(REQUESTER_AVAILABLE, requester.id) == 2_500
    too_much = client.post("/api/v1/admin/refunds", json={**body, "amount_cents": 2_501}, headers=admin)
    assert too_much.status_code == 422 and "amount_cents" in too_much.json["errors"]["json"]
    report = client.post("/api/v1/admin/reconciliation", json={"reason": "daily check"}, headers=admin).json
    assert report["differences"] == [] and report["matched"] == 2
    assert reports.trial_balance()["balanced"]


def test_reconciliation_reports_a_stripe_movement_the_ledger_does_not_know(client, fake_stripe, stripe_gateway):
    requester = RequesterFactory()
    funding = _fund(client, fake_stripe, requester, cents=900)
    fake_stripe.succeed_payment(funding["payment_intent_id"])  # its webhook never arrived
    with transaction():
        report = reconcile.run(now=utcnow())
    assert [(d["kind"], d["amount_cents"]) for d in report.differences] == [("missing_in_ledger", 900)]


@pytest.mark.parametrize("path", ["/api/v1/balance", "/api/v1/balance/entries"])
def test_annotators_and_requesters_only_read_their_own_money(client, path):
    rich, other = RequesterFactory(), RequesterFactory()
    from tests.factories import fund_requester

    fund_requester(rich.id, 12_345)
    mine = client.get(path, headers=bearer(rich)).json
    theirs = client.get(path, headers=bearer(other)).json
    assert "12345" in str(mine) and "12345" not in str(theirs)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2


def test_nobody_reads_another_requesters_funding(client, fake_stripe, stripe_gateway):
    owner, other = RequesterFactory(), RequesterFactory()
    funding = _fund(client, fake_stripe, owner)
    assert client.get(f"/api/v1/payments/fundings/{funding['id']}", headers=bearer(other)).status_code == 404
    assert client.get("/api/v1/payments/fundings", headers=bearer(other)).json["items"] == []


def test_a_refund_made_in_the_stripe_dashboard_is_booked_once_from_its_webhook(client, fake_stripe, stripe_gateway):
    requester = RequesterFactory()
    funding = _fund(client, fake_stripe, requester, cents=3_000)
    _deliver(client, fake_stripe, fake_stripe.succeed_payment(funding["payment_intent_id"]))
    refunded = fake_stripe.refund_from_dashboard(funding["payment_intent_id"], 1_000)
    for _ in range(3):
        assert _deliver(client, fake_stripe, refunded).status_code == 200
    assert _balance(REQUESTER_AVAILABLE, requester.id) == 2_000
    assert db.session.get(Funding, funding["id"], populate_existing=True).refunded_cents == 1_000
    with transaction():
        assert reconcile.run(now=utcnow()).differences == []


@pytest.mark.parametrize("event, problem", [
    ([{"id": "evt_1"}], "not a JSON object"),
    ({"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}, "no event id"),
    ({"id": "evt_2", "type": "payment_intent.succeeded", "data": {"object": "pi_1"}}, "data.object"),
    ({"id": "evt_3", "type": "payment_intent.succeeded", "data": {"object": {"id": 5}}}, "data.object.id"),
])
def test_a_signed_but_malformed_event_is_a_400_and_stores_nothing(client, fake_stripe, stripe_gateway, event, problem):
    response = _deliver(client, fake_stripe, event)
    assert response.status_code == 400 and problem in response.json["message"], response.json
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 0


@pytest.mark.parametrize("ahead_s, status", [(3600, 401), (60, 200)])
def test_a_signature_dated_in_the_future_is_refused_beyond_clock_skew(client, fake_stripe, stripe_gateway, ahead_s,
                                                                      status):
    funding = _fund(client, fake_stripe, RequesterFactory())
    event = fake_stripe.succeed_payment(funding["payment_intent_id"])
    payload, signature = fake_stripe.signed(event, timestamp=int(time.time()) + ahead_s)
    response = client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": signature})
    assert response.status_code == status, response.json
    stored = db.session.scalar(select(func.count()).select_from(StripeEvent))
    assert stored == (0 if status == 401 else 1)
    if status == 401:
        assert "future" in response.json["message"]
