"""Import and export jobs survive a worker killed mid-job: a real `rq worker` is SIGKILLed after it
committed some chunks, the sweep re-enqueues the transfer, a burst worker finishes it.

Where the first worker is killed is made deterministic without sleeping: the test holds, in its own
uncommitted transaction, a row the job will collide with further on (a task with an external id of
the file's third chunk; an export chunk with the fourth sequence number). The worker commits the
chunks before it, then blocks on that row's unique index. The test waits for the job's
`NOTIFY transfers` (sent with each checkpoint commit), kills the worker, ends its database sessions
(as the server would notice a dead host) and lets the row go.
"""
import io
import json
from datetime import datetime, timezone

import psycopg
import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.tasks.models import Task
from marketplace.transfers.models import Transfer
from marketplace.webhooks import services as webhooks
from marketplace.webhooks import targets
from marketplace.webhooks.models import WebhookDelivery
from tests.factories import ProjectFactory, RequesterFactory, TaskFactory, bearer
from tests.faults.workers import PG_URL, burst_worker, kill, start_worker
from tests.transfers.conftest import with_results
from workers.transfers import sweep_transfers

APP_NAME = "transfer-worker-to-kill"
TRANSFERS = ["transfers"]
SMALL_CHUNKS = {"TRANSFER_IMPORT_CHUNK_ROWS": 50, "TRANSFER_CHUNK_BYTES": 1024}


def wait_for_checkpoints(listener, transfer_id: int, count: int) -> None:
    """Block until the job has committed `count` checkpoints (one NOTIFY each; a transaction sends one)."""
    notes = list(listener.notifies(timeout=120, stop_after=count))
    assert [note.payload for note in notes] == [str(transfer_id)] * count, "the worker stopped committing chunks"


def kill_after(app, worker_log, listener, blocker, transfer_id: int, checkpoints: int) -> None:
    """Start a worker, SIGKILL it once the job committed `checkpoints` checkpoints (it then waits on the blocker's
    row), and let that row go: its transaction died with the worker."""
    proc = start_worker(app, worker_log, TRANSFERS, APP_NAME, **SMALL_CHUNKS)
    try:
        wait_for_checkpoints(listener, transfer_id, checkpoints)
    finally:
        kill(proc, APP_NAME)
    blocker.rollback()


def restart(app, worker_log) -> None:
    """The lost job is found by the sweep (every running transfer is stale at 0 s), then a burst worker runs it."""
    saved = app.config["TRANSFER_STALE_AFTER_S"]
    app.config["TRANSFER_STALE_AFTER_S"] = 0
    try:
        assert sweep_transfers()
    finally:
        app.config["TRANSFER_STALE_AFTER_S"] = saved
    burst_worker(app, worker_log, TRANSFERS, APP_NAME, **SMALL_CHUNKS)


@pytest.fixture
def listener():
    conn = psycopg.connect(PG_URL, autocommit=True)
    conn.execute("LISTEN transfers")
    yield conn
    conn.close()


@pytest.fixture
def public_hooks(monkeypatch):
    """hooks.example.com resolves to a public address (webhook registration checks it; nothing is sent)."""
    monkeypatch.setattr(targets, "resolve_host", lambda host, port: ["93.184.216.34"])


def webhook_for(requester, project, event):
    webhooks.register(account=requester, fields={"url": "https://hooks.example.com/x", "events": [event],
                                                 "project_id": project.id})


def deliveries(event: str) -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.event == event))


def test_a_killed_import_resumes_at_its_checkpoint_without_duplicate_rows(committed_app, with_redis, public_hooks,
                                                                          listener, blocker, worker_log):
    app = committed_app
    with app.app_context():
        requester = RequesterFactory()
        project = ProjectFactory(requester_id=requester.id)
        TaskFactory(project_id=project.id, external_id="k0010")  # already there: one duplicate, before the kill
        webhook_for(requester, project, "import.completed")
        headers = bearer(requester)
        db.session.commit()
        blocker.execute("INSERT INTO tasks (project_id, external_id, data, status, slots_taken, slot_limit, answer_count, "
                        "created_at) VALUES (%s, 'k0120', '{}', 'open', 0, 1, 0, %s)",
                        (project.id, datetime.now(timezone.utc)))
        rows = "".join(json.dumps({"external_id": f"k{i:04d}", "data": {"text": f"row {i}"}}) + "\n" for i in range(300))
        app.config["TRANSFER_CHUNK_BYTES"] = 1024
        try:
            created = app.test_client().post(f"/api/v1/projects/{project.id}/imports/upload", headers=headers,
                                             data={"file": (io.BytesIO(rows.encode()), "tasks.jsonl")},
                                             content_type="multipart/form-data")
        finally:
            app.config["TRANSFER_CHUNK_BYTES"] = 1024 * 1024
        assert created.status_code == 202, created.json
        transfer_id = created.json["id"]

        kill_after(app, worker_log, listener, blocker, transfer_id, 2)  # chunks 1 and 2; the third waits on k0120

        db.session.expire_all()
        halfway = db.session.get(Transfer, transfer_id)
        assert halfway.status == "running" and halfway.rows_done == 100  # two chunks of 50 committed, not the third
        assert halfway.duplicate_count == 1
        restart(app, worker_log)

        db.session.expire_all()
        done = app.test_client().get(f"/api/v1/imports/{transfer_id}", headers=headers).json
        assert done["status"] == "succeeded" and done["percent"] == 100.0 and done["attempts"] >= 2
        assert (done["rows_done"], done["created"], done["duplicate_count"], done["duplicates"]) == (300, 299, 1, ["k0010"])
        ids = db.session.scalars(select(Task.external_id).where(Task.project_id == project.id)).all()
        assert sorted(ids) == [f"k{i:04d}" for i in range(300)]  # every row, once
        assert deliveries("import.completed") == 1


def test_a_killed_export_restarts_cleanly_and_its_file_equals_the_streamed_export(committed_app, with_redis, public_hooks,
                                                                                 listener, blocker, worker_log):
    app = committed_app
    with app.app_context():
        requester = RequesterFactory()
        project = ProjectFactory(requester_id=requester.id)
        with_results(project, 200)
        webhook_for(requester, project, "export.completed")
        headers = bearer(requester)
        db.session.commit()
        client = app.test_client()
        created = client.post(f"/api/v1/projects/{project.id}/exports", headers=headers, json={"format": "jsonl"})
        assert created.status_code == 202, created.json
        transfer_id = created.json["id"]
        blocker.execute("INSERT INTO transfer_chunks (transfer_id, seq, start_offset, size, data) "
                        "VALUES (%s, 3, 0, 1, '\\x00')", (transfer_id,))

        kill_after(app, worker_log, listener, blocker, transfer_id, 4)  # the clean start, chunks 0-2; chunk 3 waits

        db.session.expire_all()
        halfway = db.session.get(Transfer, transfer_id)
        assert halfway.status == "running" and 0 < halfway.rows_done < 200 and halfway.bytes_done == 3 * 1024
        restart(app, worker_log)

        db.session.expire_all()
        done = client.get(f"/api/v1/exports/{transfer_id}", headers=headers).json
        assert done["status"] == "succeeded" and done["percent"] == 100.0 and done["attempts"] >= 2
        assert done["rows_done"] == done["rows_total"] == 200
        got = client.get(done["download_url"], headers=headers).data
        assert got == client.get(f"/api/v1/projects/{project.id}/results/export", headers=headers).data
        assert len(got.splitlines()) == 200
        assert deliveries("export.completed") == 1
