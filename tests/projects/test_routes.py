"""Projects: creation and validation, the listing per role, ownership, edits and the lifecycle."""
import pytest

from tests.factories import AnnotatorFactory, ProjectFactory, RequesterFactory, TaskFactory, bearer, fund_requester

SCHEMA = {"type": "classification", "classes": ["cat", "dog"]}


def new_project(**overrides):
    return {"name": "Pets", "label_schema": SCHEMA, "reward_cents": 4, **overrides}


def test_requester_creates_a_draft_project(client):
    requester = RequesterFactory()
    response = client.post("/api/v1/projects", json=new_project(answers_per_task=5), headers=bearer(requester))
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "draft" and body["requester_id"] == requester.id
    assert body["answers_per_task"] == 5 and body["currency"] == "usd" and body["max_leases_per_annotator"] == 1


@pytest.mark.parametrize("schema, field", [
    ({"type": "classification", "classes": ["cat"]}, "classes"),
    ({"type": "classification", "classes": ["cat", "cat"]}, "classes"),
    ({"type": "classification", "classes": ["cat", ""]}, "classes"),
    ({"type": "classification", "classes": "cat,dog"}, "classes"),
    ({"type": "boxes", "classes": ["a", "b"]}, "type"),
    ({"type": "classification", "classes": ["a", "b"], "extra": 1}, "extra"),
])
def test_bad_label_schema_is_422_naming_the_field(client, schema, field):
    response = client.post("/api/v1/projects", json=new_project(label_schema=schema), headers=bearer(RequesterFactory()))
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]["label_schema"]


@pytest.mark.parametrize("field, value", [
    ("reward_cents", 0), ("reward_cents", 1.5), ("answers_per_task", 0), ("currency", "btc"),
    ("assignment_duration_s", 1), ("status", "open"), ("requester_id", 1), ("task_count", 9),
    ("active_ordering", 1), ("review_enabled", "yes"), ("gold_feedback", 0),  # booleans are true or false
])
def test_bad_or_privileged_fields_are_422(client, field, value):
    response = client.post("/api/v1/projects", json=new_project(**{field: value}), headers=bearer(RequesterFactory()))
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_annotators_and_anonymous_cannot_create_projects(client):
    assert client.post("/api/v1/projects", json=new_project(), headers=bearer(AnnotatorFactory())).status_code == 403
    assert client.post("/api/v1/projects", json=new_project()).status_code == 401


def test_listing_depends_on_the_role(client):
    mine = ProjectFactory()
    theirs_open = ProjectFactory(status="open")
    theirs_draft = ProjectFactory()
    owner_headers = bearer(_owner(mine))
    assert [p["id"] for p in client.get("/api/v1/projects", headers=owner_headers).json["items"]] == [mine.id]
    annotator_view = client.get("/api/v1/projects", headers=bearer(AnnotatorFactory())).json["items"]
    assert [p["id"] for p in annotator_view] == [theirs_open.id]
    assert "task_count" not in annotator_view[0] and "requester_id" not in annotator_view[0]
    admin_view = client.get("/api/v1/projects", headers=bearer(RequesterFactory(role="admin"))).json["items"]
    assert {p["id"] for p in admin_view} >= {mine.id, theirs_open.id, theirs_draft.id}


def test_an_annotators_view_has_every_field_the_spec_says_is_always_sent(app, client):
    with app.test_request_context():
        spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    always = set(spec["components"]["schemas"]["ProjectOut"]["required"])
    assert "name" in always and "requester_id" not in always  # the owner's fields are sent only to the owner
    project = ProjectFactory(status="open")
    annotator = bearer(AnnotatorFactory())
    assert always <= set(client.get("/api/v1/projects", headers=annotator).json["items"][0])
    assert always <= set(client.get(f"/api/v1/projects/{project.id}", headers=annotator).json)


def _owner(project):
    from marketplace.accounts.models import Account
    from marketplace.extensions import db

    return db.session.get(Account, project.requester_id)


def test_listing_is_paginated_by_cursor(client):
    first = ProjectFactory()
    owner = _owner(first)
    others = [ProjectFactory(requester_id=owner.id) for _ in range(4)]
    headers = bearer(owner)
    page1 = client.get("/api/v1/projects?limit=2", headers=headers).json
    page2 = client.get(f"/api/v1/projects?limit=2&cursor={page1['next_cursor']}", headers=headers).json
    page3 = client.get(f"/api/v1/projects?limit=2&cursor={page2['next_cursor']}", headers=headers).json
    ids = [p["id"] for page in (page1, page2, page3) for p in page["items"]]
    assert ids == [first.id] + [p.id for p in others]
    assert page3["next_cursor"] is None


def test_another_requesters_project_is_404(client):
    project = ProjectFactory(status="open")
    stranger = bearer(RequesterFactory())
    assert client.get(f"/api/v1/projects/{project.id}", headers=stranger).status_code == 404
    assert client.patch(f"/api/v1/projects/{project.id}", json={"name": "x"}, headers=stranger).status_code == 404
    assert client.post(f"/api/v1/projects/{project.id}/pause", headers=stranger).status_code == 404


def test_annotator_sees_open_projects_only(client):
    draft, open_ = ProjectFactory(), ProjectFactory(status="open")
    annotator = bearer(AnnotatorFactory())
    assert client.get(f"/api/v1/projects/{draft.id}", headers=annotator).status_code == 404
    assert client.get(f"/api/v1/projects/{open_.id}", headers=annotator).json["name"] == open_.name


def test_draft_can_be_edited_then_not_after_publishing(client):
    project = ProjectFactory(task_count=1)
    TaskFactory(project_id=project.id)
    headers = bearer(_owner(project))
    edited = client.patch(f"/api/v1/projects/{project.id}", json={"reward_cents": 9}, headers=headers)
    assert edited.status_code == 200 and edited.json["reward_cents"] == 9
    schema_change = client.patch(f"/api/v1/projects/{project.id}", json={"label_schema": SCHEMA}, headers=headers)
    assert schema_change.status_code == 409  # tasks were checked against the old schema
    assert client.patch(f"/api/v1/projects/{project.id}", json={"status": "open"}, headers=headers).status_code == 422
    fund_requester(project.requester_id, 10_000)
    assert client.post(f"/api/v1/projects/{project.id}/publish", headers=headers).json["status"] == "open"
    late = client.patch(f"/api/v1/projects/{project.id}", json={"reward_cents": 1}, headers=headers)
    assert late.status_code == 409


def test_lifecycle_transitions_and_their_refusals(client):
    project = ProjectFactory()
    headers = bearer(_owner(project))

    def act(action):
        return client.post(f"/api/v1/projects/{project.id}/{action}", headers=headers)

    assert act("publish").status_code == 409  # no tasks yet
    TaskFactory(project_id=project.id)
    project.task_count = 1
    assert act("resume").status_code == 409
    fund_requester(project.requester_id, 10_000)
    assert act("publish").json["published_at"]
    assert act("publish").status_code == 409
    assert act("pause").json["status"] == "paused"
    assert act("resume").json["status"] == "open"
    assert act("close").json["status"] == "closed"
    assert act("resume").status_code == 409
