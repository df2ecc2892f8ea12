"""Delivery: signed POSTs to a real local receiver, backoff after failures, one success and no more, timeouts, replay."""
import os
import shutil
import ssl
import subprocess
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import func, select, text

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.webhooks import delivery, sender, services
from marketplace.webhooks.jobs import DELIVER
from marketplace.webhooks.models import (
    DELIVERED,
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
)
from marketplace.webhooks.signing import verify_signature
from tests.factories import ProjectFactory, fresh
from tests.webhooks.conftest import HANG, emitted, endpoint_for, serve, stop


def attempts_of(delivery_id: int) -> list[WebhookAttempt]:
    return list(db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                   .order_by(WebhookAttempt.id)))


def test_delivery_is_signed_so_the_documented_recipe_verifies_it(ctx, local_targets, receiver, requester, project):
    _, secret = endpoint_for(requester, receiver.url())
    now = utcnow()
    [delivery_id] = emitted(project, payload={"task_id": 42, "label": "cat"}, now=now)
    assert delivery.attempt(delivery_id=delivery_id, now=now) == DELIVERED
    [got] = receiver.requests
    headers, body = got["headers"], got["body"]
    row = fresh(WebhookDelivery, delivery_id)
    assert headers["X-Marketplace-Event"] == "task.completed"
    assert headers["X-Marketplace-Delivery"] == row.event_id
    assert headers["Content-Type"] == "application/json"
    assert verify_signature(secret, headers["X-Marketplace-Timestamp"], body, headers["X-Marketplace-Signature"])
    assert not verify_signature(secret, headers["X-Marketplace-Timestamp"], body + b"x", headers["X-Marketplace-Signature"])
    assert b'"data":{"label":"cat","task_id":42}' in body and row.event_id.encode() in body
    assert row.status == DELIVERED and row.delivered_at == now and row.last_status_code == 200


def test_retries_back_off_after_500s_and_stop_after_one_success(ctx, local_targets, receiver, requester, project):
    endpoint_for(requester, receiver.url())
    receiver.plan[:] = [500, 503]
    t0 = utcnow()
    [delivery_id] = emitted(project, now=t0)
    assert delivery.attempt(delivery_id=delivery_id, now=t0) == PENDING
    assert fresh(WebhookDelivery, delivery_id).next_attempt_at == t0 + timedelta(seconds=30)
    assert delivery.attempt(delivery_id=delivery_id, now=t0 + timedelta(seconds=29)) is None  # not due yet
    assert delivery.attempt(delivery_id=delivery_id, now=t0 + timedelta(seconds=30)) == PENDING
    assert fresh(WebhookDelivery, delivery_id).next_attempt_at == t0 + timedelta(seconds=30 + 120)
    t2 = t0 + timedelta(seconds=150)
    assert delivery.attempt_next_due(now=t2) == DELIVERED
    for later in (t2, t2 + timedelta(hours=1), t2 + timedelta(days=2)):  # the sweep and stray jobs find nothing
        assert delivery.attempt(delivery_id=delivery_id, now=later) is None
        assert delivery.attempt_next_due(now=later) is None
    assert len(receiver.requests) == 3
    assert [(a.number, a.status_code) for a in attempts_of(delivery_id)] == [(1, 500), (2, 503), (3, 200)]
    row = fresh(WebhookDelivery, delivery_id)
    assert (row.status, row.attempt_count, row.next_attempt_at, row.last_error) == (DELIVERED, 3, None, None)
    assert {r["headers"]["X-Marketplace-Delivery"] for r in receiver.requests} == {row.event_id}


def test_gives_up_after_the_configured_attempts(ctx, app, local_targets, receiver, requester, project, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_MAX_ATTEMPTS", 3)
    endpoint_for(requester, receiver.url())
    receiver.plan[:] = [500] * 5
    now = utcnow()
    [delivery_id] = emitted(project, now=now)
    outcomes = []
    for _ in range(5):
        outcomes.append(delivery.attempt_next_due(now=now))
        now += timedelta(days=1)
    assert outcomes == [PENDING, PENDING, FAILED, None, None]
    row = fresh(WebhookDelivery, delivery_id)
    assert row.status == FAILED and row.last_status_code == 500 and "HTTP 500" in row.last_error
    assert len(receiver.requests) == 3


def test_backoff_schedule():
    assert [delivery.backoff(n).total_seconds() for n in range(1, 8)] == [30, 120, 600, 3600, 21600, 21600, 21600]


def test_a_timeout_is_recorded_and_retried(ctx, app, local_targets, receiver, requester, project, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOKS_TIMEOUT_S", 0.2)
    endpoint_for(requester, receiver.url())
    receiver.plan[:] = [HANG]
    now = utcnow()
    [delivery_id] = emitted(project, now=now)
    assert delivery.attempt(delivery_id=delivery_id, now=now) == PENDING
    [attempt] = attempts_of(delivery_id)
    assert attempt.status_code is None and attempt.error == "timed out after 0.2 s" and attempt.duration_ms >= 200
    assert fresh(WebhookDelivery, delivery_id).next_attempt_at == now + timedelta(seconds=30)


def test_a_refused_connection_is_recorded(ctx, local_targets, requester, project):
    unused = serve()
    url = unused.url()
    stop(unused)  # nothing listens there any more
    endpoint_for(requester, url)
    [delivery_id] = emitted(project)
    assert delivery.attempt_next_due(now=utcnow()) == PENDING
    assert "ConnectionRefusedError" in fresh(WebhookDelivery, delivery_id).last_error


def test_connects_to_the_checked_address_with_the_name_in_the_host_header(ctx, local_targets, receiver, dns, requester,
                                                                         project):
    dns["hooks.example.test"] = ["127.0.0.1"]
    endpoint_for(requester, receiver.url(host="hooks.example.test"))
    emitted(project)
    assert delivery.attempt_next_due(now=utcnow()) == DELIVERED
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An HTTPS receiver on 127.0.0.1 with a certificate for hooks.example.test, trusted by the sender."""
    if not shutil.which("openssl"):
        if os.environ.get("MARKETPLACE_REQUIRE_SERVICES") == "1":
            pytest.fail("openssl is needed to make a test certificate", pytrace=False)
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=hooks.example.test",
                    "-addext", "subjectAltName=DNS:hooks.example.test"], check=True, capture_output=True)
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    monkeypatch.setattr(sender, "tls_context", lambda: ssl.create_default_context(cafile=str(cert)))
    started = serve(wrap=lambda sock: server_side.wrap_socket(sock, server_side=True))
    yield started
    stop(started)


def test_https_by_address_still_verifies_the_certificate_for_the_name(ctx, local_targets, tls_receiver, dns, requester,
                                                                     project):
    dns["hooks.example.test"] = ["127.0.0.1"]
    dns["impostor.example.test"] = ["127.0.0.1"]
    endpoint_for(requester, tls_receiver.url(host="hooks.example.test", scheme="https"))
    endpoint_for(requester, tls_receiver.url(host="impostor.example.test", scheme="https"))
    ids = emitted(project)
    outcomes = {delivery.attempt(delivery_id=i, now=utcnow()) for i in ids}
    assert outcomes == {DELIVERED, PENDING}
    failed = next(fresh(WebhookDelivery, i) for i in ids if fresh(WebhookDelivery, i).status == PENDING)
    assert failed.last_error.startswith("TLS error")
    assert len(tls_receiver.requests) == 1


def test_replay_sends_the_same_event_again_in_a_new_cycle(ctx, local_targets, receiver, requester, project):
    endpoint_for(requester, receiver.url())
    now = utcnow()
    [delivery_id] = emitted(project, now=now)
    assert delivery.attempt(delivery_id=delivery_id, now=now) == DELIVERED
    services.replay(account=requester, delivery_id=delivery_id, now=now + timedelta(hours=1))
    queue.discard_pending()
    row = fresh(WebhookDelivery, delivery_id)
    assert (row.status, row.cycle, row.attempt_count, row.delivered_at) == (PENDING, 2, 0, None)
    assert delivery.attempt_next_due(now=now + timedelta(hours=1)) == DELIVERED
    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["X-Marketplace-Delivery"] == second["headers"]["X-Marketplace-Delivery"]
    assert [(a.cycle, a.number) for a in attempts_of(delivery_id)] == [(1, 1), (2, 1)]


def test_rotation_signs_with_both_secrets_during_the_grace_period(ctx, local_targets, receiver, requester, project):
    endpoint, old = endpoint_for(requester, receiver.url())
    now = utcnow()
    _, new = services.rotate_secret(account=requester, endpoint_id=endpoint.id, previous_valid_for_s=3600, now=now)
    emitted(project, now=now)
    emitted(project, now=now + timedelta(hours=2))
    assert delivery.attempt_next_due(now=now) == DELIVERED
    assert delivery.attempt_next_due(now=now + timedelta(hours=2)) == DELIVERED
    during, after = [(r["headers"]["X-Marketplace-Timestamp"], r["body"], r["headers"]["X-Marketplace-Signature"])
                     for r in receiver.requests]
    assert verify_signature(new, *during) and verify_signature(old, *during)
    assert verify_signature(new, *after) and not verify_signature(old, *after)


def test_disabled_endpoint_fails_its_pending_deliveries_without_sending(ctx, local_targets, receiver, requester, project):
    endpoint, _ = endpoint_for(requester, receiver.url())
    [delivery_id] = emitted(project)
    services.update(account=requester, endpoint_id=endpoint.id, fields={"active": False})
    assert delivery.attempt_next_due(now=utcnow()) == FAILED
    assert "disabled" in fresh(WebhookDelivery, delivery_id).last_error and receiver.requests == []
    assert emitted(project) == []  # and no new deliveries are made for it
    with pytest.raises(Conflict):
        services.replay(account=requester, delivery_id=delivery_id, now=utcnow())


def test_emit_matches_owner_event_and_project_filter(ctx, local_targets, receiver, requester, project):
    everything, _ = endpoint_for(requester, receiver.url("/all"), events=["task.completed", "project.completed"])
    only_this, _ = endpoint_for(requester, receiver.url("/one"), events=["task.completed"], project_id=project.id)
    other_project = ProjectFactory(requester_id=requester.id)
    endpoint_for(requester, receiver.url("/other"), events=["task.completed"], project_id=other_project.id)
    endpoint_for(requester, receiver.url("/escalations"), events=["task.escalated"])
    ProjectFactory()  # another requester's project; their endpoints never match ours
    ids = emitted(project, event="task.completed")
    assert {fresh(WebhookDelivery, i).endpoint_id for i in ids} == {everything.id, only_this.id}
    assert [fresh(WebhookDelivery, i).endpoint_id for i in emitted(project, event="project.completed")] == [everything.id]
    assert emitted(ProjectFactory(), event="task.completed") == []
    with pytest.raises(ValueError):
        services.emit(project_id=project.id, event="task.deleted", payload={}, now=utcnow())
    with pytest.raises(TypeError):
        services.emit(project_id=project.id, event="task.completed", payload={"when": utcnow()}, now=utcnow())


def test_emit_in_a_rolled_back_transaction_sends_nothing(ctx, local_targets, receiver, requester, project):
    endpoint_for(requester, receiver.url())
    db.session.commit()
    with pytest.raises(Conflict), transaction():
        services.emit(project_id=project.id, event="task.completed", payload={"task_id": 1}, now=utcnow())
        raise Conflict("the task did not complete after all")
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert receiver.requests == []
    with transaction():  # inline mode: the job runs right after the commit
        services.emit(project_id=project.id, event="task.completed", payload={"task_id": 1}, now=utcnow())
    assert len(receiver.requests) == 1


def test_many_emits_in_one_transaction_queue_one_job_per_batch(ctx, requester, project, dns, monkeypatch):
    dns["hooks.example.com"] = ["93.184.216.34"]
    endpoint_for(requester, "https://hooks.example.com/a")
    endpoint_for(requester, "https://hooks.example.com/b")
    sent = []
    monkeypatch.setattr(queue, "_dispatch", sent.append)
    with transaction():
        ids = [i for n in range(30) for i in services.emit(project_id=project.id, event="task.completed",
                                                               payload={"task_id": n}, now=utcnow())]
    assert len(ids) == 60
    assert [call.path for call in sent] == [DELIVER.path, DELIVER.path]
    assert [len(call.args[0]) for call in sent] == [services.BATCH_SIZE, 60 - services.BATCH_SIZE]
    assert sorted(i for call in sent for i in call.args[0]) == sorted(ids)
    with transaction():  # the next transaction starts a batch of its own
        services.emit(project_id=project.id, event="task.completed", payload={}, now=utcnow())
    assert [len(call.args[0]) for call in sent[2:]] == [2]


def test_a_delivery_locked_by_another_worker_is_skipped(committed_app, local_targets, receiver):
    with committed_app.app_context():
        from tests.factories import RequesterFactory

        requester = RequesterFactory()
        project = ProjectFactory(requester_id=requester.id)
        endpoint_for(requester, receiver.url())
        [delivery_id] = emitted(project)
        db.session.commit()
        with db.engine.connect() as other_worker:
            other_worker.execute(text("SELECT id FROM webhook_deliveries WHERE id = :id FOR UPDATE"), {"id": delivery_id})
            assert delivery.attempt(delivery_id=delivery_id, now=utcnow()) is None
            assert delivery.attempt_next_due(now=utcnow()) is None
            db.session.rollback()
            other_worker.rollback()
        assert delivery.attempt(delivery_id=delivery_id, now=utcnow()) == DELIVERED
        db.session.commit()
        assert len(receiver.requests) == 1


def test_a_real_worker_delivers_the_batch_queued_after_the_commit(committed_app, with_redis, local_targets, receiver):
    with committed_app.app_context():
        from tests.factories import RequesterFactory

        requester = RequesterFactory()
        project = ProjectFactory(requester_id=requester.id)
        _, secret = endpoint_for(requester, receiver.url())
        db.session.commit()
        with pytest.raises(Conflict), transaction():
            services.emit(project_id=project.id, event="task.completed", payload={"task_id": 1}, now=utcnow())
            raise Conflict("rolled back")
        assert Queue(services.QUEUE, connection=with_redis).jobs == []
        with transaction():
            ids = [services.emit(project_id=project.id, event="task.completed", payload={"task_id": n}, now=utcnow())[0]
                   for n in range(3)]
        [job] = Queue(services.QUEUE, connection=with_redis).jobs
        assert job.func_name == DELIVER.path and job.args == (ids,)
        worker = SimpleWorker([Queue(services.QUEUE, connection=with_redis)], connection=with_redis)
        assert worker.work(burst=True)
        assert len(receiver.requests) == 3
        assert all(verify_signature(secret, r["headers"]["X-Marketplace-Timestamp"], r["body"],
                                    r["headers"]["X-Marketplace-Signature"]) for r in receiver.requests)
        db.session.expire_all()
        assert {fresh(WebhookDelivery, i).status for i in ids} == {DELIVERED}
