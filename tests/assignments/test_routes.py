"""Leasing and answering through the API: slots, caps, expiry, release, validation, ownership."""
import pytest
from datetime import timedelta

from sqlalchemy import select

from marketplace import pseudonyms
from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, RequesterFactory, bearer, open_project, fresh

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane


def task_of(leased) -> int:
    """The task behind a lease (annotators only see an opaque ref)."""
    return fresh(Assignment, leased["id"]).task_id


def lease(client, project, headers):
    return client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers)


def answer(client, assignment_id, headers, label="cat"):
    return client.post(f"/api/v1/assignments/{assignment_id}/answer", json={"answer": {"label": label}}, headers=headers)


def test_lease_returns_the_task_data_and_a_deadline(client):
    project = open_project(tasks=2, assignment_duration_s=300)
    response = lease(client, project, bearer(AnnotatorFactory()))
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "status", "project_id", "task", "leased_at", "expires_at", "guideline_version",
                         "reward_cents"}
    assert set(body["task"]) == {"ref", "data", "note", "prelabel"} and body["task"]["data"] == {"text": "hello"}
    # the keyed pseudonym, not the task id (a digit test was flaky: hex digests hold digits)
    assignment = fresh(Assignment, body["id"])
    assert body["task"]["ref"] == pseudonyms.task_ref(assignment.task_id, assignment.annotator_id)
    assert body["task"]["ref"] != pseudonyms.task_ref(assignment.task_id, assignment.annotator_id + 1)
    assert body["status"] == "leased" and body["project_id"] == project.id


def test_answer_is_recorded_with_its_duration(client):
    project = open_project(tasks=1)
    headers = bearer(AnnotatorFactory())
    leased = lease(client, project, headers).json
    response = answer(client, leased["id"], headers, "dog")
    assert response.status_code == 200
    assert response.json["status"] == "submitted" and response.json["answer"] == {"label": "dog"}
    assert response.json["duration_ms"] >= 0
    assert fresh(Task, task_of(leased)).answer_count == 1


def test_answer_outside_the_schema_is_422_naming_the_field(client):
    project = open_project(tasks=1)
    headers = bearer(AnnotatorFactory())
    leased = lease(client, project, headers).json
    wrong_class = answer(client, leased["id"], headers, "horse")
    assert wrong_class.status_code == 422 and "label" in wrong_class.json["errors"]["json"]["answer"]
    wrong_shape = client.post(f"/api/v1/assignments/{leased['id']}/answer", json={"answer": "cat"}, headers=headers)
    assert wrong_shape.status_code == 422
    missing = client.post(f"/api/v1/assignments/{leased['id']}/answer", json={}, headers=headers)
    assert missing.status_code == 422 and "answer" in missing.json["errors"]["json"]
    assert fresh(Assignment, leased["id"]).status == "leased"


def test_annotator_never_gets_the_same_task_twice(client):
    project = open_project(tasks=3, answers_per_task=3)
    headers = bearer(AnnotatorFactory())
    seen = []
    for _ in range(3):
        leased = lease(client, project, headers).json
        seen.append(task_of(leased))
        answer(client, leased["id"], headers)
    assert len(set(seen)) == 3
    assert lease(client, project, headers).status_code == 404


def test_no_task_gets_more_leases_and_answers_than_its_redundancy(client):
    project = open_project(tasks=1, answers_per_task=2)
    first, second, third = (bearer(AnnotatorFactory()) for _ in range(3))
    assert lease(client, project, first).status_code == 201
    assert lease(client, project, second).status_code == 201
    refused = lease(client, project, third)
    assert refused.status_code == 404 and "No task is available" in refused.json["message"]


def test_live_lease_cap_per_annotator(client):
    project = open_project(tasks=5, max_leases_per_annotator=2)
    headers = bearer(AnnotatorFactory())
    assert lease(client, project, headers).status_code == 201
    assert lease(client, project, headers).status_code == 201
    capped = lease(client, project, headers)
    assert capped.status_code == 409 and "live lease" in capped.json["message"]


def test_release_returns_the_slot(client):
    project = open_project(tasks=1, answers_per_task=1)
    alice, bob = bearer(AnnotatorFactory()), bearer(AnnotatorFactory())
    leased = lease(client, project, alice).json
    assert lease(client, project, bob).status_code == 404
    released = client.post(f"/api/v1/assignments/{leased['id']}/release", headers=alice)
    assert released.status_code == 200 and released.json["status"] == "released"
    assert task_of(lease(client, project, bob).json) == task_of(leased)
    assert client.post(f"/api/v1/assignments/{leased['id']}/release", headers=alice).status_code == 409


def test_answer_after_expiry_is_409_and_the_slot_is_back(client):
    project = open_project(tasks=1, answers_per_task=1)
    alice, bob = bearer(AnnotatorFactory()), bearer(AnnotatorFactory())
    leased = lease(client, project, alice).json
    assignment = fresh(Assignment, leased["id"])
    assignment.expires_at = assignment.leased_at - timedelta(seconds=1)
    late = answer(client, leased["id"], alice)
    assert late.status_code == 409 and "expired" in late.json["message"]
    assert fresh(Assignment, leased["id"]).status == "expired"
    assert fresh(Task, task_of(leased)).slots_taken == 0
    assert lease(client, project, bob).status_code == 201
    assert answer(client, leased["id"], alice).status_code == 409


def test_answering_twice_is_409(client):
    project = open_project(tasks=2)
    headers = bearer(AnnotatorFactory())
    leased = lease(client, project, headers).json
    assert answer(client, leased["id"], headers).status_code == 200
    assert answer(client, leased["id"], headers).status_code == 409


def test_paused_project_hands_out_nothing(client):
    project = open_project(tasks=2)
    project.status = "paused"
    response = lease(client, project, bearer(AnnotatorFactory()))
    assert response.status_code == 409 and "paused" in response.json["message"]


def test_draft_project_is_invisible_to_annotators(client):
    project = open_project(tasks=2)
    project.status = "draft"
    assert lease(client, project, bearer(AnnotatorFactory())).status_code == 404


def test_only_annotators_lease(client):
    project = open_project(tasks=1)
    assert lease(client, project, bearer(RequesterFactory())).status_code == 403


def test_another_annotators_assignment_is_404(client):
    project = open_project(tasks=2)
    alice, bob = bearer(AnnotatorFactory()), bearer(AnnotatorFactory())
    leased = lease(client, project, alice).json
    assert client.get(f"/api/v1/assignments/{leased['id']}", headers=bob).status_code == 404
    assert answer(client, leased["id"], bob).status_code == 404
    assert client.post(f"/api/v1/assignments/{leased['id']}/release", headers=bob).status_code == 404
    assert client.get("/api/v1/assignments", headers=bob).json["items"] == []
    assert fresh(Assignment, leased["id"]).status == "leased"


def test_annotators_list_their_own_assignments(client):
    project = open_project(tasks=3, max_leases_per_annotator=3)
    headers = bearer(AnnotatorFactory())
    ids = [lease(client, project, headers).json["id"] for _ in range(3)]
    answer(client, ids[0], headers)
    listed = client.get("/api/v1/assignments", headers=headers).json["items"]
    assert [a["id"] for a in listed] == sorted(ids, reverse=True)
    submitted = client.get("/api/v1/assignments?status=submitted", headers=headers).json["items"]
    assert [a["id"] for a in submitted] == [ids[0]]
    one = client.get(f"/api/v1/assignments/{ids[1]}", headers=headers)
    assert one.status_code == 200 and one.json["status"] == "leased"


def test_a_full_task_closes_inside_the_submit_transaction(client):
    project = open_project(tasks=1, answers_per_task=2)
    for _ in range(2):
        headers = bearer(AnnotatorFactory())
        answer(client, lease(client, project, headers).json["id"], headers)
    task = db.session.scalar(select(Task).where(Task.project_id == project.id))
    assert task.status == "closed" and task.answer_count == 2 and task.closed_at is not None


def test_a_lease_past_its_deadline_does_not_hold_the_cap(client):
    project = open_project(tasks=3, max_leases_per_annotator=1)
    headers = bearer(AnnotatorFactory())
    leased = lease(client, project, headers).json
    assert lease(client, project, headers).status_code == 409
    assignment = fresh(Assignment, leased["id"])
    assignment.expires_at = assignment.leased_at - timedelta(seconds=1)
    again = lease(client, project, headers)
    assert again.status_code == 201 and task_of(again.json) != task_of(leased)
