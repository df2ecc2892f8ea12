"""GET /projects/{id}/forecast through the API, and the budget check's webhook (once per episode)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.forecasts import services
from marketplace.payments import escrow
from marketplace.projects.models import Project
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import WebhookDelivery
from tests.factories import AnnotatorFactory, ProjectFactory, RequesterFactory, bearer, fresh, fund_escrow, open_project
from tests.webhooks.conftest import dns  # noqa: F401  (fixture)

LABEL = {"answer": {"label": "cat"}}


def _owner(project):
    return bearer(db.session.get(Account, project.requester_id))


def _answer(client, project, annotators):
    for annotator in annotators:
        lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
        assert client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL,
                           headers=bearer(annotator)).status_code == 200


def test_a_project_being_answered_gets_dates_and_costs_with_intervals(client):
    project = open_project(tasks=4, answers_per_task=2)
    project.published_at = utcnow() - timedelta(hours=2)
    _answer(client, project, [AnnotatorFactory() for _ in range(3)])
    got = client.get(f"/api/v1/projects/{project.id}/forecast", headers=_owner(project))
    assert got.status_code == 200, got.json
    body, per_answer = got.json, escrow.answer_cost(project)
    assert body["remaining_answers"] == {"expected": 5, "low": 5, "high": 5}  # 4 tasks x 2 - 3 answered
    assert body["pace"]["answers_in_window"] == 3 and 1.9 < body["pace"]["window_hours"] <= 2.1
    hours = body["completion"]["hours"]
    assert 0 < hours["low"] < hours["expected"] < hours["high"]
    assert body["completion"]["earliest"] < body["completion"]["expected_at"] < body["completion"]["latest"]
    assert body["cost"]["spent_cents"] == 3 * per_answer and body["cost"]["answer_cost_cents"] == per_answer
    assert body["cost"]["remaining_cents"] == {"expected": 5 * per_answer, "low": 5 * per_answer, "high": 5 * per_answer}
    assert body["cost"]["expected_total_cents"] == 8 * per_answer
    assert body["budget"]["runs_out"] is False and body["budget"]["shortfall_cents"] == 0
    assert body["level"] == 0.9 and body["open_tasks"] == 3  # the first task closed with its two answers


def test_a_draft_has_no_pace_or_date_and_others_cannot_read_it(client):
    project = ProjectFactory()
    body = client.get(f"/api/v1/projects/{project.id}/forecast", headers=_owner(project)).json
    assert body["completion"] is None and body["pace"]["answers_per_hour"] is None
    for stranger in (RequesterFactory(), AnnotatorFactory()):
        assert client.get(f"/api/v1/projects/{project.id}/forecast", headers=bearer(stranger)).status_code in (403, 404)
    assert client.get("/api/v1/projects/987654/forecast", headers=_owner(project)).status_code == 404


def test_the_budget_check_warns_once_per_episode_and_again_after_it_cleared(client, dns):  # noqa: F811
    dns["hooks.example.com"] = ["93.184.216.34"]
    project = open_project(tasks=3, answers_per_task=2, funded=False)
    owner = db.session.get(Account, project.requester_id)
    webhooks.register(account=owner, fields={"url": "https://hooks.example.com/x", "events": ["project.budget_warning"]})
    fund_escrow(project, escrow.answer_cost(project))  # one answer's worth of six
    now = utcnow()
    assert services.check_budgets(now=now) == [project.id]
    assert services.check_budgets(now=now + timedelta(minutes=15)) == []  # same episode: no second warning
    sent = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.event == "project.budget_warning")).all()
    assert len(sent) == 1
    assert sent[0].payload["limited_by"] == "escrow" and sent[0].payload["shortfall_cents"] == 5 * escrow.answer_cost(project)

    fund_escrow(project, 10 * escrow.answer_cost(project))
    assert services.check_budgets(now=now + timedelta(minutes=30)) == []
    assert fresh(Project, project.id).budget_warned_at is None  # cleared
    project.budget_cents = 2 * escrow.answer_cost(project)  # a cap below the work left: a new episode
    assert services.check_budgets(now=now + timedelta(minutes=45)) == [project.id]
    forecast = client.get(f"/api/v1/projects/{project.id}/forecast", headers=bearer(owner)).json
    assert forecast["budget"]["runs_out"] and forecast["budget"]["limited_by"] == "budget"


@pytest.mark.parametrize("gold_rate", [0.0, 0.2])
def test_gold_answers_to_come_are_priced_in(ctx, gold_rate):
    project = open_project(tasks=10, answers_per_task=1, gold_rate=gold_rate, gold_count=5 if gold_rate else 0)
    money = services.forecast(project, utcnow())["cost"]
    assert money["remaining_cents"]["expected"] == round(10 * (1 + gold_rate / (1 - gold_rate)) * money["answer_cost_cents"])
