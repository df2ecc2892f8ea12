"""Jobs: sent only after the commit, run by a real RQ SimpleWorker, idempotent, swept when lost."""
from datetime import timedelta

import pytest
from rq import Queue, SimpleWorker
from sqlalchemy import select

from marketplace import queue
from marketplace.assignments import answering
from marketplace.assignments import services as assignments
from marketplace.assignments.models import Assignment
from marketplace.db import transaction, utcnow
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.results.models import Result
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, open_project, fresh
from marketplace import queue as queues
from workers.assignments import expire_leases
from workers.results import sweep_unaggregated


def queued(redis_conn, name=queues.TRUTH) -> list:
    return Queue(name, connection=redis_conn).jobs


def test_rolled_back_request_enqueues_nothing(ctx, with_redis):
    with pytest.raises(Conflict):
        with transaction():
            queue.enqueue_after_commit(AGGREGATE_PROJECT.path, 1, queue=queues.TRUTH)
            raise Conflict("changed my mind")
    assert queued(with_redis) == []
    with transaction():
        queue.enqueue_after_commit(AGGREGATE_PROJECT.path, 1, queue=queues.TRUTH)
    assert [job.func_name for job in queued(with_redis)] == [AGGREGATE_PROJECT.path]


def test_rolled_back_request_runs_nothing_inline(ctx, monkeypatch):
    ran = []
    monkeypatch.setattr("workers.results.services.aggregate_project", lambda **kw: ran.append(kw))
    with pytest.raises(Conflict):
        with transaction():
            queue.enqueue_after_commit(AGGREGATE_PROJECT.path, 7, queue=queues.TRUTH)
            raise Conflict("no")
    assert ran == []
    with transaction():
        queue.enqueue_after_commit(AGGREGATE_PROJECT.path, 7, queue=queues.TRUTH)
    assert [kw["project_id"] for kw in ran] == [7]


def test_debounced_job_is_queued_once_until_it_runs(ctx, with_redis):
    for _ in range(3):
        with transaction():
            queue.enqueue_after_commit(AGGREGATE_PROJECT.path, 5, queue=queues.TRUTH, debounce=True)
    assert len(queued(with_redis)) == 1


def _answer_everything(project_id: int, annotators: int) -> None:
    project = fresh(Project, project_id)
    for _ in range(annotators):
        annotator = AnnotatorFactory()
        db.session.commit()
        for _ in range(project.task_count):
            with transaction():
                lease = assignments.lease_next_task(project_id=project_id, annotator=annotator, now=utcnow())
            with transaction():
                answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator,
                                          answer={"label": "cat"}, now=utcnow())


def test_simple_worker_burst_aggregates_and_completes_the_project(committed_app, with_redis):
    with committed_app.app_context():
        project = open_project(tasks=4, answers_per_task=2)
        db.session.commit()
        _answer_everything(project.id, annotators=2)
        assert len(queued(with_redis)) == 1  # four tasks closed, one debounced aggregation job
        assert db.session.scalar(select(Project.status).where(Project.id == project.id)) == "open"
        worker = SimpleWorker([Queue(queues.TRUTH, connection=with_redis)], connection=with_redis)
        assert worker.work(burst=True)
        db.session.expire_all()
        assert fresh(Project, project.id).status == "completed"
        assert db.session.query(Result).filter_by(project_id=project.id).count() == 4
        assert Queue(queues.TRUTH, connection=with_redis).failed_job_registry.count == 0


def test_expire_leases_job_returns_slots(ctx):
    project = open_project(tasks=2, answers_per_task=1)
    annotator = AnnotatorFactory()
    lease = assignments.lease_next_task(project_id=project.id, annotator=annotator, now=utcnow() - timedelta(hours=1))
    assert expire_leases() == 1
    assert fresh(Assignment, lease.assignment_id).status == "expired"
    assert fresh(Task, lease.task_id).slots_taken == 0
    assert expire_leases() == 0


def test_sweep_requeues_aggregation_a_lost_job_left_undone(ctx, monkeypatch):
    project = open_project(tasks=1, answers_per_task=1)
    monkeypatch.setattr(queue, "_dispatch", lambda call: None)  # the aggregation job is lost
    annotator = AnnotatorFactory()
    with transaction():
        lease = assignments.lease_next_task(project_id=project.id, annotator=annotator, now=utcnow())
        answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator, answer={"label": "dog"}, now=utcnow())
    assert fresh(Result, lease.task_id).label == "dog"  # the closing answer wrote its task's result itself
    assert fresh(Project, project.id).status == "open"  # completing the project was the lost job's part
    monkeypatch.undo()
    assert sweep_unaggregated() == 1
    assert fresh(Project, project.id).status == "completed"


def test_sweep_gives_a_result_to_a_closed_task_left_without_one(ctx):
    project = open_project(tasks=2, answers_per_task=1)
    annotator = AnnotatorFactory()
    with transaction():
        lease = assignments.lease_next_task(project_id=project.id, annotator=annotator, now=utcnow())
        answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator, answer={"label": "dog"}, now=utcnow())
    with transaction():  # as a path that died between closing the task and writing its result leaves it
        db.session.query(Result).delete()
    assert sweep_unaggregated() == 1
    assert fresh(Result, lease.task_id).label == "dog"
    assert fresh(Project, project.id).closed_task_count == 1 and fresh(Project, project.id).status == "open"


def test_webhook_deliveries_have_their_own_queue_and_the_documented_worker_serves_every_queue(redis_conn):
    from pathlib import Path

    from rq.cron import CronScheduler

    from marketplace.webhooks import services as webhooks

    assert webhooks.QUEUE == queues.WEBHOOKS != queues.DEFAULT  # a slow endpoint never delays payouts
    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file(str(Path(__file__).resolve().parents[2] / "workers" / "cron.py"))
    periodic = {job.func_name: job.queue_name for job in scheduler.get_jobs()}
    assert periodic["workers.webhooks.sweep_due_deliveries"] == queues.WEBHOOKS
    used = set(periodic.values()) | {webhooks.QUEUE, queues.TRUTH, queues.DEFAULT}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [command] = [line for line in readme.splitlines() if line.strip().startswith(".venv/bin/rq worker")]
    served = command.split('"$REDIS_URL"')[1].split()
    assert used <= set(served) == set(queues.ALL)
    assert served.index(queues.DEFAULT) < served.index(queues.WEBHOOKS)  # money first
    for name in queues.ALL:
        assert queues.retry_for(name).max >= 1
