"""Approving and rejecting answers moves the money; a rejection explains itself and reopens the slot."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, ANNOTATOR_PENDING, PLATFORM_FEES, PROJECT_ESCROW
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, RequesterFactory, account_totals, bearer, open_project

LABEL = {"answer": {"label": "cat"}}
REASON = "The image shows a dog, not a cat; see the guidelines."


def _balance(kind, owner_id):
    return account_totals(kind, owner_id)[0]


def _answered(client, project, annotators):
    ids = []
    for annotator in annotators:
        lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
        assert client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL,
                           headers=bearer(annotator)).status_code == 200
        ids.append(lease["id"])
    return ids


def _owner(project):
    return bearer(db.session.get(Account, project.requester_id))


@pytest.fixture
def project():
    return open_project(tasks=2, answers_per_task=2, reward_cents=10, fee_bps=2000)


def test_approval_moves_the_reward_to_available_and_the_fee_to_the_platform(client, project):
    a, b = AnnotatorFactory(), AnnotatorFactory()
    ids = _answered(client, project, [a, b])
    escrow_before = _balance(PROJECT_ESCROW, project.id)
    done = client.post(f"/api/v1/projects/{project.id}/answers/approve", json={"assignment_ids": ids[:1]},
                       headers=_owner(project)).json
    assert done == {"decision": "approve", "decided": 1, "more_pending": False}
    assert (_balance(ANNOTATOR_PENDING, a.id), _balance(ANNOTATOR_AVAILABLE, a.id)) == (0, 10)
    assert _balance(PROJECT_ESCROW, project.id) == escrow_before - 2 and _balance(PLATFORM_FEES, 0) == 2
    again = client.post(f"/api/v1/projects/{project.id}/answers/approve", json={"assignment_ids": ids[:1]},
                        headers=_owner(project)).json
    assert again["decided"] == 0 and _balance(ANNOTATOR_AVAILABLE, a.id) == 10  # a repeat is a no-op
    mine = client.get("/api/v1/assignments", headers=bearer(a)).json["items"]
    assert [m["payment_status"] for m in mine] == ["approved"]
    assert reports.trial_balance()["balanced"]


@pytest.mark.parametrize("body, field", [({"category": "spam", "reason": "too short"}, "reason"),
                                         ({"category": "bad", "reason": REASON}, "category"),
                                         ({"reason": REASON}, "category")])
def test_a_rejection_needs_a_category_and_a_real_reason(client, project, body, field):
    ids = _answered(client, project, [AnnotatorFactory()])
    refused = client.post(f"/api/v1/projects/{project.id}/answers/reject", json={"assignment_ids": ids, **body},
                          headers=_owner(project))
    assert refused.status_code == 422 and field in refused.json["errors"]["json"]


def test_rejection_returns_the_reward_to_escrow_reopens_the_slot_and_tells_the_annotator(client, project):
    annotator = AnnotatorFactory()
    (assignment_id,) = _answered(client, project, [annotator])
    escrow_before = _balance(PROJECT_ESCROW, project.id)
    done = client.post(f"/api/v1/projects/{project.id}/answers/reject",
                       json={"assignment_ids": [assignment_id], "category": "wrong_answer", "reason": REASON},
                       headers=_owner(project)).json
    assert done["decided"] == 1
    assert _balance(ANNOTATOR_PENDING, annotator.id) == 0 and _balance(PROJECT_ESCROW, project.id) == escrow_before + 10
    task = db.session.get(Task, db.session.get(Assignment, assignment_id).task_id)
    assert (task.answer_count, task.slots_taken, task.status) == (0, 0, "open")
    seen = client.get("/api/v1/assignments", headers=bearer(annotator)).json["items"][0]
    assert (seen["payment_status"], seen["rejection_category"], seen["rejection_reason"]) == \
        ("rejected", "wrong_answer", REASON)
    assert reports.trial_balance()["balanced"]


def test_bulk_decisions_by_annotator_pseudonym(client, project):
    good, bad = AnnotatorFactory(), AnnotatorFactory()
    _answered(client, project, [good, bad, good, bad])
    answers = client.get(f"/api/v1/projects/{project.id}/answers?state=pending", headers=_owner(project)).json["items"]
    pseudonym = next(a["annotator"] for a in answers if a["assignment_id"] in
                     [x.id for x in db.session.scalars(select(Assignment).where(Assignment.annotator_id == bad.id))])
    rejected = client.post(f"/api/v1/projects/{project.id}/answers/reject",
                           json={"annotator": pseudonym, "category": "spam", "reason": REASON}, headers=_owner(project))
    assert rejected.json["decided"] == 2
    assert client.post(f"/api/v1/projects/{project.id}/answers/approve", json={}, headers=_owner(project)).json[
        "decided"] == 2
    assert _balance(ANNOTATOR_AVAILABLE, good.id) == 20 and _balance(ANNOTATOR_AVAILABLE, bad.id) == 0
    unknown = client.post(f"/api/v1/projects/{project.id}/answers/approve", json={"annotator": "ann_nobody"},
                          headers=_owner(project))
    assert unknown.status_code == 422 and "annotator" in unknown.json["errors"]["json"]


def test_unreviewed_answers_are_approved_after_the_projects_delay(client, project):
    from workers.payments import approve_due_answers

    annotator = AnnotatorFactory()
    _answered(client, project, [annotator])
    assert approve_due_answers() == 0  # not yet due
    db.session.execute(Assignment.__table__.update().values(submitted_at=utcnow() - timedelta(days=4)))
    assert approve_due_answers() == 1
    assert _balance(ANNOTATOR_AVAILABLE, annotator.id) == 10
    assert db.session.scalar(select(Assignment.decided_by)) is None  # automatic


def test_only_the_projects_requester_decides(client, project):
    ids = _answered(client, project, [AnnotatorFactory()])
    stranger = client.post(f"/api/v1/projects/{project.id}/answers/approve", json={"assignment_ids": ids},
                           headers=bearer(RequesterFactory()))
    annotator = client.post(f"/api/v1/projects/{project.id}/answers/approve", json={"assignment_ids": ids},
                            headers=bearer(AnnotatorFactory()))
    assert (stranger.status_code, annotator.status_code) == (404, 403)
    assert db.session.get(Assignment, ids[0]).approved_at is None
