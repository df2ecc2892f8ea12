"""Gold never leaks: every annotator-facing response has the same shape for gold and ordinary tasks."""
from datetime import timedelta

import pytest

from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from tests.assignments.test_routes import answer
from tests.factories import AnnotatorFactory, bearer
from tests.quality.helpers import GOLD_DRAW, LIVE_DRAW, force_draw, gold_project


def shape(value):
    """The structure of a JSON value: keys and value types, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture
def pair(client, monkeypatch):
    """One annotator holding a gold lease and another holding an ordinary one, on the same project."""
    project = gold_project(max_leases_per_annotator=2)
    alice, bob = AnnotatorFactory(), AnnotatorFactory()
    headers = {"gold": bearer(alice), "live": bearer(bob)}
    leases = {}
    for kind, draw in (("gold", GOLD_DRAW), ("live", LIVE_DRAW)):
        force_draw(monkeypatch, draw)
        leases[kind] = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers[kind])
    assert db.session.get(Assignment, leases["gold"].json["id"]).is_gold
    assert not db.session.get(Assignment, leases["live"].json["id"]).is_gold
    return project, headers, leases


def test_lease_responses_have_the_same_shape(pair):
    _, _, leases = pair
    assert leases["gold"].status_code == leases["live"].status_code == 201
    assert shape(leases["gold"].json) == shape(leases["live"].json)
    assert "gold" not in str(leases["gold"].json).lower()


def test_every_annotator_endpoint_answers_alike(client, pair):
    project, headers, leases = pair
    responses = {}
    for kind in ("gold", "live"):
        h, aid = headers[kind], leases[kind].json["id"]
        responses[kind] = [
            client.get(f"/api/v1/assignments/{aid}", headers=h),
            client.get("/api/v1/assignments", headers=h),
            client.get(f"/api/v1/projects/{project.id}", headers=h),
            client.get("/api/v1/projects", headers=h),
            client.post(f"/api/v1/assignments/{aid}/answer", json={"answer": {"label": "horse"}}, headers=h),
            client.post(f"/api/v1/assignments/{aid}/answer", json={"answer": {"label": "cat"}}, headers=h),
            client.post(f"/api/v1/assignments/{aid}/answer", json={"answer": {"label": "cat"}}, headers=h),
            client.post(f"/api/v1/assignments/{aid}/release", headers=h),
            client.get("/api/v1/me/trust", headers=h),
        ]
    for gold, live in zip(responses["gold"], responses["live"]):
        assert gold.status_code == live.status_code, (gold.request.path, gold.json, live.json)
        assert shape(gold.json) == shape(live.json), gold.request.path
        if gold.status_code >= 400:
            assert gold.json["message"] == live.json["message"]
    wrong_gold = responses["gold"][5].json
    assert wrong_gold["feedback"] is None  # feedback is off on this project


def test_expired_gold_and_ordinary_leases_fail_alike(client, pair):
    _, headers, leases = pair
    outcomes = []
    for kind in ("gold", "live"):
        assignment = db.session.get(Assignment, leases[kind].json["id"])
        assignment.expires_at = assignment.leased_at - timedelta(seconds=1)
        outcomes.append(answer(client, assignment.id, headers[kind]))
    assert outcomes[0].status_code == outcomes[1].status_code == 409
    assert {**outcomes[0].json, "request_id": None} == {**outcomes[1].json, "request_id": None}


def test_task_refs_do_not_reveal_ids_or_repeat_across_annotators(pair):
    _, _, leases = pair
    for response in leases.values():
        assert response.json["task"]["ref"].startswith("tsk_")
    assert leases["gold"].json["task"]["ref"] != leases["live"].json["task"]["ref"]


def test_gold_is_never_the_only_thing_left_to_lease(ctx):
    from marketplace.assignments.services import NoTaskAvailable
    from marketplace.assignments import answering
    from marketplace.db import utcnow
    from tests.quality.helpers import lease_now

    project = gold_project(tasks=1, gold=3)
    annotator = AnnotatorFactory()
    first = lease_now(project, annotator, LIVE_DRAW)
    answering.submit_answer(assignment_id=first.assignment_id, annotator=annotator, answer={"label": "cat"}, now=utcnow())
    for draw in (GOLD_DRAW, LIVE_DRAW):
        with pytest.raises(NoTaskAvailable):
            lease_now(project, annotator, draw)


def test_own_trust_shows_the_recomputed_snapshot_not_live_gold_counters(client, monkeypatch):
    project = gold_project(gold=2)
    headers = bearer(AnnotatorFactory())
    force_draw(monkeypatch, GOLD_DRAW)
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    client.post(f"/api/v1/assignments/{leased['id']}/answer", json={"answer": {"label": "cat"}}, headers=headers)
    gold = client.get("/api/v1/me/trust", headers=headers).json["projects"][0]["gold"]
    assert gold["seen"] == 0  # not until the next recompute
    from workers.results import recompute_project

    recompute_project(project.id)
    assert client.get("/api/v1/me/trust", headers=headers).json["projects"][0]["gold"]["seen"] == 1


def test_missed_gold_is_listed_only_where_the_project_gives_feedback(client, monkeypatch):
    project = gold_project(gold=2, gold_feedback=False)
    headers = bearer(AnnotatorFactory())
    force_draw(monkeypatch, GOLD_DRAW)
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    client.post(f"/api/v1/assignments/{leased['id']}/answer", json={"answer": {"label": "dog"}}, headers=headers)
    assert client.get("/api/v1/me/missed-gold", headers=headers).json["items"] == []


def test_gold_needs_a_prediction_where_pre_labels_are_shown(client):
    from tests.factories import ProjectFactory
    from tests.projects.test_routes import _owner

    project = ProjectFactory(show_prelabels=True)
    body = {"tasks": [{"external_id": "g", "data": {}, "gold_answer": {"label": "cat"}}]}
    response = client.post(f"/api/v1/projects/{project.id}/tasks", json=body, headers=bearer(_owner(project)))
    assert response.status_code == 422 and "prediction" in response.json["errors"]["json"]["tasks"]["0"]
