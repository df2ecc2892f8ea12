"""Model pre-labels: import and bulk update, active ordering, shown pre-labels, the model as a virtual annotator."""
import random

import pytest
from sqlalchemy import select

from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.results import runs
from marketplace.results.models import Result
from marketplace.tasks.models import Task
from tests.assignments.test_routes import lease, task_of
from tests.factories import AnnotatorFactory, ProjectFactory, TaskFactory, bearer, fresh, open_project
from tests.projects.test_routes import _owner
from tests.results.test_policy import GOOD, adaptive_project, answer, skilled

CLASSES = ["cat", "dog", "bird"]


def test_import_and_bulk_update_of_predictions(client):
    project = ProjectFactory()
    headers = bearer(_owner(project))
    body = {"tasks": [{"external_id": "a", "data": {}, "prediction": {"cat": 2, "dog": 2}, "model_version": "m1"},
                      {"external_id": "b", "data": {}}]}
    assert client.post(f"/api/v1/projects/{project.id}/tasks", json=body, headers=headers).status_code == 201
    a = db.session.scalar(select(Task).where(Task.project_id == project.id, Task.external_id == "a"))
    assert a.prediction == [0.5, 0.5, 0.0] and a.model_version == "m1" and a.uncertainty == 0.5
    bad = client.post(f"/api/v1/projects/{project.id}/tasks", headers=headers,
                      json={"tasks": [{"external_id": "c", "data": {}, "prediction": {"horse": 1}}]})
    assert bad.status_code == 422 and "prediction.horse" in bad.json["errors"]["json"]["tasks"]["0"]  # the unknown class
    updated = client.post(f"/api/v1/projects/{project.id}/tasks/predictions", headers=headers, json={"predictions": [
        {"external_id": "b", "prediction": {"bird": 0.9, "cat": 0.1}, "model_version": "m2"},
        {"external_id": "zzz", "prediction": {"cat": 1}}]})
    assert updated.json == {"updated": 1, "unknown": ["zzz"]}
    b = fresh(Task, db.session.scalar(select(Task.id).where(Task.external_id == "b", Task.project_id == project.id)))
    assert b.prediction == [0.1, 0.0, 0.9] and b.model_version == "m2" and b.uncertainty == pytest.approx(0.1)


def test_active_ordering_leases_the_most_uncertain_task_first(client):
    project = open_project(tasks=0, active_ordering=True, max_leases_per_annotator=3)
    sure = TaskFactory(project_id=project.id, prediction=[0.95, 0.05, 0.0], uncertainty=0.05)
    unsure = TaskFactory(project_id=project.id, prediction=[0.4, 0.35, 0.25], uncertainty=0.6)
    unknown = TaskFactory(project_id=project.id)
    project.task_count = 3
    headers = bearer(AnnotatorFactory())
    order = [task_of(lease(client, project, headers).json) for _ in range(3)]
    assert order == [unsure.id, sure.id, unknown.id]


@pytest.mark.parametrize("shown", [True, False])
def test_prelabels_are_shown_only_when_the_project_says_so(client, shown):
    project = open_project(tasks=0, show_prelabels=shown)
    TaskFactory(project_id=project.id, prediction=[0.2, 0.8, 0.0])
    project.task_count = 1
    leased = lease(client, project, bearer(AnnotatorFactory())).json
    assert leased["task"]["prelabel"] == ([0.2, 0.8, 0.0] if shown else None)


def test_a_trusted_model_and_one_human_close_a_task(ctx):
    # Two tasks: the project stays open, so no completion recompute re-learns the model from one answer.
    project = adaptive_project(tasks=2, min_answers=1, max_answers=3, target_confidence=0.9, model_as_annotator=True,
                               model_confusion=GOOD)
    task = db.session.scalar(select(Task).where(Task.project_id == project.id).order_by(Task.id).limit(1))
    task.prediction = [0.0, 1.0, 0.0]
    answer(project, skilled(project), "dog")
    assert fresh(Task, task.id).status == "closed" and fresh(Task, task.id).answer_count == 1


def test_the_model_as_a_virtual_annotator_improves_a_noisy_crowd(ctx):
    rng = random.Random(5)
    project = open_project(tasks=0, answers_per_task=3, aggregation="ds", max_leases_per_annotator=1)
    truth = {}
    for i in range(120):
        label = rng.randrange(3)
        predicted = label if rng.random() < 0.95 else (label + 1) % 3
        task = TaskFactory(project_id=project.id, external_id=f"x{i}", slot_limit=3,
                           prediction=[1.0 if k == predicted else 0.0 for k in range(3)])
        truth[task.id] = CLASSES[label]
    project.task_count = 120
    crowd = [AnnotatorFactory() for _ in range(3)]
    for annotator in crowd:
        for _ in range(120):
            with transaction():
                task_id = answer_quietly(project, annotator, rng, truth)

    def accuracy(with_model: bool) -> float:
        fresh(Project, project.id).model_as_annotator = with_model
        with transaction():
            runs.queue_run(project_id=project.id, reason="test", now=utcnow())
        results = db.session.scalars(select(Result).where(Result.project_id == project.id)).all()
        return sum(r.label == truth[r.task_id] for r in results) / len(results)

    without, with_model = accuracy(False), accuracy(True)
    assert with_model > without + 0.05
    assert fresh(Project, project.id).model_confusion[0][0] > 0.8  # learned: the model is right about cats
    del task_id


def answer_quietly(project, annotator, rng, truth):
    """A 50%-accurate annotator answers the next task (the submit path, without the test's helper)."""
    from marketplace.assignments import answering
    from marketplace.assignments import services as assignments

    lease_ = assignments.lease_next_task(project_id=project.id, annotator=annotator, now=utcnow())
    right = truth[lease_.task_id]
    label = right if rng.random() < 0.5 else rng.choice([c for c in CLASSES if c != right])
    answering.submit_answer(assignment_id=lease_.assignment_id, annotator=annotator, answer={"label": label},
                            now=utcnow())
    return lease_.task_id
