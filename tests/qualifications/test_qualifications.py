"""Qualification tests: the question bank, attempts that never reveal answers, limits, grants, eligibility."""
from datetime import timedelta

import pytest

from marketplace.extensions import db
from marketplace.qualifications.models import Attempt, Qualification
from tests.factories import AnnotatorFactory, ProjectFactory, RequesterFactory, bearer, fresh
from tests.quality.helpers import gold_project

SCHEMA = {"type": "classification", "classes": ["cat", "dog"]}


@pytest.fixture
def owner():
    return RequesterFactory()


@pytest.fixture
def qualification(client, owner):
    """A qualification with a bank of four questions (all 'cat'), two drawn per attempt, pass at 0.5."""
    headers = bearer(owner)
    created = client.post("/api/v1/qualifications", headers=headers, json={
        "name": "Cats", "label_schema": SCHEMA, "questions_per_attempt": 2, "pass_score": 0.5,
        "time_limit_s": 600, "retry_delay_s": 3600, "max_attempts": 2, "validity_s": 86_400,
    }).json
    questions = [{"data": {"image": f"q{i}.jpg"}, "answer": {"label": "cat"}, "explanation": "a cat"} for i in range(4)]
    added = client.post(f"/api/v1/qualifications/{created['id']}/questions", json={"questions": questions}, headers=headers)
    assert added.status_code == 201 and added.json["question_count"] == 4
    return created


def start(client, qualification, headers):
    return client.post(f"/api/v1/qualifications/{qualification['id']}/attempts", headers=headers)


def finish(client, attempt, headers, labels):
    return client.post(f"/api/v1/attempts/{attempt['id']}/answers",
                       json={"answers": [{"label": label} for label in labels]}, headers=headers)


def test_attempt_draws_questions_without_answers(client, qualification):
    attempt = start(client, qualification, bearer(AnnotatorFactory()))
    assert attempt.status_code == 201
    body = attempt.json
    assert len(body["questions"]) == 2 and body["status"] == "started"
    assert all(set(q) == {"ref", "data"} for q in body["questions"])
    assert "'label'" not in str(body) and "explanation" not in str(body)


def test_passing_grants_the_qualification_and_shows_only_the_score(client, qualification):
    headers = bearer(AnnotatorFactory())
    attempt = start(client, qualification, headers).json
    graded = finish(client, attempt, headers, ["cat", "dog"])
    assert graded.status_code == 200
    assert graded.json["score"] == 0.5 and graded.json["passed"] is True and graded.json["grant_expires_at"]
    assert "'label'" not in str(graded.json) and "explanation" not in str(graded.json)
    assert finish(client, attempt, headers, ["cat", "cat"]).status_code == 409  # graded once


def test_retry_delay_and_max_attempts(client, qualification):
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    first = start(client, qualification, headers).json
    assert start(client, qualification, headers).status_code == 409  # still running
    finish(client, first, headers, ["dog", "dog"])
    early = start(client, qualification, headers)
    assert early.status_code == 409 and int(early.headers["Retry-After"]) > 3000
    fresh(Attempt, first["id"]).started_at -= timedelta(hours=2)
    second = start(client, qualification, headers)
    assert second.status_code == 201
    finish(client, second.json, headers, ["dog", "dog"])
    fresh(Attempt, second.json["id"]).started_at -= timedelta(hours=2)
    used_up = start(client, qualification, headers)
    assert used_up.status_code == 409 and "all 2 attempts" in used_up.json["message"]


def test_late_answers_count_as_a_failed_attempt(client, qualification):
    headers = bearer(AnnotatorFactory())
    attempt = start(client, qualification, headers).json
    fresh(Attempt, attempt["id"]).deadline -= timedelta(hours=1)
    late = finish(client, attempt, headers, ["cat", "cat"])
    assert late.status_code == 409 and "time limit" in late.json["message"]
    assert fresh(Attempt, attempt["id"]).status == "expired"


def test_wrong_number_or_shape_of_answers_is_422(client, qualification):
    headers = bearer(AnnotatorFactory())
    attempt = start(client, qualification, headers).json
    assert finish(client, attempt, headers, ["cat"]).status_code == 422
    bad = finish(client, attempt, headers, ["cat", "horse"])
    assert bad.status_code == 422 and "1" in bad.json["errors"]["json"]["answers"]


def test_questions_need_answers_in_the_schema(client, qualification, owner):
    bad = client.post(f"/api/v1/qualifications/{qualification['id']}/questions", headers=bearer(owner),
                      json={"questions": [{"data": {}, "answer": {"label": "horse"}}]})
    assert bad.status_code == 422 and "answer" in bad.json["errors"]["json"]["questions"]["0"]


def test_other_requesters_cannot_see_or_change_a_qualification(client, qualification):
    stranger = bearer(RequesterFactory())
    assert client.get(f"/api/v1/qualifications/{qualification['id']}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/qualifications/{qualification['id']}/grants", json={"annotator_id": 1},
                       headers=stranger).status_code == 404


def project_requiring(owner, **requirements):
    return gold_project(gold=0, requirements=requirements, requester_id=owner.id)


def test_lease_needs_the_qualification_and_the_error_names_it(client, qualification, owner):
    project = project_requiring(owner, qualifications=[{"id": qualification["id"], "min_score": 0.9}])
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    refused = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers)
    assert refused.status_code == 403 and f"qualification {qualification['id']} is required" in refused.json["message"]
    assert project.id not in [p["id"] for p in client.get("/api/v1/projects", headers=headers).json["items"]]
    attempt = start(client, qualification, headers).json
    finish(client, attempt, headers, ["cat", "dog"])  # 0.5: passed, but below the project's 0.9
    low = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers)
    assert low.status_code == 403 and "at least 0.9" in low.json["message"]
    client.post(f"/api/v1/qualifications/{qualification['id']}/grants", headers=bearer(owner),
                json={"annotator_id": annotator.id, "score": 1.0})
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).status_code == 201
    assert project.id in [p["id"] for p in client.get("/api/v1/projects", headers=headers).json["items"]]
    revoked = client.delete(f"/api/v1/qualifications/{qualification['id']}/grants/{annotator.id}", headers=bearer(owner))
    assert revoked.json == {"revoked": 2}
    assert project.id not in [p["id"] for p in client.get("/api/v1/projects", headers=headers).json["items"]]


def test_skill_and_trust_requirements(client, owner):
    admin = RequesterFactory(role="admin")
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    skilled = project_requiring(owner, skills=["radiology"])
    refused = client.post(f"/api/v1/projects/{skilled.id}/assignments", headers=headers)
    assert refused.status_code == 403 and "radiology" in refused.json["message"]
    client.post(f"/api/v1/admin/accounts/{annotator.id}/skills", json={"name": "radiology"}, headers=bearer(admin))
    assert client.post(f"/api/v1/projects/{skilled.id}/assignments", headers=headers).status_code == 201
    trusted = project_requiring(owner, min_trust=0.8)
    untrusted = client.post(f"/api/v1/projects/{trusted.id}/assignments", headers=headers)
    assert untrusted.status_code == 403 and "trust of at least 0.8" in untrusted.json["message"]


def test_requirements_must_name_the_requesters_own_qualifications(client, qualification):
    body = {"name": "p", "label_schema": SCHEMA, "reward_cents": 1,
            "requirements": {"qualifications": [{"id": qualification["id"]}]}}
    response = client.post("/api/v1/projects", json=body, headers=bearer(RequesterFactory()))
    assert response.status_code == 422
    assert "id" in response.json["errors"]["json"]["requirements"]["qualifications"]["0"]


def test_admin_suspension_stops_everything_and_is_recorded(client):
    admin = RequesterFactory(role="admin")
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    project = ProjectFactory(status="open")
    suspended = client.post(f"/api/v1/admin/accounts/{annotator.id}/suspend", json={"reason": "fraud ring"},
                            headers=bearer(admin))
    assert suspended.json["status"] == "suspended"
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).status_code == 403
    assert client.post(f"/api/v1/admin/accounts/{annotator.id}/suspend", json={"reason": "again"},
                       headers=bearer(admin)).status_code == 409
    client.post(f"/api/v1/admin/accounts/{annotator.id}/reinstate", json={"reason": "cleared"}, headers=bearer(admin))
    actions = client.get("/api/v1/me/trust", headers=headers).json["actions"]
    assert [a["action"] for a in actions] == ["reinstate", "suspend"] and actions[1]["reason"] == "fraud ring"
    assert client.post(f"/api/v1/admin/accounts/{annotator.id}/suspend", json={"reason": "x" * 5},
                       headers=bearer(RequesterFactory())).status_code == 403


def test_a_retry_delay_under_the_platform_minimum_is_422_naming_it(client, owner):
    body = {"name": "Quick", "label_schema": SCHEMA, "questions_per_attempt": 1, "pass_score": 1.0, "retry_delay_s": 0}
    refused = client.post("/api/v1/qualifications", headers=bearer(owner), json=body)
    assert refused.status_code == 422 and "retry_delay_s" in refused.json["errors"]["json"]
    assert client.post("/api/v1/qualifications", headers=bearer(owner),
                       json={**body, "retry_delay_s": 3600}).status_code == 201


def test_an_older_qualification_with_no_delay_still_waits_the_minimum(client, qualification):
    db.session.get(Qualification, qualification["id"]).retry_delay_s = 0  # created before the minimum existed
    headers = bearer(AnnotatorFactory())
    first = start(client, qualification, headers).json
    finish(client, first, headers, ["dog", "dog"])
    early = start(client, qualification, headers)
    assert early.status_code == 409 and int(early.headers["Retry-After"]) > 3000
