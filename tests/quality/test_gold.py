"""Gold tasks: mixed into leases, never twice to one annotator, scored at submission, marked for requesters."""
import pytest
from sqlalchemy import select

from marketplace.assignments import answering
from marketplace.assignments import services as assignments
from marketplace.assignments.models import Assignment
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.quality.models import AnnotatorStats
from tests.factories import AnnotatorFactory, bearer, fresh
from tests.projects.test_routes import _owner
from tests.quality.helpers import GOLD_DRAW, LIVE_DRAW, force_draw, gold_project, lease_now


def submit(lease, annotator, label):
    return answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator,
                                     answer={"label": label}, now=utcnow())


def test_gold_is_never_leased_twice_to_one_annotator_and_runs_out(ctx):
    project = gold_project(tasks=6, gold=2, answers_per_task=1)
    annotator = AnnotatorFactory()
    seen_gold = []
    for _ in range(5):
        lease = lease_now(project, annotator, GOLD_DRAW)
        if fresh(Assignment, lease.assignment_id).is_gold:
            seen_gold.append(lease.task_id)
        submit(lease, annotator, "cat")
    assert len(seen_gold) == len(set(seen_gold)) == 2  # the pool of two, then ordinary work


def test_gold_goes_out_only_beside_ordinary_work_wherever_that_work_is(ctx):
    project = gold_project(tasks=3, gold=2, answers_per_task=1)
    annotator, first, second = AnnotatorFactory(), AnnotatorFactory(), AnnotatorFactory()
    held = lease_now(project, first, LIVE_DRAW)  # the first two tasks are taken for now...
    lease_now(project, second, LIVE_DRAW)
    last = lease_now(project, annotator, LIVE_DRAW)  # ...so the annotator's position is the last task
    submit(last, annotator, "cat")
    assignments.release(assignment_id=held.assignment_id, annotator=first, now=utcnow())
    # The only ordinary task left for the annotator lies before their position: gold still goes out.
    gold = lease_now(project, annotator, GOLD_DRAW)
    assert fresh(Assignment, gold.assignment_id).is_gold
    submit(gold, annotator, "cat")
    wrapped = lease_now(project, annotator, LIVE_DRAW)
    assert wrapped.task_id == held.task_id  # the ordinary lease wraps around to it
    submit(wrapped, annotator, "cat")
    # Nothing ordinary is left for them (the other task is another's live lease): no gold either, one left.
    with pytest.raises(assignments.NoTaskAvailable):
        lease_now(project, annotator, GOLD_DRAW)


def test_gold_has_no_slots_every_annotator_may_see_it(ctx):
    project = gold_project(tasks=2, gold=1, answers_per_task=1)
    gold_tasks = {lease_now(project, AnnotatorFactory(), GOLD_DRAW).task_id for _ in range(4)}
    assert len(gold_tasks) == 1


def test_gold_answers_are_scored_and_counted(ctx):
    project = gold_project(gold=2)
    annotator = AnnotatorFactory()
    submit(lease_now(project, annotator, GOLD_DRAW), annotator, "cat")
    wrong = submit(lease_now(project, annotator, GOLD_DRAW), annotator, "dog")
    submit(lease_now(project, annotator, LIVE_DRAW), annotator, "dog")
    assert fresh(Assignment, wrong.id).gold_correct is False and wrong.feedback is None
    stats = fresh(AnnotatorStats, (annotator.id, project.id))
    assert (stats.answers, stats.gold_seen, stats.gold_correct) == (3, 2, 1)


def test_missed_gold_gets_feedback_with_the_explanation_when_the_project_wants_it(client, monkeypatch):
    project = gold_project(gold_feedback=True)
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    force_draw(monkeypatch, GOLD_DRAW)
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    missed = client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "dog"}}, headers=headers)
    assert missed.json["feedback"] == {"correct": False, "expected": "cat", "explanation": "Whiskers and pointy ears."}
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    right = client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "cat"}}, headers=headers)
    assert right.json["feedback"] is None
    missed_list = client.get("/api/v1/me/missed-gold", headers=headers).json["items"]
    assert len(missed_list) == 1 and missed_list[0]["expected"] == {"label": "cat"}


def test_gold_does_not_count_toward_completion(ctx):
    project = gold_project(tasks=1, gold=1, answers_per_task=1)
    annotator = AnnotatorFactory()
    submit(lease_now(project, annotator, GOLD_DRAW), annotator, "cat")
    assert fresh(type(project), project.id).status == "open"
    other = AnnotatorFactory()
    with transaction():  # the aggregation job runs (inline) after this commit
        submit(lease_now(project, other, LIVE_DRAW), other, "dog")
    assert fresh(type(project), project.id).status == "completed"


def test_requesters_import_gold_and_see_it_marked(client):
    from tests.factories import ProjectFactory

    project = ProjectFactory()
    headers = bearer(_owner(project))
    body = {"tasks": [{"external_id": "a", "data": {}},
                      {"external_id": "g", "data": {}, "gold_answer": {"label": "dog"}, "gold_explanation": "Bark."}]}
    imported = client.post(f"/api/v1/projects/{project.id}/tasks", json=body, headers=headers).json
    assert imported["created"] == 2 and imported["task_count"] == 2 - 1
    assert client.get(f"/api/v1/projects/{project.id}", headers=headers).json["gold_count"] == 1
    listed = client.get(f"/api/v1/projects/{project.id}/tasks?status=gold", headers=headers).json["items"]
    assert [(t["external_id"], t["gold_answer"]) for t in listed] == [("g", {"label": "dog"})]
    exported = client.get(f"/api/v1/projects/{project.id}/results/export", headers=headers).get_data(as_text=True)
    assert '"gold":true' in exported and '"label":"dog"' in exported


@pytest.mark.parametrize("row, field", [
    ({"external_id": "g", "data": {}, "gold_answer": {"label": "horse"}}, "gold_answer.label"),
    ({"external_id": "g", "data": {}, "gold_explanation": "no answer given"}, "gold_explanation"),
])
def test_bad_gold_rows_are_422(client, row, field):
    from tests.factories import ProjectFactory

    project = ProjectFactory()
    response = client.post(f"/api/v1/projects/{project.id}/tasks", json={"tasks": [row]}, headers=bearer(_owner(project)))
    assert response.status_code == 422 and field in response.json["errors"]["json"]["tasks"]["0"]


def test_gold_leases_expire_without_touching_slots(ctx):
    from marketplace.tasks.models import Task
    from workers.assignments import expire_leases

    project = gold_project(gold=1)
    lease = assignments.lease_next_task(project_id=project.id, annotator=AnnotatorFactory(),
                                        now=utcnow().replace(year=2020), rng=GOLD_DRAW)
    assert expire_leases() == 1
    assert db.session.scalar(select(Task.slots_taken).where(Task.id == lease.task_id)) == 0
