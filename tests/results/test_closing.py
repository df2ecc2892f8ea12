"""A closing answer finishes its own task: result, announcement and progress, touching nothing else."""
from datetime import timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import event, select, update

from marketplace.assignments import answering
from marketplace.assignments import services as assignments
from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.quality import eligibility
from marketplace.quality.models import AnnotatorStats
from marketplace.results import posterior, posterior_store
from marketplace.results.models import Result
from marketplace.tasks.models import Task
from marketplace.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import AnnotatorFactory, bearer, fresh, open_project


def _endpoint(project: Project) -> None:
    db.session.add(WebhookEndpoint(owner_id=project.requester_id, url="https://hooks.example.com/in",
                                   events=["task.completed", "task.escalated", "project.completed"],
                                   secret_salt="salt", secret_prefix="whsec_test"))
    db.session.flush()


def _answer(project: Project, label: str = "dog") -> int:
    annotator = AnnotatorFactory()
    lease = assignments.lease_next_task(project_id=project.id, annotator=annotator, now=utcnow())
    answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator, answer={"label": label},
                            now=utcnow())
    return lease.task_id


@pytest.mark.embedded
@pytest.mark.parametrize("aggregation", ["majority_vote", "ds"])
def test_a_closing_answer_writes_announces_and_counts_its_own_task(ctx, aggregation):
    project = open_project(tasks=3, answers_per_task=1, aggregation=aggregation)
    _endpoint(project)
    task_id = _answer(project)
    result = fresh(Result, task_id)
    assert result.label == "dog" and result.answer_count == 1 and result.announced
    assert result.method == ("majority_vote" if aggregation == "majority_vote" else "dawid_skene")
    deliveries = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.project_id == project.id)).all()
    assert [(d.event, d.payload["task_id"], d.payload["label"]) for d in deliveries] == [
        ("task.completed", task_id, "dog")]
    assert deliveries[0].payload["external_id"] == fresh(Task, task_id).external_id
    assert fresh(Project, project.id).closed_task_count == 1
    assert fresh(Project, project.id).status == "open"


@pytest.mark.embedded
def test_progress_counts_each_closing_answer_once_and_the_last_one_completes_the_project(client):
    project = open_project(tasks=4, answers_per_task=1)
    headers = bearer(AnnotatorFactory())
    for done in range(1, 5):
        leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
        assert client.post(f"/api/v1/assignments/{leased['id']}/answer", json={"answer": {"label": "cat"}},
                           headers=headers).status_code == 200
        assert fresh(Project, project.id).closed_task_count == done
    assert fresh(Project, project.id).status == "completed"
    assert db.session.query(Result).filter_by(project_id=project.id, announced=False).count() == 0


@pytest.mark.embedded
def test_unproven_annotators_reputations_are_read_in_one_query(ctx):
    project = open_project(tasks=2, answers_per_task=3, aggregation="ds")
    task_ids = {_answer(project) for _ in range(6)}  # two tasks: the batched reads (one task is posterior_store's)
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        found = posterior.posteriors(task_ids=sorted(task_ids), label_schema=project.label_schema, class_priors=None,
                                     now=utcnow())
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert found.answer_counts.sum() == 6
    # the answers with their trust rows, then the reputations of all six (gold records and final rejections)
    assert len(statements) == 2


@pytest.mark.postgres
def test_a_closing_answer_never_waits_for_the_project_row(committed_app):
    """A recompute holds the project row (it records its fit there) while tasks keep closing."""
    with committed_app.app_context():
        project = open_project(tasks=3, answers_per_task=1)
        headers = bearer(AnnotatorFactory())
        db.session.commit()
        project_id, database = project.id, db.engine.url.render_as_string(hide_password=False)
    client = committed_app.test_client()
    leased = client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers).json
    dsn = database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as admin:
        # Waiting for the row would fail the request after 3 s instead of hanging the test.
        admin.execute(_on_this_database("ALTER DATABASE {} SET lock_timeout = '3s'", admin))
        try:
            with committed_app.app_context():
                db.engine.dispose()  # new connections take the setting
            with psycopg.connect(dsn) as holder:
                holder.execute("SELECT id FROM projects WHERE id = %s FOR NO KEY UPDATE", (project_id,))
                answered = client.post(f"/api/v1/assignments/{leased['id']}/answer",
                                       json={"answer": {"label": "cat"}}, headers=headers)
                holder.rollback()
        finally:
            admin.execute(_on_this_database("ALTER DATABASE {} RESET lock_timeout", admin))
            with committed_app.app_context():
                db.engine.dispose()
    assert answered.status_code == 200
    with committed_app.app_context():
        task_id = db.session.scalar(select(Task.id).where(Task.project_id == project_id, Task.status == "closed"))
        assert db.session.get(Result, task_id).label == "cat"
        assert db.session.get(Project, project_id).closed_task_count == 1


def _on_this_database(template: str, conn) -> sql.Composed:
    """`template` with the connection's database name quoted in."""
    return sql.SQL(template).format(sql.Identifier(conn.info.dbname))


@pytest.mark.postgres
def test_a_closing_tasks_prepared_read_gives_the_posterior_of_the_portable_reads(ctx, monkeypatch):
    """posterior_store's one statement against the SQLAlchemy pair: the same posterior for annotators with a
    matrix here, gold here, gold reported from another project, final and recent rejections, and nothing."""
    project = open_project(tasks=1, answers_per_task=5, aggregation="ds")
    elsewhere = open_project(tasks=3)
    labels = ["dog", "cat", "cat", "dog", "bird"]
    annotators = [AnnotatorFactory() for _ in labels]
    for annotator, label in zip(annotators, labels):
        lease = assignments.lease_next_task(project_id=project.id, annotator=annotator, now=utcnow())
        db.session.execute(update(Assignment).where(Assignment.id == lease.assignment_id).values(
            status="submitted", answer={"label": label}, submitted_at=utcnow()))
    task_id = lease.task_id
    now = utcnow()
    stats = {a.id: AnnotatorStats(annotator_id=a.id, project_id=project.id) for a in annotators[:2]}
    stats[annotators[0].id].confusion = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]]  # learned here
    stats[annotators[1].id].gold_seen, stats[annotators[1].id].gold_correct = 10, 4  # gold here
    db.session.add_all([*stats.values(), AnnotatorStats(  # gold reported from another project, a week ago
        annotator_id=annotators[2].id, project_id=elsewhere.id, reported_gold_seen=20, reported_gold_correct=19,
        updated_at=now - timedelta(days=7))])
    other_tasks = db.session.scalars(select(Task.id).where(Task.project_id == elsewhere.id)).all()
    for days, task in zip((40, 30, 1), other_tasks):  # two rejections past their window, one still disputable
        db.session.add(Assignment(task_id=task, project_id=elsewhere.id, annotator_id=annotators[3].id,
                                  status="rejected", leased_at=now - timedelta(days=days, hours=1),
                                  expires_at=now - timedelta(days=days), rejected_at=now - timedelta(days=days)))
    db.session.flush()

    def read() -> np.ndarray:
        return posterior.posteriors(task_ids=[task_id], label_schema=project.label_schema, class_priors=None,
                                    now=now).posteriors

    prepared = read()
    with monkeypatch.context() as no_final_rejections:
        no_final_rejections.setattr(eligibility, "rejections_final_before", lambda now: now - timedelta(days=100))
        assert not np.allclose(prepared, read())  # annotator 3's two final rejections did count
    monkeypatch.setattr(posterior_store, "task_answers", lambda **_: None)  # the portable reads
    assert np.allclose(prepared, read(), atol=1e-12)
