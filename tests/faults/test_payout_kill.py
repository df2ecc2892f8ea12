"""A payout run whose worker dies after Stripe made one of its transfers and before our commit (issue 21).

A payout run opens three payouts; a real `rq worker` sends them to the fake Stripe in turn. Stripe
pays the first, then makes the second transfer and holds its reply; the test SIGKILLs the worker
then (Stripe has acted, our database has not, the third was never sent). The sweep sends the two
pending payouts again with their own idempotency keys; Stripe answers the second with the transfer
it made. Each payout is paid once: three transfers, one per key, and the books balance.
"""
import time
from datetime import timedelta

import pytest

from marketplace.db import transaction, utcnow
from marketplace.ledger import reports
from marketplace.payments import payouts
from marketplace.payments.models import Payout
from tests.factories import fresh
from tests.faults.workers import kill
from tests.payments.test_stripe_flows import _ready_annotator
from workers import payments as payment_jobs

pytestmark = pytest.mark.postgres

NAME = "payout-worker-to-kill"
EARNED = (2_000, 2_500, 3_000)


def test_a_payout_worker_killed_mid_run_after_stripe_acted_pays_each_once(money, fake_stripe, monkeypatch):
    with money.inline() as client:  # onboarding's Stripe events are handled inline, before the worker
        for cents in EARNED:
            _ready_annotator(client, fake_stripe, cents)
    with transaction():
        ids = payouts.run(now=utcnow(), minimum_cents=1_000)  # their send jobs go to Redis, in this order
    assert len(ids) == 3
    fake_stripe.fail_next("POST", "/v1/transfers", "hold", after=1)  # the first is answered, the second held
    worker = money.start(NAME, STRIPE_TIMEOUT_S=60)  # it waits for the held reply instead of retrying
    try:
        assert fake_stripe.wait_until_held(), "the worker never asked Stripe for the second transfer"
    finally:
        kill(worker, NAME)
        fake_stripe.let_held_go()
    killed_at = time.perf_counter()
    keys = [f"payout-{payout_id}" for payout_id in ids]
    assert [len(fake_stripe.transfers_with_key(key)) for key in keys] == [1, 1, 0]  # Stripe made two ...
    assert [fresh(Payout, payout_id).status for payout_id in ids] == ["paid", "pending", "pending"]  # ... we one
    later = utcnow() + payouts.STUCK_AFTER + timedelta(minutes=1)
    monkeypatch.setattr(payment_jobs, "utcnow", lambda: later)
    assert payment_jobs.sweep_money_jobs() == 2
    money.work()  # the sweep's jobs and the third's own
    recovered = time.perf_counter() - killed_at
    paid = [fresh(Payout, payout_id) for payout_id in ids]
    made = {transfer["id"]: transfer["amount"] for transfer in fake_stripe.objects("transfer")}
    assert [p.status for p in paid] == ["paid"] * 3 and len(made) == 3
    assert sorted(made[p.stripe_transfer_id] for p in paid) == sorted(EARNED)
    assert reports.trial_balance()["balanced"]
    posts = [r.idempotency_key for r in fake_stripe.requests if r.method == "POST" and r.path == "/v1/transfers"]
    assert sorted(posts) == sorted([keys[0], keys[1], keys[1], keys[2]])  # the held one twice, under its key
    print(f"\ninjected: SIGKILL of the payout worker mid-run, after Stripe made the second of three transfers and "
          f"before our commit; the sweep sent the two pending again and each was paid once, {recovered:.1f} s later")
