"""The admin's marketplace report: throughput, money flows and disputes per day, for admins only."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.disputes.models import OVERTURNED, UPHELD, Dispute
from marketplace.extensions import db
from marketplace.reports import services
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer, fund_requester, open_project
from tests.reports.fixtures import reported_project

pytestmark = pytest.mark.embedded


def _dispute(project, assignment, status, opened, hours):
    db.session.add(Dispute(assignment_id=assignment.id, annotator_id=assignment.annotator_id, project_id=project.id,
                           status=status, reason="I followed the guidelines.", evidence={}, opened_at=opened,
                           resolved_at=opened + timedelta(hours=hours) if hours is not None else None))


def test_marketplace_report_counts_money_by_movement_type_per_day(ctx):
    requester = RequesterFactory()
    fund_requester(requester.id, 1_000)
    fund_requester(requester.id, 250)
    fund_requester(requester.id, 700, currency="eur")
    report = services.marketplace_report(days=7, now=utcnow())
    today = utcnow().date().isoformat()
    assert {(r["kind"], r["currency"], r["amount_cents"], r["movements"]) for r in report["money"]["totals"]} == {
        ("funding", "usd", 1_250, 2), ("funding", "eur", 700, 1)}
    assert [(r["day"], r["kind"], r["currency"]) for r in report["money"]["by_day"]] == [
        (today, "funding", "eur"), (today, "funding", "usd")]


def test_marketplace_report_covers_every_day_of_the_window(ctx):
    now = utcnow()
    open_project(tasks=2)
    report = services.marketplace_report(days=3, now=now)
    assert [d["day"] for d in report["throughput"]] == [(now.date() - timedelta(days=i)).isoformat() for i in (2, 1, 0)]
    assert report["throughput"][-1]["projects_created"] == 1 and report["throughput"][0]["projects_created"] == 0
    assert report["since"].date() == now.date() - timedelta(days=2)


def test_marketplace_report_tells_how_disputes_ended_and_how_long_they_took(ctx):
    project, _, disputed = reported_project()
    now = utcnow()
    answers = db.session.scalars(select(Assignment).where(Assignment.project_id == project.id, Assignment.id != disputed.id)
                                 .order_by(Assignment.id).limit(3)).all()
    _dispute(project, answers[0], UPHELD, now - timedelta(days=2), 2)
    _dispute(project, answers[1], OVERTURNED, now - timedelta(days=1), 6)
    _dispute(project, answers[2], "open", now - timedelta(hours=1), None)
    db.session.flush()
    disputes = services.marketplace_report(days=7, now=now)["disputes"]
    assert (disputes["opened"], disputes["upheld"], disputes["overturned"], disputes["still_open"]) == (3, 1, 1, 1)
    assert disputes["median_hours_to_resolve"] == 4.0
    assert disputes["open_now"] == 1  # the fixture's own dispute, opened in January, is resolved
    assert sum(d["opened"] for d in disputes["by_day"]) == 3 and sum(d["overturned"] for d in disputes["by_day"]) == 1


def test_only_admins_read_the_marketplace_report(client):
    assert client.get("/api/v1/admin/report", headers=bearer(RequesterFactory())).status_code == 403
    assert client.get("/api/v1/admin/report", headers=bearer(AnnotatorFactory())).status_code == 403
    page = client.get("/api/v1/admin/report", headers=bearer(AdminFactory()))
    assert page.status_code == 200 and page.mimetype == "text/html" and 'data-plot="throughput"><svg' in page.text
    body = client.get("/api/v1/admin/report?format=json&days=2", headers=bearer(AdminFactory())).json
    assert body["days"] == 2 and len(body["throughput"]) == 2


@pytest.mark.parametrize("query, field", [("format=xml", "format"), ("days=0", "days"), ("days=400", "days")])
def test_bad_marketplace_report_arguments_are_refused_naming_the_field(client, query, field):
    response = client.get(f"/api/v1/admin/report?{query}", headers=bearer(AdminFactory()))
    assert response.status_code == 422 and field in response.json["errors"]["query"]
