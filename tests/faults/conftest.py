"""Fixtures of the fault tests: a second database session that holds rows, the workers' log, a webhook
receiver, and money set up inline then moved by a real worker."""
import contextlib
import sys
import tempfile
import time

import psycopg
import pytest

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.payments import payouts
from tests.faults.workers import PG_URL, burst_worker, start_worker
from tests.payments.test_stripe_flows import _ready_annotator
from tests.webhooks.conftest import serve, stop

LOCAL_TARGETS = {"WEBHOOKS_ALLOW_HTTP": 1, "WEBHOOKS_ALLOW_PRIVATE_TARGETS": 1}  # a worker's settings for `receiver`
STRIPE_CLIENT_TIMEOUT_S = 1.0  # the worker's STRIPE_TIMEOUT_S: the fake's "timeout" (3 s) passes it, "slow" does not


@pytest.fixture
def blocker():
    """A session of the test's own whose uncommitted locks stop a worker at a chosen row."""
    conn = psycopg.connect(PG_URL)
    yield conn
    conn.rollback()
    conn.close()


@pytest.fixture
def worker_log():
    """The workers' output, printed (its end) after the test."""
    with tempfile.TemporaryFile() as log:
        yield log
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace")[-4000:])


@pytest.fixture
def receiver(committed_app, monkeypatch):
    """A webhook receiver on 127.0.0.1 over http, which the app may deliver to (workers: given LOCAL_TARGETS)."""
    for name in LOCAL_TARGETS:
        monkeypatch.setitem(committed_app.config, name, True)
    started = serve()
    yield started
    stop(started)


@pytest.fixture
def money(committed_app, with_redis, fake_stripe, stripe_gateway, worker_log, monkeypatch):
    """Set money up inline (Redis off, Stripe's webhooks handled at once), then let a real burst worker,
    aimed at the fake Stripe, run the jobs waiting in Redis."""
    app = committed_app
    monkeypatch.setattr(fake_stripe, "timeout_delay_s", 3.0)
    env = {"STRIPE_API_KEY": "sk_test_fake", "STRIPE_API_BASE": fake_stripe.url, "STRIPE_MAX_RETRIES": 2,
           "STRIPE_WEBHOOK_SECRET": fake_stripe.webhook_secret, "STRIPE_TIMEOUT_S": STRIPE_CLIENT_TIMEOUT_S}

    class Money:
        """`env`: a worker's settings for the fake Stripe."""

        @contextlib.contextmanager
        def inline(self):
            """A test client whose jobs run inline, committed at the end."""
            with monkeypatch.context() as off:
                off.setitem(app.config, "REDIS_URL", None)
                yield app.test_client()
                db.session.commit()

        def work(self, queues=(queue.DEFAULT,), **settings) -> float:
            """Run a burst worker on `queues` until they are empty; returns the seconds it took."""
            started = time.perf_counter()
            burst_worker(app, worker_log, list(queues), "money-worker", **{**env, **settings})
            return time.perf_counter() - started

        def start(self, name: str, **settings):
            """A long-running worker on the default queue (to be killed mid-job), its sessions named `name`."""
            return start_worker(app, worker_log, [queue.DEFAULT], name, **{**env, **settings})

        def pay(self, cents: int) -> int:
            """An annotator with `cents` earned and a payout of it, whose send job waits in Redis."""
            with self.inline() as client:
                _ready_annotator(client, fake_stripe, cents)
            with transaction():
                (payout_id,) = payouts.run(now=utcnow(), minimum_cents=1_000)
            return payout_id

    with app.app_context():
        yield Money()
