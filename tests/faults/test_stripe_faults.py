"""Stripe answering 500s, timing out or slowly while a real worker sends money (issue 21).

A real `rq worker` sends payouts and a refund to the fake Stripe, which times out after acting, acts
and then answers 500, refuses with 500s until the SDK's retries are spent, or answers slowly. Every
retry (the SDK's own, then RQ's) goes out under the row's idempotency key, so each payout is one
transfer and the refund one refund, and the books balance afterwards.
"""
import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from marketplace import queue
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.payments.models import Payout, Refund
from tests.factories import AdminFactory, RequesterFactory, bearer, fresh
from tests.payments.test_stripe_flows import _deliver, _fund

pytestmark = pytest.mark.postgres


def posts(fake_stripe, path: str, key: str) -> list:
    return [r for r in fake_stripe.requests if r.method == "POST" and r.path == path and r.idempotency_key == key]


def retry_now(redis) -> int:
    """Put the jobs RQ scheduled for a later retry on their queue now (what the worker's scheduler does then)."""
    jobs = Queue(queue.DEFAULT, connection=redis)
    registry = ScheduledJobRegistry(queue=jobs)
    ids = registry.get_job_ids()
    for job in jobs.job_class.fetch_many(ids, connection=redis):
        registry.remove(job)
        jobs.enqueue_job(job)
    return len(ids)


@pytest.mark.parametrize("faults, requests", [
    ([("timeout", 1), ("5xx_after", 1)], 3),  # acted and timed out, replayed into a 500, replayed into the reply
    ([("slow", 1)], 1),  # answered within the client's timeout
])
def test_a_payout_through_stripe_timeouts_500s_and_slowness_is_one_transfer(money, fake_stripe, faults, requests):
    payout_id = money.pay(2_000)
    for kind, times in faults:
        fake_stripe.fail_next("POST", "/v1/transfers", kind, times=times)
    took = money.work()
    key = f"payout-{payout_id}"
    assert fresh(Payout, payout_id).status == "paid"
    assert len(posts(fake_stripe, "/v1/transfers", key)) == requests  # the SDK's retries, under one key
    assert len(fake_stripe.transfers_with_key(key)) == len(fake_stripe.objects("transfer")) == 1
    assert reports.trial_balance()["balanced"]
    print(f"\ninjected: Stripe {' then '.join(kind for kind, _ in faults)} on a transfer; paid once after "
          f"{requests} request(s) under one key, {took:.1f} s")


def test_a_payout_stripe_refuses_past_the_sdk_retries_is_paid_once_by_rqs_retry(money, fake_stripe, with_redis):
    payout_id = money.pay(1_500)
    fake_stripe.fail_next("POST", "/v1/transfers", "5xx", times=3)  # the first try and both SDK retries
    money.work()
    assert fresh(Payout, payout_id).status == "pending"  # the job failed and RQ scheduled it again
    assert retry_now(with_redis) == 1
    took = money.work()
    key = f"payout-{payout_id}"
    assert fresh(Payout, payout_id).status == "paid"
    assert len(posts(fake_stripe, "/v1/transfers", key)) == 4
    assert len(fake_stripe.objects("transfer")) == 1
    assert reports.trial_balance()["balanced"]
    print(f"\ninjected: Stripe 500 on a transfer three times (the SDK gave up); RQ's retry paid it once, {took:.1f} s")


def test_a_refund_stripe_made_but_answered_with_500s_is_one_refund(money, fake_stripe, with_redis, committed_app):
    requester = RequesterFactory()
    with money.inline() as client:
        funding = _fund(client, fake_stripe, requester, cents=4_000)
        _deliver(client, fake_stripe, fake_stripe.succeed_payment(funding["payment_intent_id"]))
    fake_stripe.fail_next("POST", "/v1/refunds", "5xx_after", times=3)  # Stripe refunds; we never hear back
    body = {"funding_id": funding["id"], "amount_cents": 1_500, "reason": "unused credit"}
    admin = bearer(AdminFactory())
    db.session.commit()
    created = committed_app.test_client().post("/api/v1/admin/refunds", json=body, headers=admin)  # its job to Redis
    assert created.status_code == 201, created.json
    money.work()  # the SDK's three tries all end in a 500: RQ schedules the job again
    refund_id = created.json["id"]
    assert fresh(Refund, refund_id).status == "pending"
    assert retry_now(with_redis) == 1
    took = money.work()
    assert fresh(Refund, refund_id).status == "succeeded"
    assert len(posts(fake_stripe, "/v1/refunds", f"refund-{refund_id}")) == 4
    assert len(fake_stripe.objects("refund")) == 1
    assert reports.trial_balance()["balanced"]
    print(f"\ninjected: Stripe made a refund and answered 500 three times; RQ's retry settled it once, {took:.1f} s")
