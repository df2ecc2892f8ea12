"""A payout whose worker dies after Stripe made the transfer and before our commit (issue 21).

A real `rq worker` sends the payout to the fake Stripe, which makes the transfer and holds its reply;
the test SIGKILLs the worker then (Stripe has acted, our database has not). The payout is still
pending; the sweep sends it again with the same idempotency key, Stripe answers with the transfer
it made, and the payout is paid once: one transfer, every request under one key.
"""
import time
from datetime import timedelta

import pytest

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.payments import payouts
from marketplace.payments.models import Payout
from tests.factories import fresh
from tests.faults.workers import burst_worker, kill, start_worker
from tests.payments.test_stripe_flows import _ready_annotator
from workers import payments as payment_jobs

pytestmark = pytest.mark.postgres

NAME = "payout-worker-to-kill"


def test_a_payout_worker_killed_after_stripe_acted_pays_once(committed_app, with_redis, fake_stripe, stripe_gateway,
                                                             worker_log, monkeypatch):
    app = committed_app
    stripe_env = {"STRIPE_API_KEY": "sk_test_fake", "STRIPE_API_BASE": fake_stripe.url,
                  "STRIPE_WEBHOOK_SECRET": fake_stripe.webhook_secret, "STRIPE_TIMEOUT_S": 60}
    with app.app_context():
        with monkeypatch.context() as inline:  # onboarding's Stripe event is handled inline, before the worker
            inline.setitem(app.config, "REDIS_URL", None)
            _ready_annotator(app.test_client(), fake_stripe, 2_000)
            db.session.commit()
        with transaction():
            (payout_id,) = payouts.run(now=utcnow(), minimum_cents=1_000)  # its job goes to Redis
    fake_stripe.fail_next("POST", "/v1/transfers", "hold")
    worker = start_worker(app, worker_log, [queue.DEFAULT], NAME, **stripe_env)
    try:
        assert fake_stripe.wait_until_held(), "the worker never asked Stripe for the transfer"
    finally:
        kill(worker, NAME)
        fake_stripe.let_held_go()
    killed_at = time.perf_counter()
    key = f"payout-{payout_id}"
    assert len(fake_stripe.transfers_with_key(key)) == 1  # Stripe acted ...
    with app.app_context():
        assert fresh(Payout, payout_id).status == "pending"  # ... and we recorded nothing
        later = utcnow() + payouts.STUCK_AFTER + timedelta(minutes=1)
        monkeypatch.setattr(payment_jobs, "utcnow", lambda: later)
        assert payment_jobs.sweep_money_jobs() == 1
    burst_worker(app, worker_log, [queue.DEFAULT], NAME, **stripe_env)
    recovered = time.perf_counter() - killed_at
    with app.app_context():
        payout = fresh(Payout, payout_id)
        (transfer,) = fake_stripe.objects("transfer")
        assert (payout.status, payout.stripe_transfer_id) == ("paid", transfer["id"])
    posts = [r for r in fake_stripe.requests if r.method == "POST" and r.path == "/v1/transfers"]
    assert len(posts) == 2 and {r.idempotency_key for r in posts} == {key}
    print(f"\ninjected: SIGKILL of the payout worker after Stripe made the transfer, before our commit; the "
          f"sweep sent it again under the same key and it was paid once, {recovered:.1f} s later")
