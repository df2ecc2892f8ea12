"""Teams: invites, membership, who sees and leases a team's project, team rewards through the ledger."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import VENDOR, Account
from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, ANNOTATOR_PENDING, PLATFORM_FEES
from marketplace.payments import escrow
from marketplace.projects.models import Project
from marketplace.teams.models import TeamInvite
from tests.factories import (AccountFactory, AdminFactory, AnnotatorFactory, RequesterFactory, account_totals, bearer,
                             fund_requester, open_project)

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane (the portable lease path)

LABEL = {"answer": {"label": "cat"}}
REASON = "The image shows a dog, not a cat; see the guidelines."


def _owner(project):
    return bearer(db.session.get(Account, project.requester_id))


def _team(client, owner, name="in-house"):
    made = client.post("/api/v1/teams", json={"name": name}, headers=bearer(owner))
    assert made.status_code == 201, made.json
    return made.json


def _join(client, owner, team_id, annotator, role="member"):
    invite = client.post(f"/api/v1/teams/{team_id}/invites", json={"email": annotator.email, "role": role},
                         headers=bearer(owner))
    assert invite.status_code == 201, invite.json
    joined = client.post("/api/v1/team-invites/accept", json={"token": invite.json["token"]}, headers=bearer(annotator))
    assert joined.status_code == 201, joined.json
    return joined.json


def _target(client, project, body):
    done = client.put(f"/api/v1/projects/{project.id}/workforce", json=body, headers=_owner(project))
    assert done.status_code == 200, done.json
    return done.json


def _balance(kind, owner_id):
    return account_totals(kind, owner_id)[0]


@pytest.fixture
def setup(client):
    project = open_project(tasks=3, answers_per_task=2, reward_cents=10, fee_bps=2000)
    owner = db.session.get(Account, project.requester_id)
    team = _team(client, owner)
    member, outsider = AnnotatorFactory(), AnnotatorFactory()
    _join(client, owner, team["id"], member)
    return project, owner, team, member, outsider


def test_a_team_only_project_is_invisible_and_unleasable_outside_the_team(client, setup):
    project, owner, team, member, outsider = setup
    _target(client, project, {"crowd": False, "teams": [{"team_id": team["id"]}]})
    left = AnnotatorFactory()
    _join(client, owner, team["id"], left)
    assert client.post(f"/api/v1/teams/{team['id']}/leave", headers=bearer(left)).status_code == 204
    matrix = {member: 201, outsider: 404, left: 404}
    for annotator, status in matrix.items():
        assert client.get(f"/api/v1/projects/{project.id}", headers=bearer(annotator)).status_code == (
            200 if status == 201 else 404)
        listed = [p["id"] for p in client.get("/api/v1/projects", headers=bearer(annotator)).json["items"]]
        assert (project.id in listed) is (status == 201)
        assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).status_code == status
    # The team itself: its owner and members see it; another requester and outsiders get 404.
    for account, status in ((owner, 200), (member, 200), (outsider, 404), (RequesterFactory(), 404), (AdminFactory(), 200)):
        assert client.get(f"/api/v1/teams/{team['id']}", headers=bearer(account)).status_code == status
    for account, status in ((owner, 200), (member, 403), (RequesterFactory(), 404)):
        assert client.get(f"/api/v1/teams/{team['id']}/members", headers=bearer(account)).status_code == status
        assert client.get(f"/api/v1/teams/{team['id']}/stats", headers=bearer(account)).status_code == status
        body = {"role": "member"}
        assert client.post(f"/api/v1/teams/{team['id']}/invites", json=body,
                           headers=bearer(account)).status_code == (201 if status == 200 else status)
    # Another requester cannot target this private team.
    theirs = open_project(tasks=1)
    refused = client.put(f"/api/v1/projects/{theirs.id}/workforce", json={"teams": [{"team_id": team["id"]}]},
                         headers=_owner(theirs))
    assert refused.status_code == 422 and "teams" in refused.json["errors"]["json"]


def test_teams_first_then_the_crowd_after_the_stated_hours(client, setup):
    project, _owner_account, team, member, outsider = setup
    shown = _target(client, project, {"crowd": True, "crowd_after_hours": 6, "teams": [{"team_id": team["id"]}]})
    assert shown["crowd_admitted_at"] is not None
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(outsider)).status_code == 404
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(member)).status_code == 201
    db.session.get(Project, project.id).published_at = utcnow() - timedelta(hours=6, minutes=1)
    db.session.flush()
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(outsider)).status_code == 201


def test_invites_by_email_are_used_once_by_that_account_and_links_serve_many_until_revoked(client):
    owner = RequesterFactory()
    team = _team(client, owner)
    invited, other = AnnotatorFactory(), AnnotatorFactory()
    invite = client.post(f"/api/v1/teams/{team['id']}/invites", json={"email": invited.email},
                         headers=bearer(owner)).json
    assert client.post("/api/v1/team-invites/accept", json={"token": invite["token"]},
                       headers=bearer(other)).json["code"] == "invite_for_another_account"
    assert client.post("/api/v1/team-invites/accept", json={"token": invite["token"]},
                       headers=bearer(invited)).status_code == 201
    assert client.post("/api/v1/team-invites/accept", json={"token": invite["token"]},
                       headers=bearer(invited)).json["code"] == "invite_expired"  # used
    listed = client.get(f"/api/v1/teams/{team['id']}/invites", headers=bearer(owner)).json["items"]
    assert listed[0]["used_at"] and "token" not in listed[0]
    assert db.session.scalar(select(TeamInvite.token_hash)) != invite["token"]  # only a hash is stored

    link = client.post(f"/api/v1/teams/{team['id']}/invites", json={}, headers=bearer(owner)).json
    assert client.post("/api/v1/team-invites/accept", json={"token": link["token"]}, headers=bearer(other)).status_code == 201
    again = client.post("/api/v1/team-invites/accept", json={"token": link["token"]}, headers=bearer(other))
    assert again.status_code == 409 and again.json["code"] == "already_member"
    third = AnnotatorFactory()
    assert client.delete(f"/api/v1/teams/{team['id']}/invites/{link['id']}", headers=bearer(owner)).status_code == 200
    assert client.post("/api/v1/team-invites/accept", json={"token": link["token"]},
                       headers=bearer(third)).json["code"] == "invite_expired"
    assert client.post("/api/v1/team-invites/accept", json={"token": "tmi_nope"},
                       headers=bearer(third)).status_code == 404
    members = client.get(f"/api/v1/teams/{team['id']}/members", headers=bearer(owner)).json["items"]
    assert {(m["role"], m["email"]) for m in members} == {("member", invited.email), ("member", None)}
    assert client.post(f"/api/v1/teams/{team['id']}/invites", json={"role": "manager"},
                       headers=bearer(owner)).status_code == 422  # a private team has no managers
    expired = client.post(f"/api/v1/teams/{team['id']}/invites", json={"expires_in_hours": 1}, headers=bearer(owner)).json
    db.session.get(TeamInvite, expired["id"]).expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert client.post("/api/v1/team-invites/accept", json={"token": expired["token"]},
                       headers=bearer(third)).json["code"] == "invite_expired"


def test_a_team_reward_is_held_paid_approved_and_rejected_at_that_reward(client, setup):
    project, owner, team, member, outsider = setup
    _target(client, project, {"crowd": True, "teams": [{"team_id": team["id"], "reward_cents": 25}]})
    other = AnnotatorFactory()
    ids = {}
    for annotator in (member, outsider, other):
        lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
        assert client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL,
                           headers=bearer(annotator)).status_code == 200
        ids[annotator.id] = lease["id"]
    row = db.session.get(Assignment, ids[member.id], populate_existing=True)
    assert (row.reward_cents, row.team_id) == (25, team["id"])
    assert db.session.get(Assignment, ids[outsider.id]).team_id is None
    assert _balance(ANNOTATOR_PENDING, member.id) == 25 and _balance(ANNOTATOR_PENDING, outsider.id) == 10
    assert escrow.check_holds() == []  # the reservations match each lease's own reward

    approve = {"assignment_ids": [ids[member.id], ids[outsider.id]]}
    assert client.post(f"/api/v1/projects/{project.id}/answers/approve", json=approve,
                       headers=_owner(project)).json["decided"] == 2
    assert (_balance(ANNOTATOR_AVAILABLE, member.id), _balance(ANNOTATOR_AVAILABLE, outsider.id)) == (25, 10)
    assert _balance(PLATFORM_FEES, 0) == 5 + 2  # 20% of each reward, rounded up per answer
    reject = {"assignment_ids": [ids[other.id]], "category": "wrong_answer", "reason": REASON}
    assert client.post(f"/api/v1/projects/{project.id}/answers/reject", json=reject,
                       headers=_owner(project)).json["decided"] == 1
    # A second member answer, rejected: the team's reward goes back to escrow, not the project's.
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(member)).json
    client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=bearer(member))
    assert _balance(ANNOTATOR_PENDING, member.id) == 25
    client.post(f"/api/v1/projects/{project.id}/answers/reject",
                json={**reject, "assignment_ids": [lease["id"]]}, headers=_owner(project))
    assert _balance(ANNOTATOR_PENDING, member.id) == 0
    # A lease given back releases the team reward's reservation.
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(member)).json
    assert lease["reward_cents"] == 25  # the member is told the team's reward
    assert client.post(f"/api/v1/assignments/{lease['id']}/release", headers=bearer(member)).status_code == 200
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_publishing_sizes_the_escrow_on_the_highest_team_reward(client):
    owner = RequesterFactory()
    team = _team(client, owner)
    made = client.post("/api/v1/projects", headers=bearer(owner), json={
        "name": "p", "label_schema": {"type": "classification", "classes": ["a", "b"]}, "reward_cents": 10,
        "answers_per_task": 1, "workforce": {"crowd": False, "teams": [{"team_id": team["id"], "reward_cents": 40}]}})
    assert made.status_code == 201, made.json
    assert made.json["workforce"]["teams"] == [{"team_id": team["id"], "reward_cents": 40}]
    project = db.session.get(Project, made.json["id"])
    assert escrow.answer_cost(project) == 40 + 8


def test_team_reviewers_review_the_teams_projects(client, setup):
    project, owner, team, member, outsider = setup
    reviewer = AnnotatorFactory()
    joined = _join(client, owner, team["id"], reviewer)
    changed = client.patch(f"/api/v1/teams/{team['id']}/members/{joined['member_id']}", json={"role": "reviewer"},
                           headers=bearer(owner))
    assert changed.status_code == 200 and changed.json["role"] == "reviewer"
    _target(client, project, {"crowd": True, "teams": [{"team_id": team["id"]}]})
    fields = db.session.get(Project, project.id)
    fields.review_enabled = True
    db.session.flush()
    # No escalated task yet: a reviewer is told there is nothing to review, anyone else that they may not.
    assert client.post(f"/api/v1/projects/{project.id}/reviews", headers=bearer(reviewer)).status_code == 404
    refused = client.post(f"/api/v1/projects/{project.id}/reviews", headers=bearer(outsider))
    assert refused.status_code == 403 and refused.json["code"] == "not_a_reviewer"
    assert client.delete(f"/api/v1/teams/{team['id']}/members/{joined['member_id']}", headers=bearer(owner)).status_code == 204
    assert client.post(f"/api/v1/projects/{project.id}/reviews", headers=bearer(reviewer)).json["code"] == "not_a_reviewer"


def test_a_vendor_manager_sees_the_teams_work_and_nothing_else_of_the_project(client):
    vendor = AccountFactory(role=VENDOR)
    team = _team(client, vendor, "vendor crew")
    assert team["kind"] == "vendor"
    manager = AccountFactory(role=VENDOR)
    invite = client.post(f"/api/v1/teams/{team['id']}/invites", json={"role": "manager"}, headers=bearer(vendor)).json
    assert client.post("/api/v1/team-invites/accept", json={"token": invite["token"]},
                       headers=bearer(AnnotatorFactory())).json["code"] == "wrong_role"
    assert client.post("/api/v1/team-invites/accept", json={"token": invite["token"]},
                       headers=bearer(manager)).status_code == 201
    worker = AnnotatorFactory()
    _join(client, manager, team["id"], worker)  # a manager may invite too

    project = open_project(tasks=2, answers_per_task=2)
    listed = client.get("/api/v1/teams?scope=vendors", headers=_owner(project)).json["items"]
    assert team["id"] in [t["id"] for t in listed]
    _target(client, project, {"crowd": True, "teams": [{"team_id": team["id"]}]})
    for annotator in (worker, AnnotatorFactory()):
        lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
        client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=bearer(annotator))
    stats = client.get(f"/api/v1/teams/{team['id']}/stats", headers=bearer(manager))
    assert stats.status_code == 200
    assert [(p["project_id"], p["answers"], p["active_members"]) for p in stats.json["projects"]] == [(project.id, 1, 1)]
    for path in (f"/projects/{project.id}", f"/projects/{project.id}/results", f"/projects/{project.id}/workforce"):
        assert client.get(f"/api/v1{path}", headers=bearer(manager)).status_code in (403, 404)
    assert client.get(f"/api/v1/teams/{team['id']}/stats", headers=bearer(worker)).status_code == 403
    assert client.get(f"/api/v1/teams/{team['id']}/stats", headers=bearer(AccountFactory(role=VENDOR))).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(manager)).json["role"] == "vendor"


def test_a_higher_team_reward_on_a_published_project_tops_the_escrow_up_or_is_refused(client, setup):
    project, owner, team, member, outsider = setup
    body = {"crowd": True, "teams": [{"team_id": team["id"], "reward_cents": 5_000}]}
    refused = client.put(f"/api/v1/projects/{project.id}/workforce", json=body, headers=_owner(project))
    assert refused.status_code == 402, refused.json
    assert client.get(f"/api/v1/projects/{project.id}/workforce", headers=_owner(project)).json["teams"] == []
    fund_requester(owner.id, 100_000)
    assert client.put(f"/api/v1/projects/{project.id}/workforce", json=body, headers=_owner(project)).status_code == 200
    project = db.session.get(Project, project.id, populate_existing=True)
    assert escrow.free_cents(project_id=project.id) >= escrow.worst_case_answers(project) * (5_000 + 1_000)
