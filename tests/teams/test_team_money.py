"""Every money path at a team's or an arm's reward, on PostgreSQL: expiry, closing, a dispute, repeats.

Each path must move exactly the reward the lease was given (not the project's), keep the escrow's
reservation equal to what its leases and pending answers need, and leave the ledger balanced.
"""
from datetime import timedelta


from marketplace.accounts.models import Account
from marketplace.assignments import services as assignments
from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, ANNOTATOR_PENDING, PROJECT_ESCROW
from marketplace.payments import escrow
from tests.factories import AdminFactory, AnnotatorFactory, account_totals, bearer, open_project

REASON = "The image shows a dog, not a cat; see the guidelines."
APPEAL = "I labelled it cat because the ears are clearly feline."


def _balance(kind, owner_id):
    return account_totals(kind, owner_id)[0]


def _owner(project):
    return bearer(db.session.get(Account, project.requester_id))


def _team_project(client, reward=30):
    project = open_project(tasks=3, answers_per_task=2, reward_cents=10, fee_bps=2000)
    owner = db.session.get(Account, project.requester_id)
    team = client.post("/api/v1/teams", json={"name": "crew"}, headers=bearer(owner)).json
    member = AnnotatorFactory()
    token = client.post(f"/api/v1/teams/{team['id']}/invites", json={}, headers=bearer(owner)).json["token"]
    client.post("/api/v1/team-invites/accept", json={"token": token}, headers=bearer(member))
    client.put(f"/api/v1/projects/{project.id}/workforce", headers=bearer(owner),
               json={"teams": [{"team_id": team["id"], "reward_cents": reward}]})
    return project, member


def _held(project):
    return account_totals(PROJECT_ESCROW, project.id)[1]


def test_expired_and_closed_leases_release_the_team_rewards_reservation(client):
    project, member = _team_project(client)
    crowd = AnnotatorFactory()
    before = _held(project)
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(member)).json
    assert _held(project) == before + 30 + 6
    row = db.session.get(Assignment, lease["id"])
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert assignments.expire_leases(now=utcnow()) == 1
    assert _held(project) == before and escrow.check_holds() == []

    client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(member))
    client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(crowd))
    assert _held(project) == before + 36 + 12
    closed = client.post(f"/api/v1/projects/{project.id}/close", headers=_owner(project))
    assert closed.status_code == 200, closed.json
    assert _held(project) == 0 and escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_an_overturned_dispute_pays_the_team_reward_once(client):
    project, member = _team_project(client)
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(member)).json
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "cat"}}, headers=bearer(member))
    reject = {"assignment_ids": [lease["id"]], "category": "wrong_answer", "reason": REASON}
    assert client.post(f"/api/v1/projects/{project.id}/answers/reject", json=reject,
                       headers=_owner(project)).json["decided"] == 1
    assert _balance(ANNOTATOR_PENDING, member.id) == 0
    opened = client.post("/api/v1/disputes", json={"assignment_id": lease["id"], "reason": APPEAL},
                         headers=bearer(member)).json
    admin = bearer(AdminFactory())
    resolve = f"/api/v1/admin/disputes/{opened['id']}/resolve"
    assert client.post(resolve, json={"outcome": "overturned", "note": "feline ears"}, headers=admin).status_code == 200
    assert client.post(resolve, json={"outcome": "overturned", "note": "again"}, headers=admin).status_code == 409
    assert _balance(ANNOTATOR_AVAILABLE, member.id) == 30
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_approving_arm_rewards_twice_pays_once(client):
    project = open_project(tasks=4, answers_per_task=4, reward_cents=5, fee_bps=2000)
    started = client.post(f"/api/v1/projects/{project.id}/experiments", headers=_owner(project), json={
        "name": "pay", "arms": [{"name": "a", "reward_cents": 11}, {"name": "b", "reward_cents": 17}]})
    assert started.status_code == 201
    reward = {arm["id"]: arm["reward_cents"] for arm in started.json["arms"]}
    ids, owed = [], {}
    for _ in range(4):
        annotator = AnnotatorFactory()
        lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
        client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": "cat"}},
                    headers=bearer(annotator))
        ids.append(lease["id"])
        owed[annotator.id] = reward[db.session.get(Assignment, lease["id"]).arm_id]
    for _ in range(2):
        client.post(f"/api/v1/projects/{project.id}/answers/approve", json={"assignment_ids": ids},
                    headers=_owner(project))
    assert {a: _balance(ANNOTATOR_AVAILABLE, a) for a in owed} == owed
    report = client.get(f"/api/v1/projects/{project.id}/report?format=json", headers=_owner(project))
    assert report.status_code == 200 and report.json["cost"]["rewards_cents"] == sum(owed.values())
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_the_budget_cap_counts_answers_at_the_highest_reward_a_lease_may_carry(client):
    from marketplace.results import policy

    project, member = _team_project(client, reward=50)
    project.budget_cents = 10_000
    db.session.flush()
    context = policy.PolicyContext.of(type("Row", (), {
        "project_id": project.id, "label_schema": project.label_schema, "class_priors": None, "min_answers": 1,
        "max_answers": 3, "target_confidence": 0.9, "budget_cents": 10_000, "reward_cents": 10,
        "model_as_annotator": False, "model_confusion": None, "truth_model": None, "aggregation": "ds",
        "review_enabled": False, "task_count": project.task_count})())
    assert policy.remaining_budget(context) == 10_000 // 50 - 3 * 2  # the team's 50, not the crowd's 10
