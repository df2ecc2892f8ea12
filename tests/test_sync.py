"""Incremental sync: `updated_since` on tasks, answers and results returns only what changed since a time."""
from datetime import timedelta
from urllib.parse import quote

import pytest

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, bearer, open_project

pytestmark = pytest.mark.embedded


def _since(moment) -> str:
    return quote(moment.isoformat())


def test_tasks_and_answers_since_a_time(client):
    project = open_project(tasks=3, answers_per_task=1)
    owner = bearer(_owner(project))
    long_ago, mark = utcnow() - timedelta(days=1), utcnow()
    for task in db.session.query(Task).filter_by(project_id=project.id):
        task.created_at = long_ago
    annotator = bearer(AnnotatorFactory())
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=annotator).json
    assert client.post(f"/api/v1/assignments/{leased['id']}/answer", json={"answer": {"label": "cat"}},
                       headers=annotator).status_code == 200
    tasks = client.get(f"/api/v1/projects/{project.id}/tasks?updated_since={_since(mark)}", headers=owner).json
    assert [t["status"] for t in tasks["items"]] == ["closed"]  # only the task closed since the mark
    every = client.get(f"/api/v1/projects/{project.id}/tasks?updated_since={_since(long_ago)}", headers=owner).json
    assert len(every["items"]) == 3
    answers = client.get(f"/api/v1/projects/{project.id}/answers?updated_since={_since(mark)}", headers=owner).json
    assert [a["assignment_id"] for a in answers["items"]] == [leased["id"]]
    results = client.get(f"/api/v1/projects/{project.id}/results?updated_since={_since(mark)}", headers=owner).json
    assert [r["external_id"] for r in results["items"]] == [tasks["items"][0]["external_id"]]
    none_yet = client.get(f"/api/v1/projects/{project.id}/results?updated_since={_since(utcnow() + timedelta(hours=1))}",
                          headers=owner).json
    assert none_yet["items"] == []
    later = client.get(f"/api/v1/projects/{project.id}/answers?updated_since={_since(utcnow() + timedelta(hours=1))}",
                       headers=owner).json
    assert later["items"] == [] and later["has_more"] is False


def test_a_time_without_a_zone_is_422(client):
    project = open_project(tasks=1)
    response = client.get(f"/api/v1/projects/{project.id}/tasks?updated_since=2026-01-01T00:00:00",
                          headers=bearer(_owner(project)))
    assert response.status_code == 422 and response.json["param"] == "updated_since"


def _owner(project):
    from marketplace.accounts.models import Account

    return db.session.get(Account, project.requester_id)
