"""PostgreSQL drops every connection (what a restart or a failover does to them) under an API in use (issue 21).

The request that meets a dead connection answers 503 with Retry-After in the one error shape, never a
500, and saves nothing; the pool replaces its connections, so the next request succeeds without
restarting anything; no lease is left half-made. Under load (a crowd on a real gunicorn, connections
dropped three times mid-run) only 503s are seen, and each task's slot and answer counts, the escrow's
reservation and the trial balance agree with the rows afterwards.
"""
import json
import threading
import time
import urllib.error
import urllib.request

import psycopg
import pytest
from sqlalchemy import func, select, text

from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.payments import escrow
from tests import real_gunicorn
from tests.conftest import TEST_DB
from tests.factories import AnnotatorFactory, bearer, open_project
from tests.faults.workers import PG_URL

pytestmark = pytest.mark.postgres


def drop_every_connection() -> int:
    """End every session of the test database but this one, as a server restart would."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (TEST_DB,)).fetchone()[0]


def test_requests_meeting_dropped_connections_answer_503_and_the_pool_recovers(committed_app):
    with committed_app.app_context():
        project = open_project(tasks=5, answers_per_task=1, max_leases_per_annotator=5)
        annotator = AnnotatorFactory()
        headers = bearer(annotator)
        db.session.commit()
        project_id, annotator_id = project.id, annotator.id
        db.session.remove()
    client = committed_app.test_client()
    lease_url = f"/api/v1/projects/{project_id}/assignments"
    assert client.post(lease_url, headers=headers).status_code == 201  # the pool now holds live connections
    assert drop_every_connection() >= 1
    dropped_at = time.perf_counter()
    refused = client.post(lease_url, headers=headers)
    assert refused.status_code == 503, refused.json
    assert refused.headers["Retry-After"] == "2"
    assert (refused.json["type"], refused.json["code"]) == ("unavailable", "unavailable")
    recovered = client.post(lease_url, headers=headers)
    assert recovered.status_code == 201, recovered.json
    recovery = time.perf_counter() - dropped_at
    with committed_app.app_context():
        leases = db.session.scalar(select(func.count()).select_from(Assignment)
                                   .where(Assignment.annotator_id == annotator_id))
    assert leases == 2  # the refused request left nothing behind
    print(f"\ninjected: every database connection dropped; one request answered 503 (Retry-After 2), the next "
          f"succeeded on a new connection {recovery:.2f} s after the drop")


class Crowd:
    """Annotators leasing and answering through a real gunicorn; on a 503 each checks what was saved and asks
    again at once (as Retry-After asks, minus the wait)."""

    def __init__(self, base: str, project_id: int, tokens: list[dict], cycles: int):
        self.base, self.project_id, self.tokens, self.cycles = base, project_id, tokens, cycles
        self.statuses: list[int] = []
        self.done = 0
        self.changed = threading.Condition()

    def call(self, path: str, headers: dict, body: dict | None = None, method: str = "POST") -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={**headers, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                status, payload = reply.status, json.load(reply)
        except urllib.error.HTTPError as refused:
            status, payload = refused.code, json.load(refused)
        with self.changed:
            self.statuses.append(status)
        return status, payload

    def lease(self, headers: dict) -> dict:
        """A lease; after a 503 the commit may still have happened, so look for a live lease before asking again."""
        while True:
            status, payload = self.call(f"/projects/{self.project_id}/assignments", headers)
            if status != 503:
                assert status == 201, payload
                return payload
            status, held = self.call("/assignments?status=leased", headers, method="GET")
            if status == 200 and held["items"]:
                return held["items"][0]

    def answer(self, headers: dict, assignment_id: int) -> None:
        """An answer; after a 503, check whether it was saved before sending it again."""
        while True:
            status, payload = self.call(f"/assignments/{assignment_id}/answer", headers, {"answer": {"label": "cat"}})
            if status != 503:
                assert status == 200, payload
                return
            status, seen = self.call(f"/assignments/{assignment_id}", headers, method="GET")
            if status == 200 and seen["status"] != "leased":
                return

    def annotate(self, headers: dict) -> None:
        for _ in range(self.cycles):
            self.answer(headers, self.lease(headers)["id"])
            with self.changed:
                self.done += 1
                self.changed.notify_all()

    def wait_for(self, cycles: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.done >= cycles, timeout=120), "the crowd stopped"


def test_connections_dropped_under_load_cost_503s_only_and_leave_the_books_whole(committed_app):
    threads, cycles = 4, 12
    with committed_app.app_context():
        project = open_project(tasks=threads * cycles + 4, answers_per_task=1, max_leases_per_annotator=1)
        tokens = [bearer(AnnotatorFactory()) for _ in range(threads)]
        db.session.commit()
        project_id = project.id
        db.session.remove()
    database = str(committed_app.config["SQLALCHEMY_DATABASE_URI"])
    with real_gunicorn.running(database, workers=2, SECRET_KEY=committed_app.config["SECRET_KEY"]) as port:
        crowd = Crowd(f"http://127.0.0.1:{port}/api/v1", project_id, tokens, cycles)
        annotators = [threading.Thread(target=crowd.annotate, args=(headers,)) for headers in tokens]
        for annotator in annotators:
            annotator.start()
        drops = 0
        for at in (8, 20, 32):
            crowd.wait_for(at)
            drops += drop_every_connection() > 0
        for annotator in annotators:
            annotator.join(timeout=120)
    refused = crowd.statuses.count(503)
    assert set(crowd.statuses) <= {200, 201, 503} and refused >= 1 and drops == 3
    with committed_app.app_context():
        db.engine.dispose()  # the test's own pooled connections were dropped too
        tasks = db.session.execute(text(
            "SELECT t.id, t.slots_taken, t.answer_count, count(a.id) FILTER (WHERE a.status IN ('leased', 'submitted')),"
            " count(a.id) FILTER (WHERE a.status = 'submitted') FROM tasks t LEFT JOIN assignments a ON a.task_id = t.id"
            " WHERE t.project_id = :p GROUP BY t.id"), {"p": project_id}).all()
        assert all(row[1:3] == row[3:5] for row in tasks), tasks  # slots and answers counted as the rows say
        assert sum(row.answer_count for row in tasks) == threads * cycles  # every answer once, none half-written
        assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]
        db.session.rollback()
    print(f"\ninjected: every database connection dropped 3 times under {threads} annotators on gunicorn; {refused} "
          f"request(s) answered 503 out of {len(crowd.statuses)}, none 500; slots, answers and escrow exact")
