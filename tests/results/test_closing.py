"""A closing answer finishes its own task: result, announcement and progress, touching nothing else."""
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import event, select

from marketplace.assignments import answering
from marketplace.assignments import services as assignments
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.results import posterior
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
    project = open_project(tasks=2, answers_per_task=6, aggregation="ds")
    task_ids = {_answer(project) for _ in range(6)}
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
