"""The review stage: reviewer standing, decisions as results, rework with a note, reviewer trust."""
from sqlalchemy import select

from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.quality.models import AnnotatorStats
from marketplace.results import runs
from marketplace.results.models import Result
from marketplace.reviews.models import Review
from marketplace.tasks.models import Task
from tests.assignments.test_routes import lease
from tests.factories import AnnotatorFactory, bearer, fresh, open_project
from tests.projects.test_routes import _owner
from tests.results.test_policy import answer, skilled


def escalating_project(**fields):
    """One task, adaptive, that escalates after two disagreeing answers; reviewers need reputation >= 0."""
    defaults = dict(target_confidence=0.99, min_answers=1, max_answers=2, aggregation="ds", answers_per_task=1,
                    review_enabled=True, review_min_trust=0.0, max_leases_per_annotator=1)
    project = open_project(tasks=1, **{**defaults, **fields})
    answer(project, skilled(project), "dog")
    task_id = answer(project, skilled(project), "cat")
    assert fresh(Task, task_id).status == "escalated"
    return project, task_id


def test_an_escalated_task_waits_for_review_and_the_decision_becomes_the_result(client):
    project, task_id = escalating_project()
    owner = bearer(_owner(project))
    assert client.get(f"/api/v1/projects/{project.id}", headers=owner).json["status"] == "open"  # not done yet
    reviewer = bearer(AnnotatorFactory())
    leased = client.post(f"/api/v1/projects/{project.id}/reviews", headers=reviewer)
    assert leased.status_code == 201
    assert sorted(c["label"] for c in leased.json["candidates"]) == ["cat", "dog"]
    assert leased.json["task"]["ref"].startswith("tsk_") and "annotator" not in str(leased.json["candidates"])
    decided = client.post(f"/api/v1/reviews/{leased.json['id']}/decision", json={"answer": {"label": "cat"}},
                          headers=reviewer)
    assert decided.status_code == 200 and decided.json["status"] == "decided"
    result = fresh(Result, task_id)
    assert (result.label, result.method, result.confidence) == ("cat", "review", 1.0)
    assert fresh(Task, task_id).status == "closed"
    assert client.get(f"/api/v1/projects/{project.id}", headers=owner).json["status"] == "completed"
    again = client.post(f"/api/v1/reviews/{leased.json['id']}/decision", json={"answer": {"label": "dog"}},
                        headers=reviewer)
    assert again.status_code == 409


def test_rework_reopens_the_task_with_the_note_for_the_next_annotator(client):
    project, task_id = escalating_project()
    reviewer = bearer(AnnotatorFactory())
    review = client.post(f"/api/v1/projects/{project.id}/reviews", headers=reviewer).json
    returned = client.post(f"/api/v1/reviews/{review['id']}/rework", json={"note": "Look at the ears."},
                           headers=reviewer)
    assert returned.json["status"] == "returned"
    task = fresh(Task, task_id)
    assert task.status == "open" and task.slot_limit == 3 and fresh(Result, task_id) is None
    next_one = lease(client, project, bearer(AnnotatorFactory())).json
    assert next_one["task"]["note"] == "Look at the ears."


def test_reviewer_standing_and_no_review_of_ones_own_answer(client):
    project, _ = escalating_project(review_min_trust=0.9)
    newcomer = bearer(AnnotatorFactory())
    refused = client.post(f"/api/v1/projects/{project.id}/reviews", headers=newcomer)
    assert refused.status_code == 403 and "reviewer standing" in refused.json["message"]
    project.review_min_trust = 0.0
    answered_it = db.session.scalars(select(AnnotatorStats.annotator_id).where(AnnotatorStats.project_id == project.id)).first()
    from marketplace.accounts.models import Account

    own = client.post(f"/api/v1/projects/{project.id}/reviews", headers=bearer(db.session.get(Account, answered_it)))
    assert own.status_code == 404


def test_requesters_send_closed_tasks_to_review(client):
    project = open_project(tasks=1, answers_per_task=1, aggregation="mv", review_enabled=True, review_min_trust=0.0)
    task_id = answer(project, AnnotatorFactory(), "dog")
    owner = bearer(_owner(project))
    sent = client.post(f"/api/v1/tasks/{task_id}/review", headers=owner)
    assert sent.status_code == 200 and sent.json["status"] == "escalated"
    assert client.get(f"/api/v1/projects/{project.id}", headers=owner).json["status"] == "open"
    assert client.post(f"/api/v1/tasks/{task_id}/review", headers=bearer(AnnotatorFactory())).status_code == 403


def test_the_recompute_keeps_review_decisions_and_scores_reviewers(ctx):
    project, task_id = escalating_project()
    reviewer = AnnotatorFactory()
    from marketplace.reviews import services as reviews

    with transaction():
        review, _, _ = reviews.lease_review(project_id=project.id, reviewer=reviewer, now=utcnow())
    with transaction():
        reviews.decide(review_id=review.id, reviewer=reviewer, answer={"label": "bird"}, now=utcnow())
    with transaction():
        runs.queue_run(project_id=project.id, reason="test", now=utcnow())
    assert fresh(Result, task_id).method == "review" and fresh(Result, task_id).label == "bird"
    assert fresh(Review, review.id).agrees_with_truth is False
    stats = fresh(AnnotatorStats, (reviewer.id, project.id))
    assert (stats.reviews_checked, stats.reviews_agreed) == (1, 0)


def test_enabling_review_needs_a_way_to_pick_reviewers(client):
    from tests.factories import RequesterFactory

    body = {"name": "p", "label_schema": {"type": "classification", "classes": ["a", "b"]}, "reward_cents": 1,
            "review_enabled": True}
    response = client.post("/api/v1/projects", json=body, headers=bearer(RequesterFactory()))
    assert response.status_code == 422 and "review_enabled" in response.json["errors"]["json"]
