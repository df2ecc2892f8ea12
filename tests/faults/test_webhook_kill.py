"""A webhook batch whose worker dies mid-batch (issue 21): every event is delivered at least once and
recorded once.

A real `rq worker` takes a batch of three deliveries to a receiver on 127.0.0.1, which answers the
first and hangs on the second; the test SIGKILLs the worker then. The first is recorded delivered
(each delivery commits on its own); the sweep delivers the other two.
"""
import json
import time

import pytest
from sqlalchemy import select

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import WebhookDelivery
from tests.factories import ProjectFactory, RequesterFactory
from tests.faults.conftest import LOCAL_TARGETS
from tests.faults.workers import kill, start_worker
from tests.webhooks.conftest import HANG
from workers.webhooks import sweep_due_deliveries

pytestmark = pytest.mark.postgres

NAME = "webhook-worker-to-kill"


def test_a_webhook_worker_killed_mid_batch_delivers_each_event_at_least_once_and_records_it_once(
        committed_app, with_redis, receiver, worker_log):
    app = committed_app
    with app.app_context():
        requester = RequesterFactory()
        project = ProjectFactory(requester_id=requester.id)
        webhooks.register(account=requester, fields={"url": receiver.url(), "events": ["task.completed"],
                                                     "project_id": project.id})
        db.session.commit()
        with transaction():  # one batch of three, sent to Redis after the commit
            ids = webhooks.emit_many(project_id=project.id, event="task.completed", now=utcnow(),
                                     payloads=[{"task": n} for n in range(3)])
    receiver.plan = [200, HANG]
    worker = start_worker(app, worker_log, [queue.WEBHOOKS], NAME, **LOCAL_TARGETS)
    try:
        assert receiver.hung.wait(120), "the worker never reached the second delivery"
    finally:
        kill(worker, NAME)
        receiver.release.set()
    killed_at = time.perf_counter()
    with app.app_context():
        states = dict(db.session.execute(select(WebhookDelivery.id, WebhookDelivery.status)
                                         .where(WebhookDelivery.id.in_(ids))).all())
        assert [states[i] for i in ids] == ["delivered", "pending", "pending"]  # the first was recorded before the kill
        assert sweep_due_deliveries() == 2
        recovered = time.perf_counter() - killed_at
        rows = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                                  .execution_options(populate_existing=True)).all()
        assert {row.status for row in rows} == {"delivered"} and len(rows) == 3  # one row each: recorded once
    received = [json.loads(r["body"])["data"]["task"] for r in receiver.requests]
    assert sorted(received) == [0, 1, 1, 2]  # the second twice (the hung attempt, then the sweep's): at least once
    print(f"\ninjected: SIGKILL of the webhook worker mid-batch (second of three in flight); the sweep delivered "
          f"the rest in {recovered:.2f} s; each delivered at least once, recorded once")
