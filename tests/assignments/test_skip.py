"""Skipping a leased task: never offered to that annotator again, the slot and the escrow hold freed, counted."""
import pytest

from marketplace.assignments.models import Assignment
from marketplace.ledger.models import PROJECT_ESCROW
from marketplace.extensions import db
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, account_totals, bearer, fresh, open_project

pytestmark = pytest.mark.embedded


def _held(project) -> int:
    return account_totals(PROJECT_ESCROW, project.id)[1]


def test_a_skipped_task_goes_to_someone_else_and_the_requester_sees_the_count(client):
    project = open_project(tasks=1, answers_per_task=1)
    skipper, other = bearer(AnnotatorFactory()), bearer(AnnotatorFactory())
    held_before = _held(project)
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=skipper).json
    skipped = client.post(f"/api/v1/assignments/{leased['id']}/skip", json={"reason": "the image does not load"},
                          headers=skipper)
    assert skipped.status_code == 200 and skipped.json["status"] == "skipped"
    row = fresh(Assignment, leased["id"])
    assert row.skip_reason == "the image does not load" and row.ended_at is not None
    task = fresh(Task, row.task_id)
    assert task.skip_count == 1 and task.slots_taken == 0 and _held(project) == held_before
    again = client.post(f"/api/v1/projects/{project.id}/assignments", headers=skipper)
    assert again.status_code == 404 and again.json["code"] == "no_task_available"  # never offered to them again
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=other).status_code == 201
    seen = client.get(f"/api/v1/tasks/{task.id}", headers=_owner_headers(project))
    assert seen.status_code == 200 and seen.json["skip_count"] == 1


def _owner_headers(project):
    from marketplace.accounts.models import Account

    return bearer(db.session.get(Account, project.requester_id))


def test_skip_needs_a_live_lease_and_a_short_reason(client):
    project = open_project(tasks=2)
    headers = bearer(AnnotatorFactory())
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    too_long = client.post(f"/api/v1/assignments/{leased['id']}/skip", json={"reason": "x" * 501}, headers=headers)
    assert too_long.status_code == 422 and too_long.json["param"] == "reason"
    assert client.post(f"/api/v1/assignments/{leased['id']}/skip", headers=headers).status_code == 200  # no body: no reason
    twice = client.post(f"/api/v1/assignments/{leased['id']}/skip", json={}, headers=headers)
    assert twice.status_code == 409 and twice.json["code"] == "assignment_not_leased"
    stranger = client.post(f"/api/v1/assignments/{leased['id']}/skip", json={}, headers=bearer(AnnotatorFactory()))
    assert stranger.status_code == 404
