"""Guideline versions: stamped on every lease; a major version can require re-qualification and reopen tasks."""
from sqlalchemy import select

from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from marketplace.qualifications.models import Grant
from marketplace.tasks.models import Task
from tests.assignments.test_routes import answer, lease
from tests.factories import AnnotatorFactory, bearer, fresh, open_project
from tests.projects.test_routes import _owner


def publish(client, project, headers, **body):
    return client.post(f"/api/v1/projects/{project.id}/guidelines", headers=headers,
                       json={"instructions": "Label the animal in front.", **body})


def test_a_flag_that_is_not_a_json_boolean_is_422(client):
    project = open_project(tasks=1)
    response = publish(client, project, bearer(_owner(project)), major=True, reopen_answered=0)
    assert response.status_code == 422 and "reopen_answered" in response.json["errors"]["json"]


def test_new_versions_are_stamped_on_leases_and_listed(client):
    project = open_project(tasks=3, answers_per_task=1)
    owner, annotator = bearer(_owner(project)), bearer(AnnotatorFactory())
    first = lease(client, project, annotator).json
    assert first["guideline_version"] == 1
    answer(client, first["id"], annotator)
    minor = publish(client, project, owner, note="clarified birds")
    assert minor.status_code == 201 and minor.json["version"] == 2 and minor.json["major"] is False
    second = lease(client, project, annotator).json
    assert second["guideline_version"] == 2
    assert client.get(f"/api/v1/projects/{project.id}", headers=annotator).json["instructions"] == "Label the animal in front."
    versions = client.get(f"/api/v1/projects/{project.id}/guidelines", headers=owner).json["items"]
    assert [v["version"] for v in versions] == [2, 1]
    exported = client.get(f"/api/v1/projects/{project.id}/results", headers=owner).json["items"]
    assert exported[0]["answers"][0]["guideline_version"] == 1


def test_a_major_version_can_reopen_answered_tasks(client):
    project = open_project(tasks=2, answers_per_task=1)
    owner, annotator = bearer(_owner(project)), bearer(AnnotatorFactory())
    for _ in range(2):
        answer(client, lease(client, project, annotator).json["id"], annotator)
    assert client.get(f"/api/v1/projects/{project.id}", headers=owner).json["status"] == "completed"
    major = publish(client, project, owner, major=True, reopen_answered=True)
    assert major.json["tasks_reopened"] == 2
    assert client.get(f"/api/v1/projects/{project.id}", headers=owner).json["status"] == "open"
    assert db.session.query(Assignment).filter_by(project_id=project.id, status="superseded").count() == 2
    tasks = db.session.scalars(select(Task).where(Task.project_id == project.id)).all()
    assert all(t.status == "open" and t.answer_count == 0 and t.slot_limit == 1 for t in tasks)
    other = bearer(AnnotatorFactory())
    assert lease(client, project, other).json["guideline_version"] == 2


def test_a_major_version_can_require_requalification(client):
    from tests.qualifications.test_qualifications import SCHEMA
    from tests.quality.helpers import gold_project

    owner_account = _owner(open_project(tasks=0))
    owner = bearer(owner_account)
    qualification = client.post("/api/v1/qualifications", headers=owner, json={
        "name": "q", "label_schema": SCHEMA, "questions_per_attempt": 1, "pass_score": 0.5}).json
    project = gold_project(gold=0, requester_id=owner_account.id,
                           requirements={"qualifications": [{"id": qualification["id"]}]})
    annotator = AnnotatorFactory()
    client.post(f"/api/v1/qualifications/{qualification['id']}/grants", headers=owner,
                json={"annotator_id": annotator.id})
    headers = bearer(annotator)
    assert lease(client, project, headers).status_code == 201
    publish(client, project, owner, major=True, requalify=True)
    refused = lease(client, project, headers)
    assert refused.status_code == 403 and "again under the new guidelines" in refused.json["message"]
    grant = db.session.scalar(select(Grant).where(Grant.annotator_id == annotator.id))
    assert fresh(Grant, grant.id).revoked is False  # the old grant still exists; it just no longer counts here


def test_only_a_major_version_reopens_or_requalifies(client):
    project = open_project(tasks=1)
    response = publish(client, project, bearer(_owner(project)), reopen_answered=True)
    assert response.status_code == 409
