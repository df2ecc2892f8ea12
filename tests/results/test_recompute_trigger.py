"""A project recomputes once enough answers arrived since its last run, not only every few minutes."""
from dataclasses import replace
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select, text

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.results import cadence, recompute
from marketplace.results.jobs import RECOMPUTE_IF_DUE
from marketplace.results.models import RecomputeRun
from tests.factories import AnnotatorFactory, open_project
from tests.results.test_policy import answer
from marketplace import queue as queues

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane


def runs(project_id):
    return db.session.scalars(select(RecomputeRun).where(RecomputeRun.project_id == project_id)
                              .order_by(RecomputeRun.id)).all()


def test_enough_new_answers_queue_a_run_that_a_worker_runs(committed_app, with_redis, monkeypatch):
    monkeypatch.setattr(cadence, "RECOMPUTE_MIN_NEW_ANSWERS", 3)
    monkeypatch.setattr("marketplace.assignments.answering.RECOMPUTE_IF_DUE", replace(RECOMPUTE_IF_DUE, every=2))
    truth = Queue(queues.TRUTH, connection=with_redis)
    worker = SimpleWorker([truth], connection=with_redis)
    with committed_app.app_context():
        project = open_project(tasks=6, answers_per_task=2, aggregation="ds", max_leases_per_annotator=1)
        crowd = [AnnotatorFactory() for _ in range(2)]
        db.session.commit()
        answer(project, crowd[0], "dog")
        assert truth.jobs == []  # asked every second answer
        answer(project, crowd[0], "cat")
        assert [job.func_name for job in truth.jobs] == [RECOMPUTE_IF_DUE.path]
        assert worker.work(burst=True)
        assert runs(project.id) == []  # two answers: fewer than three since the start
        for label in ("dog", "cat"):
            answer(project, crowd[0], label)
        assert worker.work(burst=True)  # the check queues a run; the same burst runs it
        db.session.expire_all()
        [run] = runs(project.id)
        assert (run.reason, run.status, run.answers) == ("answers", "finished", 4)
        for label in ("dog", "cat"):
            answer(project, crowd[1], label)
        assert worker.work(burst=True)
        db.session.expire_all()
        assert len(runs(project.id)) == 1  # two since that run started: not yet
        assert truth.failed_job_registry.count == 0


def test_without_a_queue_backend_answers_never_run_the_check_inline(ctx, monkeypatch):
    monkeypatch.setattr(cadence, "RECOMPUTE_MIN_NEW_ANSWERS", 1)
    monkeypatch.setattr("marketplace.assignments.answering.RECOMPUTE_IF_DUE", replace(RECOMPUTE_IF_DUE, every=1))
    project = open_project(tasks=3, answers_per_task=2, aggregation="ds", max_leases_per_annotator=1)
    answer(project, AnnotatorFactory(), "dog")
    assert runs(project.id) == []  # a recompute inside the request would hold it up


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


def test_the_check_is_sent_every_nth_answer_counted_in_redis(app, with_redis):
    with app.app_context():
        for _ in range(7):
            with transaction():
                queue.enqueue_after_commit(RECOMPUTE_IF_DUE.path, 42, queue=queues.TRUTH, every=3)
        jobs = Queue(queues.TRUTH, connection=with_redis).jobs
        assert [(job.func_name, job.args) for job in jobs] == [(RECOMPUTE_IF_DUE.path, (42,))] * 2
        with pytest.raises(RuntimeError):
            with transaction():
                queue.enqueue_after_commit(RECOMPUTE_IF_DUE.path, 42, queue=queues.TRUTH, every=3)
                raise RuntimeError("rolled back")
        assert with_redis.get(queue.count_key(RECOMPUTE_IF_DUE.path, (42,))) == b"7"  # the rollback not counted


def test_a_queued_run_whose_job_died_stops_holding_back_new_ones(ctx, monkeypatch):
    monkeypatch.setattr(cadence, "RECOMPUTE_MIN_NEW_ANSWERS", 1)
    project = open_project(tasks=2, answers_per_task=1, aggregation="ds", max_leases_per_annotator=1)
    answer(project, AnnotatorFactory(), "dog")
    now = utcnow()
    db.session.add(RecomputeRun(project_id=project.id, status="queued", reason="periodic",
                                queued_at=now - recompute.QUEUED_STALE_AFTER - timedelta(minutes=1)))
    db.session.flush()
    assert recompute.due_projects(now=now) == [project.id]
    with transaction():
        run = recompute.queue_if_due(project_id=project.id, now=now)
    assert run is not None and run.reason == "answers"


def test_a_completing_project_gets_one_last_recompute(ctx):
    project = open_project(tasks=2, answers_per_task=1, aggregation="ds", max_leases_per_annotator=1)
    annotator = AnnotatorFactory()
    answer(project, annotator, "dog")
    assert runs(project.id) == []
    answer(project, annotator, "cat")  # the last task closes: the project completes
    [run] = runs(project.id)
    assert (run.reason, run.status, run.answers) == ("completed", "finished", 2)


@pytest.mark.postgres  # PostgreSQL's advisory locks
def test_a_second_job_leaves_the_runs_a_running_recompute_took(committed_app):
    import psycopg

    from tests.conftest import PG_ADMIN_URL, TEST_DB

    with committed_app.app_context():
        project = open_project(tasks=2, answers_per_task=1, aggregation="ds")
        answer(project, AnnotatorFactory(), "dog")
        run = RecomputeRun(project_id=project.id, status="queued", reason="requested", queued_at=utcnow())
        db.session.add(run)
        db.session.commit()
        with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB) as running:
            # What a recompute in progress holds: the project's lock and its runs' rows, not yet committed.
            running.execute("SELECT pg_advisory_lock(%s)", (recompute.LOCK_SPACE | project.id,))
            running.execute("UPDATE recompute_runs SET status = 'running' WHERE id = %s", (run.id,))
            with transaction():
                db.session.execute(text("SET LOCAL lock_timeout = '5s'"))  # a regression fails, not hangs
                assert recompute.recompute_project(project_id=project.id, now=utcnow()) == {"skipped": True}
            running.execute("UPDATE recompute_runs SET status = 'finished' WHERE id = %s", (run.id,))
            running.commit()
            running.execute("SELECT pg_advisory_unlock(%s)", (recompute.LOCK_SPACE | project.id,))
        db.session.expire_all()
        assert db.session.get(RecomputeRun, run.id).status == "finished"  # not overwritten with "skipped"


@pytest.mark.postgres  # PostgreSQL's advisory locks
def test_an_automatic_trigger_waits_for_a_concurrent_one_then_finds_its_run(committed_app):
    import psycopg
    from sqlalchemy.exc import OperationalError

    from tests.conftest import PG_ADMIN_URL, TEST_DB

    with committed_app.app_context():
        project = open_project(tasks=2, answers_per_task=1, aggregation="ds")
        answer(project, AnnotatorFactory(), "dog")
        db.session.commit()
        with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB) as other:
            # Another trigger mid-decision: it holds the project's queueing lock and has queued a run.
            other.execute("SELECT pg_advisory_xact_lock(%s)", (recompute.QUEUE_LOCK_SPACE | project.id,))
            other.execute("INSERT INTO recompute_runs (project_id, status, reason, queued_at) "
                          "VALUES (%s, 'queued', 'periodic', now())", (project.id,))
            with pytest.raises(OperationalError):  # it does not decide on what it cannot see yet
                with transaction():
                    db.session.execute(text("SET LOCAL lock_timeout = '200ms'"))
                    recompute.queue_unless_waiting(project_id=project.id, reason="answers", now=utcnow())
            other.commit()
        with transaction():
            assert recompute.queue_unless_waiting(project_id=project.id, reason="answers", now=utcnow()) is None
        assert [r.reason for r in runs(project.id)] == ["periodic"]


def test_the_sweep_sends_again_the_job_of_a_queued_run_that_never_started(ctx, with_redis):
    project = open_project(tasks=1, answers_per_task=1, aggregation="ds")
    now = utcnow()
    lost = RecomputeRun(project_id=project.id, status="queued", reason="requested",
                        queued_at=now - recompute.RESEND_QUEUED_AFTER - timedelta(minutes=1))
    db.session.add(lost)
    db.session.flush()
    with transaction():
        assert recompute.resend_lost_jobs(now=now) == [project.id]
    assert [(job.func_name, job.args) for job in Queue(queues.TRUTH, connection=with_redis).jobs] == [
        ("workers.results.recompute_project", (project.id,))]
    with transaction():  # a run that waited past QUEUED_STALE_AFTER is given up on (it no longer holds new ones back)
        lost.queued_at = now - recompute.QUEUED_STALE_AFTER - timedelta(minutes=1)
        assert recompute.resend_lost_jobs(now=now) == []
