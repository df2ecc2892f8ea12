"""The two hot endpoints' database round trips, counted on the wire, so that none creeps in unnoticed.

A real connection with real commits (no test transaction around it), traced by libpq: every
ReadyForQuery the server sends ends one round trip. Three each: BEGIN goes out with the request's
first statement in one pipeline (db.pg_one), the request's reads and writes are one statement each,
then COMMIT. The credential check is remembered (AUTH_CACHE_S) and the embedded rate budget is in
memory, so neither costs one.
"""
import pytest
from sqlalchemy import event

from marketplace.extensions import db
from tests.factories import AnnotatorFactory, bearer, open_project

pytestmark = pytest.mark.postgres


class Wire:
    """libpq's protocol trace of every connection checked out while it is on."""

    def __init__(self, engine, path):
        self.engine, self.path = engine, path
        self.file = path.open("w")
        self.traced = []

    def _trace(self, dbapi_connection, record, proxy):
        dbapi_connection.pgconn.trace(self.file.fileno())
        self.traced.append(dbapi_connection)

    def __enter__(self):
        event.listen(self.engine, "checkout", self._trace)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "checkout", self._trace)
        # Stop every trace before the file closes: libpq would go on writing to its descriptor number,
        # which the next socket opened (Redis's, a worker's) reuses.
        for connection in self.traced:
            if not connection.closed:
                connection.pgconn.untrace()
        self.engine.dispose()
        self.file.close()

    def round_trips(self) -> int:
        self.file.flush()
        count = sum("ReadyForQuery" in line for line in self.path.read_text().splitlines())
        self.file.truncate(0)
        self.file.seek(0)
        return count


def test_a_plain_lease_and_a_plain_answer_take_three_round_trips_each(committed_app, monkeypatch, tmp_path):
    monkeypatch.setitem(committed_app.config, "AUTH_CACHE_S", 5.0)
    with committed_app.app_context():
        project = open_project(tasks=3, answers_per_task=2)  # no gold, no rules: the plain path
        headers = bearer(AnnotatorFactory())
        db.session.commit()
        project_id = project.id
        db.session.remove()
        engine = db.engine
        engine.dispose()  # one connection from here on: the warm-up prepares the statements on it
    client = committed_app.test_client()

    def lease_and_answer():
        lease = client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers)
        assert lease.status_code == 201
        trips = wire.round_trips()
        answered = client.post(f"/api/v1/assignments/{lease.json['id']}/answer", json={"answer": {"label": "cat"}},
                               headers=headers)
        assert answered.status_code == 200
        return trips, wire.round_trips()

    with Wire(engine, tmp_path / "wire.txt") as wire:
        lease_and_answer()  # the first use of each statement on a connection also prepares it
        # BEGIN with the context read, the lease statement, COMMIT; BEGIN with the context read, the write
        # (answer, task count, trust counters, payment in one statement), COMMIT.
        assert lease_and_answer() == (3, 3)


def test_a_closing_answer_costs_the_same_in_a_project_with_many_closed_tasks(committed_app, monkeypatch, tmp_path):
    """Issue 20: closing a task touches that task and its result only (no recount, no scan of the project)."""
    monkeypatch.setitem(committed_app.config, "AUTH_CACHE_S", 5.0)
    with committed_app.app_context():
        project = open_project(tasks=40, answers_per_task=1)  # every answer closes its task
        headers = bearer(AnnotatorFactory())
        db.session.commit()
        project_id = project.id
        db.session.remove()
        engine = db.engine
        engine.dispose()
    client = committed_app.test_client()

    def closing_answer() -> int:
        lease = client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers)
        assert lease.status_code == 201
        wire.round_trips()
        answered = client.post(f"/api/v1/assignments/{lease.json['id']}/answer", json={"answer": {"label": "cat"}},
                               headers=headers)
        assert answered.status_code == 200
        return wire.round_trips()

    with Wire(engine, tmp_path / "wire.txt") as wire:
        closing_answer()  # prepares the statements on the connection
        early = closing_answer()  # 2 tasks closed before it
        for _ in range(30):
            closing_answer()
        late = closing_answer()  # 33 closed before it
    assert late == early
    # BEGIN with the context (which says whether the owner has webhooks: not here), the write, the task's
    # answers (with their weights), its result, the payment (last but one: the escrow row is held from
    # there to the commit), the progress row, COMMIT
    assert late == 7
