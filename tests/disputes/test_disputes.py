"""Disputes: within the window, with evidence, resolved once by an admin; overturning pays and clears the record."""
from datetime import timedelta

from marketplace.accounts.models import Account
from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, LedgerAccount
from marketplace.quality import eligibility
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer, open_project

REASON = "The image shows a dog, not a cat; see the guidelines."
APPEAL = "I labelled it cat because the ears are clearly feline."


def _rejected(client):
    project = open_project(tasks=1, answers_per_task=1, reward_cents=10, fee_bps=2000)
    annotator = AnnotatorFactory()
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "cat"}}, headers=bearer(annotator))
    owner = bearer(db.session.get(Account, project.requester_id))
    client.post(f"/api/v1/projects/{project.id}/answers/reject",
                json={"assignment_ids": [lease["id"]], "category": "wrong_answer", "reason": REASON}, headers=owner)
    return project, annotator, lease["id"], owner


def _available(owner_id):
    row = db.session.query(LedgerAccount).filter_by(kind=ANNOTATOR_AVAILABLE, owner_id=owner_id).populate_existing().first()
    return 0 if row is None else row.balance_cents


def test_an_overturned_dispute_pays_the_annotator_once(client):
    project, annotator, assignment_id, owner = _rejected(client)
    opened = client.post("/api/v1/disputes", json={"assignment_id": assignment_id, "reason": APPEAL},
                         headers=bearer(annotator))
    assert opened.status_code == 201 and opened.json["status"] == "open"
    assert set(opened.json["evidence"]) == {"answer", "duration_ms", "rejection"}  # never whether it was gold
    admin = bearer(AdminFactory())
    queue = client.get("/api/v1/disputes?status=open", headers=admin).json["items"]
    assert [d["id"] for d in queue] == [opened.json["id"]]
    assert {"task", "truth", "gold_record", "answer"} <= set(queue[0]["evidence"])
    resolve = f"/api/v1/admin/disputes/{opened.json['id']}/resolve"
    done = client.post(resolve, json={"outcome": "overturned", "note": "ears are feline"}, headers=admin)
    assert done.status_code == 200 and done.json["status"] == "overturned"
    twice = client.post(resolve, json={"outcome": "upheld", "note": "changed my mind"}, headers=admin)
    assert twice.status_code == 409
    assert _available(annotator.id) == 10
    for who in (bearer(annotator), owner):
        assert client.get(f"/api/v1/disputes/{opened.json['id']}", headers=who).json["status"] == "overturned"
    assert reports.trial_balance()["balanced"]


def test_only_admins_resolve_and_only_the_annotator_opens(client):
    project, annotator, assignment_id, owner = _rejected(client)
    assert client.post("/api/v1/disputes", json={"assignment_id": assignment_id, "reason": APPEAL},
                       headers=bearer(AnnotatorFactory())).status_code == 404
    opened = client.post("/api/v1/disputes", json={"assignment_id": assignment_id, "reason": APPEAL},
                         headers=bearer(annotator)).json
    for who in (owner, bearer(annotator)):
        assert client.post(f"/api/v1/admin/disputes/{opened['id']}/resolve",
                           json={"outcome": "overturned", "note": "self-service"}, headers=who).status_code == 403
    assert client.get(f"/api/v1/disputes/{opened['id']}", headers=bearer(RequesterFactory())).status_code == 404
    assert client.get("/api/v1/disputes", headers=bearer(AnnotatorFactory())).json["items"] == []


def test_a_rejection_can_be_disputed_once_and_only_within_the_window(client):
    project, annotator, assignment_id, owner = _rejected(client)
    db.session.get(Assignment, assignment_id).rejected_at = utcnow() - timedelta(days=15)
    late = client.post("/api/v1/disputes", json={"assignment_id": assignment_id, "reason": APPEAL},
                       headers=bearer(annotator))
    assert late.status_code == 409 and "window" in late.json["message"]


def test_a_rejection_counts_against_reputation_only_after_the_window(ctx):
    from tests.factories import fresh

    client = ctx.test_client()
    project, annotator, assignment_id, owner = _rejected(client)
    now = utcnow()
    assert eligibility.reputation_of(annotator_id=annotator.id, now=now).evidence == 0
    later = now + timedelta(days=15)
    assert eligibility.reputation_of(annotator_id=annotator.id, now=later).evidence > 0.5  # recency-weighted
    fresh(Assignment, assignment_id).approved_at = now  # as an overturned dispute leaves it
    assert eligibility.reputation_of(annotator_id=annotator.id, now=later).evidence == 0
