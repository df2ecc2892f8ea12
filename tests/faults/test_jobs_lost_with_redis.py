"""Redis restarted without persistence while a job of every kind waits in it (issue 21): the database is the
record of pending work, and an hour of `rq cron`'s periodic jobs finds every one of them again.

Queued at the loss: a payout's transfer, a refund, a Stripe event to handle, a recompute, a closed
task's aggregation, a batch of webhook deliveries and an export. After `FLUSHDB`, the test runs every
periodic job once with the clock an hour on (in process, as `rq cron` would enqueue them), then a real
burst worker on every queue: each piece of work is done once (one transfer, one refund, the event
booked once, the run finished, the task's result written, each webhook recorded delivered, the export
written) and the books balance.
"""
import importlib
import json
import time
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import delete, select

from marketplace import clock, queue
from marketplace.accounts.models import Account
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.payments.models import Funding, Payout, Refund, StripeEvent
from marketplace.results import runs
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.results.models import FINISHED, RecomputeRun, Result
from marketplace.transfers.models import Transfer
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import WebhookDelivery
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer, fresh, open_project
from tests.faults.conftest import LOCAL_TARGETS
from tests.payments.test_stripe_flows import _deliver, _fund
from tests.results.test_policy import answer
from tests.transfers.conftest import with_results

pytestmark = pytest.mark.postgres

LOST = {"workers.payments.send_payout", "workers.payments.send_refund", "workers.payments.process_stripe_event",
        "workers.results.recompute_project", "workers.results.aggregate_project", "workers.webhooks.deliver",
        "workers.transfers.run_export"}


def queued_jobs(redis) -> set[str]:
    return {job.func_name for name in queue.ALL for job in Queue(name, connection=redis).jobs}


def run_every_periodic_job() -> None:
    """What `rq cron` runs in an hour: each periodic job once, in this process (its jobs go to Redis)."""
    for path in sorted(queue.periodic_paths()):
        module, name = path.rsplit(".", 1)
        getattr(importlib.import_module(module), name)()


def test_every_kind_of_job_lost_with_redis_is_done_once_after_the_sweeps(
        money, committed_app, fake_stripe, with_redis, receiver, monkeypatch):
    payout_id = money.pay(2_000)
    requester = RequesterFactory()
    with money.inline() as client:
        first = _fund(client, fake_stripe, requester, cents=4_000)
        _deliver(client, fake_stripe, fake_stripe.succeed_payment(first["payment_intent_id"]))
    project = open_project(tasks=2, answers_per_task=1, aggregation="ds", max_leases_per_annotator=1)
    answer(project, AnnotatorFactory(), "dog")
    with_results(project, 3)
    closed = open_project(tasks=2, answers_per_task=1, max_leases_per_annotator=1)
    unaggregated = answer(closed, AnnotatorFactory(), "bird")
    project_owner = db.session.get(Account, project.requester_id)
    webhooks.register(account=project_owner, fields={"url": receiver.url(), "events": ["task.completed"]})
    admin, owner = bearer(AdminFactory()), bearer(project_owner)
    db.session.commit()
    client = committed_app.test_client()  # from here on, each request's job waits in Redis
    refund = client.post("/api/v1/admin/refunds", headers=admin,
                         json={"funding_id": first["id"], "amount_cents": 1_000, "reason": "unused credit"})
    second = _fund(client, fake_stripe, requester, cents=3_000)
    assert _deliver(client, fake_stripe, fake_stripe.succeed_payment(second["payment_intent_id"])).status_code == 200
    export = client.post(f"/api/v1/projects/{project.id}/exports", headers=owner, json={})
    assert (refund.status_code, export.status_code) == (201, 202), (refund.json, export.json)
    with transaction():
        run = runs.queue_run(project_id=project.id, reason="requested", now=utcnow())
        deliveries = webhooks.emit_many(project_id=project.id, event="task.completed", now=utcnow(),
                                        payloads=[{"task": n} for n in range(3)])
        db.session.execute(delete(Result).where(Result.task_id == unaggregated))  # its aggregation is still to run
        AGGREGATE_PROJECT.after_commit(closed.id)
    assert queued_jobs(with_redis) >= LOST

    with_redis.flushdb()  # Redis restarted without persistence: every queued job and debounce mark is gone
    lost_at = time.perf_counter()
    later = utcnow() + timedelta(hours=1)
    with monkeypatch.context() as an_hour_on:
        an_hour_on.setattr(clock, "now", lambda: later)
        run_every_periodic_job()
    assert queued_jobs(with_redis) >= LOST - {"workers.webhooks.deliver"}  # the webhook sweep delivers itself
    money.work(queue.ALL, **LOCAL_TARGETS)
    recovered = time.perf_counter() - lost_at

    assert fresh(Payout, payout_id).status == "paid" and len(fake_stripe.objects("transfer")) == 1
    assert fresh(Refund, refund.json["id"]).status == "succeeded" and len(fake_stripe.objects("refund")) == 1
    assert fresh(Funding, second["id"]).status == "succeeded"
    assert db.session.scalars(select(StripeEvent).where(StripeEvent.processed_at.is_(None))).all() == []
    assert fresh(RecomputeRun, run.id).status == FINISHED
    assert fresh(Transfer, export.json["id"]).status == "succeeded"
    assert db.session.scalar(select(Result.label).where(Result.task_id == unaggregated)) == "bird"
    assert {fresh(WebhookDelivery, key).status for key in deliveries} == {"delivered"}
    emitted = [body["data"]["task"] for body in map(json.loads, (r["body"] for r in receiver.requests))
               if "task" in body["data"]]  # (the recompute's own task.completed events carry task_id)
    assert sorted(emitted) == [0, 1, 2]
    assert reports.trial_balance()["balanced"]
    print(f"\ninjected: Redis emptied with {len(LOST)} kinds of job queued; an hour of periodic jobs and a burst "
          f"worker did each once, {recovered:.1f} s after the loss")
