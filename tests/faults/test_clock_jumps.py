"""Clocks that jump (issue 21): a worker or an API process whose wall clock is stepped expires leases,
approves answers and dates leases by the database's clock, not its own.

The processes run under libfaketime (Debian's `faketime` package, which .ci/run installs). The worker's
wall clock is stepped in the middle of its run, after it has read the time once, as NTP or a restored VM
steps a host's clock; the monotonic clock is left alone, as such a step leaves it. Without
marketplace.clock, the worker stepped 3 h ahead expires a live lease and approves an answer an hour
early, the one stepped 3 h back leaves an expired lease leased and a due answer unpaid, and the API 3 h
behind hands out leases that are already expired.
"""
import glob
import json
import signal
import time
import urllib.request
from datetime import datetime, timedelta

import psycopg
import pytest
from rq import Queue

from marketplace import queue
from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from tests import real_gunicorn
from tests.conftest import REQUIRE_SERVICES
from tests.factories import AnnotatorFactory, bearer, fresh, open_project
from tests.faults.workers import PG_URL, burst_worker

pytestmark = pytest.mark.postgres

FAKETIME = next(iter(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")), None)
DELAY_S = 3_600  # the project's auto-approval delay
STEP = timedelta(hours=3)


@pytest.fixture(scope="module")
def libfaketime() -> str:
    if FAKETIME is None:
        message = "libfaketime is not installed: apt-get install -y faketime (.ci/run does)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return FAKETIME


def stepped_clock(lib: str, **faketime) -> dict:
    """The environment of a process under libfaketime whose monotonic clock stays true when the wall clock steps.

    (libfaketime then fails an absolute monotonic sleep with EINVAL: gunicorn, which sleeps, runs with
    `skewed_clock` instead; the rq burst worker does not sleep.)
    """
    return {"LD_PRELOAD": lib, "FAKETIME_DONT_FAKE_MONOTONIC": "1", **faketime}


def skewed_clock(lib: str, offset: str) -> dict:
    """The environment of a process whose every clock is off by `offset` from its start (a host set wrong)."""
    return {"LD_PRELOAD": lib, "FAKETIME": offset}


def database_now() -> datetime:
    with psycopg.connect(PG_URL) as conn:
        return conn.execute("SELECT clock_timestamp()").fetchone()[0]


def move(assignment_id: int, column: str, by: str) -> None:
    """Shift one timestamp of an assignment by an interval of the database's clock."""
    with psycopg.connect(PG_URL) as conn:
        conn.execute(f"UPDATE assignments SET {column} = clock_timestamp() + %s::interval WHERE id = %s",
                     (by, assignment_id))


def lease_and_answer(app) -> dict:
    """Four leases of one annotator: one live, one past its deadline, one answered now, one answered 2 h ago."""
    with app.app_context():
        project = open_project(tasks=4, answers_per_task=1, max_leases_per_annotator=4, auto_approve_after_s=DELAY_S)
        headers = bearer(AnnotatorFactory())
        db.session.commit()
        project_id = project.id
        db.session.remove()
    client = app.test_client()
    ids = [client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers).json["id"] for _ in range(4)]
    live, expired, fresh_answer, due_answer = ids
    for answered in (fresh_answer, due_answer):
        reply = client.post(f"/api/v1/assignments/{answered}/answer", json={"answer": {"label": "cat"}},
                            headers=headers)
        assert reply.status_code == 200, reply.json
    move(expired, "expires_at", "-1 minute")
    move(due_answer, "submitted_at", "-2 hours")
    return {"live": live, "expired": expired, "fresh_answer": fresh_answer, "due_answer": due_answer}


@pytest.mark.parametrize("offset", ["+3h", "-3h"])
def test_a_worker_whose_wall_clock_jumps_expires_and_approves_by_the_database_clock(
        committed_app, with_redis, worker_log, libfaketime, tmp_path, offset):
    ids = lease_and_answer(committed_app)
    clock_file = tmp_path / "faketime"
    clock_file.write_text("+0\n")
    jobs = Queue(queue.DEFAULT, connection=with_redis)
    jobs.enqueue("tests.faults.clock_jobs.step_wall_clock", str(clock_file), offset)
    reported = jobs.enqueue("tests.faults.clock_jobs.clocks")
    jobs.enqueue("workers.assignments.expire_leases")
    jobs.enqueue("workers.payments.approve_due_answers")
    started = time.perf_counter()
    burst_worker(committed_app, worker_log, [queue.DEFAULT], "clock-jump-worker",
                 **stepped_clock(libfaketime, FAKETIME_TIMESTAMP_FILE=str(clock_file), FAKETIME_NO_CACHE="1"))
    elapsed = time.perf_counter() - started
    with committed_app.app_context():
        status = {name: fresh(Assignment, key) for name, key in ids.items()}
        assert status["live"].status == "leased"
        assert status["expired"].status == "expired"
        assert status["fresh_answer"].approved_at is None
        assert status["due_answer"].approved_at is not None
    seen = {name: datetime.fromisoformat(value) for name, value in reported.return_value().items()}
    step = STEP if offset.startswith("+") else -STEP
    assert abs(seen["wall"] - seen["now"] - step) < timedelta(minutes=1)  # the wall clock did jump ...
    assert abs(database_now() - seen["now"]) < timedelta(minutes=1)  # ... and the worker kept the database's
    print(f"\ninjected: the worker's wall clock stepped {offset} mid-run; it expired 1 of 2 leases and approved 1 "
          f"of 2 answers, the ones due by the database's clock ({elapsed:.1f} s)")


def test_an_api_whose_wall_clock_is_behind_dates_leases_by_the_database_clock(committed_app, libfaketime):
    with committed_app.app_context():
        project = open_project(tasks=2, answers_per_task=1)
        headers = bearer(AnnotatorFactory())
        db.session.commit()
        project_id = project.id
        db.session.remove()
    database = str(committed_app.config["SQLALCHEMY_DATABASE_URI"])
    # SIGKILL to stop it: under libfaketime a library's threading.Timer never wakes, so a graceful stop hangs.
    with real_gunicorn.running(database, stop=signal.SIGKILL, SECRET_KEY=committed_app.config["SECRET_KEY"],
                               **skewed_clock(libfaketime, "-3h")) as port:
        base = f"http://127.0.0.1:{port}/api/v1"
        request = urllib.request.Request(f"{base}/projects/{project_id}/assignments", method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as reply:
            lease = json.load(reply)
        answer = urllib.request.Request(f"{base}/assignments/{lease['id']}/answer", method="POST",
                                        data=json.dumps({"answer": {"label": "cat"}}).encode(),
                                        headers={**headers, "Content-Type": "application/json"})
        with urllib.request.urlopen(answer, timeout=30) as reply:
            assert reply.status == 200
    now = database_now()
    leased_at, expires_at = (datetime.fromisoformat(lease[key]) for key in ("leased_at", "expires_at"))
    assert abs(now - leased_at) < timedelta(minutes=1)
    assert expires_at - leased_at == timedelta(seconds=600)
    with committed_app.app_context():
        assert fresh(Assignment, lease["id"]).status == "submitted"
    print("\ninjected: gunicorn's wall clock 3 h behind; its lease was dated by the database's clock "
          f"({(now - leased_at).total_seconds():.1f} s before the check) and its answer accepted")
