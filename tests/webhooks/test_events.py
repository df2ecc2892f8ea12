"""Task, escalation, project and recompute events reach the requester's webhooks, once each."""
from sqlalchemy import select

from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.results import runs
from marketplace.webhooks.models import WebhookDelivery
from tests.factories import AnnotatorFactory, open_project
from tests.projects.test_routes import _owner
from tests.results.test_policy import adaptive_project, answer, skilled
from tests.webhooks.conftest import endpoint_for

ALL = ("task.completed", "task.escalated", "project.completed", "recompute.finished")


def events() -> list[tuple[str, dict]]:
    return [(d.event, d.payload) for d in db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


def test_completions_and_the_project_are_announced_once(ctx, local_targets):
    project = open_project(tasks=2, answers_per_task=1, aggregation="mv")
    endpoint_for(_owner(project), "http://127.0.0.1:9/hook", events=ALL)
    annotator = AnnotatorFactory()
    answer(project, annotator, "dog")
    answer(project, annotator, "cat")
    sent = events()
    # The completed project's last recompute announces itself too.
    assert [e for e, _ in sent] == ["task.completed", "task.completed", "project.completed", "recompute.finished"]
    assert {p["external_id"] for e, p in sent if e == "task.completed"} == {"t0", "t1"}
    with transaction():
        runs.queue_run(project_id=project.id, reason="test", now=utcnow())
    assert [e for e, _ in events()][4:] == ["recompute.finished"]  # nothing announced twice


def test_escalation_is_announced(ctx, local_targets):
    project = adaptive_project(target_confidence=0.99, min_answers=1, max_answers=2)
    endpoint_for(_owner(project), "http://127.0.0.1:9/hook", events=["task.escalated"])
    answer(project, skilled(project), "dog")
    answer(project, skilled(project), "cat")
    assert [e for e, _ in events()] == ["task.escalated"]
