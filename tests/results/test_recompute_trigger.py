"""A project recomputes once enough answers arrived since its last run, not only every few minutes."""
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.results import cadence, recompute
from marketplace.results.jobs import RECOMPUTE_IF_DUE
from marketplace.results.models import RecomputeRun
from tests.conftest import REDIS_URL
from tests.factories import AnnotatorFactory, open_project
from tests.results.test_policy import answer
from workers import queues


def runs(project_id):
    return db.session.scalars(select(RecomputeRun).where(RecomputeRun.project_id == project_id)
                              .order_by(RecomputeRun.id)).all()


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(cadence, "RECOMPUTE_MIN_NEW_ANSWERS", 3)
    monkeypatch.setattr("marketplace.assignments.answering.CHECK_EVERY_ANSWERS", 1)


def test_enough_new_answers_queue_a_run_and_it_runs(ctx, small_threshold):
    project = open_project(tasks=4, answers_per_task=2, aggregation="ds", max_leases_per_annotator=1)
    crowd = [AnnotatorFactory() for _ in range(2)]
    answer(project, crowd[0], "dog")
    answer(project, crowd[0], "cat")
    assert runs(project.id) == []  # two answers: not yet
    answer(project, crowd[0], "dog")  # the third: the check queues a run, which runs inline
    [run] = runs(project.id)
    assert run.reason == "answers" and run.status == "finished" and run.answers == 3
    answer(project, crowd[1], "dog")
    answer(project, crowd[1], "cat")
    assert len(runs(project.id)) == 1  # two more since that run started: not yet
    answer(project, crowd[1], "dog")
    assert [r.answers for r in runs(project.id)] == [3, 6]


def test_the_threshold_grows_with_what_the_last_run_read(ctx, monkeypatch):
    monkeypatch.setattr(cadence, "RECOMPUTE_MIN_NEW_ANSWERS", 2)
    project = open_project(tasks=4, answers_per_task=1, aggregation="ds", max_leases_per_annotator=1)
    annotator = AnnotatorFactory()
    for label in ("dog", "cat"):
        answer(project, annotator, label)
    now = utcnow()
    db.session.add(RecomputeRun(project_id=project.id, status="finished", reason="periodic", queued_at=now,
                                started_at=now - timedelta(hours=1), answers=50))
    db.session.flush()
    monkeypatch.setattr(cadence, "RECOMPUTE_NEW_SHARE", 0.10)  # 10% of 50 = 5 needed, 2 arrived
    assert recompute.queue_if_due(project_id=project.id, now=now) is None
    monkeypatch.setattr(cadence, "RECOMPUTE_NEW_SHARE", 0.04)  # 2 needed
    with transaction():
        run = recompute.queue_if_due(project_id=project.id, now=now)
    assert run is not None and run.reason == "answers"


def test_no_second_run_is_queued_while_one_waits(ctx, monkeypatch):
    monkeypatch.setattr(cadence, "RECOMPUTE_MIN_NEW_ANSWERS", 1)
    project = open_project(tasks=2, answers_per_task=1, aggregation="ds", max_leases_per_annotator=1)
    answer(project, AnnotatorFactory(), "dog")
    now = utcnow()
    db.session.add(RecomputeRun(project_id=project.id, status="queued", reason="periodic", queued_at=now))
    db.session.flush()
    assert recompute.queue_if_due(project_id=project.id, now=now) is None


def test_the_check_is_sent_every_nth_answer_counted_in_redis(app, redis_conn):
    app.config["REDIS_URL"] = REDIS_URL
    try:
        with app.app_context():
            for _ in range(7):
                with transaction():
                    queue.enqueue_after_commit(RECOMPUTE_IF_DUE, 42, queue=queues.TRUTH, every=3)
            jobs = Queue(queues.TRUTH, connection=redis_conn).jobs
            assert [(job.func_name, job.args) for job in jobs] == [(RECOMPUTE_IF_DUE, (42,))] * 2
            with pytest.raises(RuntimeError):
                with transaction():
                    queue.enqueue_after_commit(RECOMPUTE_IF_DUE, 42, queue=queues.TRUTH, every=3)
                    raise RuntimeError("rolled back")
            assert redis_conn.get(queue.COUNT_PREFIX + RECOMPUTE_IF_DUE + ":42") == b"7"  # not counted
    finally:
        app.config["REDIS_URL"] = None
        with app.app_context():
            app.extensions["queue"]["redis"] = None
