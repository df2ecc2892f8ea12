"""32 annotators in 32 threads lease and answer a 500-task project on PostgreSQL until it completes."""
import threading

from sqlalchemy import exists, func, select

from marketplace.assignments.models import LEASED, SUBMITTED, Assignment
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.results.models import Result
from marketplace.tasks.models import OPEN, Task
from tests.factories import AnnotatorFactory, bearer, open_project

ANNOTATORS = 32
TASKS = 500
REDUNDANCY = 3


def _work_left_for(annotator_id: int, project_id: int) -> bool:
    """Is there a task with a free slot this annotator has not had? (No lease expires in this test.)"""
    with db.engine.connect() as conn:
        had = exists().where(Assignment.task_id == Task.id, Assignment.annotator_id == annotator_id)
        return conn.scalar(select(exists().where(
            Task.project_id == project_id, Task.status == OPEN, Task.slots_taken < REDUNDANCY, ~had,
        )))


def _annotate(app, project_id, annotator_id, headers, errors):
    client = app.test_client()
    with app.app_context():
        try:
            while True:
                leased = client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers)
                if leased.status_code == 404:
                    # SKIP LOCKED may hide a task another thread holds for a moment: ask the database.
                    if _work_left_for(annotator_id, project_id):
                        continue
                    return
                if leased.status_code == 409 and "completed" in leased.json["message"]:
                    return
                if leased.status_code != 201:
                    errors.append(("lease", leased.status_code, leased.json))
                    return
                done = client.post(f"/api/v1/assignments/{leased.json['id']}/answer",
                                   json={"answer": {"label": "cat"}}, headers=headers)
                if done.status_code != 200:
                    errors.append(("answer", done.status_code, done.json))
                    return
        except Exception as exc:  # reported to the main thread, which fails the test
            errors.append(("exception", repr(exc)))


def test_32_annotators_complete_a_500_task_project_exactly(committed_app):
    with committed_app.app_context():
        project = open_project(tasks=TASKS, answers_per_task=REDUNDANCY, max_leases_per_annotator=1)
        crowd = [AnnotatorFactory() for _ in range(ANNOTATORS)]
        credentials = [(a.id, bearer(a)) for a in crowd]
        db.session.commit()
        project_id = project.id

    errors: list = []
    threads = [
        threading.Thread(target=_annotate, args=(committed_app, project_id, annotator_id, headers, errors))
        for annotator_id, headers in credentials
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    with committed_app.app_context():
        per_task = db.session.execute(
            select(Task.id, Task.answer_count, Task.slots_taken, Task.status).where(Task.project_id == project_id)
        ).all()
        assert len(per_task) == TASKS
        assert all(row.answer_count == REDUNDANCY and row.slots_taken == REDUNDANCY and row.status == "closed"
                   for row in per_task)
        submitted = db.session.execute(
            select(Assignment.task_id, func.count()).where(Assignment.status == SUBMITTED).group_by(Assignment.task_id)
        ).all()
        assert sorted(count for _, count in submitted) == [REDUNDANCY] * TASKS
        pairs = db.session.execute(
            select(Assignment.task_id, Assignment.annotator_id, func.count())
            .group_by(Assignment.task_id, Assignment.annotator_id).having(func.count() > 1)
        ).all()
        assert pairs == []
        assert db.session.scalar(select(func.count()).select_from(Assignment).where(Assignment.status == LEASED)) == 0
        assert db.session.scalar(select(func.count()).select_from(Result).where(Result.project_id == project_id)) == TASKS
        assert db.session.get(Project, project_id).status == "completed"
