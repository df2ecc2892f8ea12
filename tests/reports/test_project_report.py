"""The project quality report: its figures (a JSON snapshot), who may read it, and how it answers bad input.

The snapshot is tests/reports/snapshots/project_report.json, compared exactly. After a deliberate
change to the figures, regenerate it with `UPDATE_SNAPSHOTS=1 python -m pytest tests/reports` and
review the diff before committing it.
"""
import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.reports import project_figures, services
from marketplace.reports.schemas import ProjectReportOut
from marketplace.tasks.models import Task
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer, open_project
from tests.projects.test_routes import _owner
from tests.quality.helpers import GOLD_DRAW, gold_project
from tests.quality.test_reports import label_all
from tests.reports.fixtures import NOW, reported_project

SNAPSHOT = Path(__file__).parent / "snapshots" / "project_report.json"
pytestmark = pytest.mark.embedded  # the report's SQL must run on the demo's SQLite file too


def _without_ids(report: dict, project) -> dict:
    """The report with database ids (which differ from run to run) replaced by stable names."""
    report = {**report, "project_id": "<project>"}
    for key in ("slowest_tasks", "most_disputed_tasks"):
        report[key] = [{**row, "task_id": f"<task {row['external_id']}>"} for row in report[key]]
    return report


def test_project_report_figures_match_the_snapshot(ctx):
    project, _, _ = reported_project()
    owner = _owner(project)
    report = ProjectReportOut().dump(services.project_report(account=owner, project_id=project.id, now=NOW))
    got = json.dumps(_without_ids(report, project), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(got)
    assert got == SNAPSHOT.read_text()


def test_project_report_figures_add_up(ctx):
    project, _, _ = reported_project()
    r = services.project_report(account=_owner(project), project_id=project.id, now=NOW)
    assert (r["tasks"], r["closed_tasks"], r["gold_tasks"], r["answers"]) == (4, 3, 1, 12)
    assert [(d["day"], d["answers"], d["gold_seen"], d["gold_correct"]) for d in r["answers_by_day"]] == [
        ("2026-01-05", 3, 1, 1), ("2026-01-06", 9, 2, 1)]
    assert r["answers_per_task"] == [{"answers": 1, "tasks": 1}, {"answers": 2, "tasks": 1}, {"answers": 3, "tasks": 2}]
    assert r["redundancy"]["answers_used"] == 8 and r["redundancy"]["answers_at_fixed_redundancy"] == 9
    assert r["redundancy"]["saved_cents"] == 12  # one answer at 10 cents + 20% fee
    # rows: inferred label (cat, dog, bird); columns: the crowd's answer
    assert r["confusion"]["counts"] == [[2, 0, 0], [1, 2, 0], [1, 0, 2]]
    assert (r["cost"]["approved_answers"], r["cost"]["pending_answers"]) == (8, 4)  # awaiting approval counts too
    assert r["cost"]["total_cents"] == 12 * 12 + 50 + 10 and r["cost"]["per_accepted_label_cents"] == 68.0
    assert [t["external_id"] for t in r["slowest_tasks"]] == ["t2", "t1", "t0"]
    assert r["slowest_tasks"][0]["seconds_to_close"] == 33 * 3600
    assert r["most_disputed_tasks"] == [{"task_id": r["most_disputed_tasks"][0]["task_id"], "external_id": "t1",
                                         "disputes": 1, "overturned": 1, "upheld": 0, "open": 0}]
    assert [p["bucket"] for p in r["agreement_over_time"]["points"]] == ["2026-01-05", "2026-01-06"]


def test_report_page_is_html_with_a_plot_per_figure(client):
    project, _, _ = reported_project()
    response = client.get(f"/api/v1/projects/{project.id}/report", headers=bearer(_owner(project)))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    for plot in ("gold_accuracy", "answers_per_task", "redundancy", "confusion", "trust", "agreement"):
        assert f'data-plot="{plot}"><svg' in page
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)  # nothing loads from elsewhere


def test_report_json_is_the_same_figures(client):
    project, _, _ = reported_project()
    response = client.get(f"/api/v1/projects/{project.id}/report?format=json", headers=bearer(_owner(project)))
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert body["project_id"] == project.id and body["answers"] == 12 and body["cost"]["total_cents"] == 204


def test_admin_reads_any_project_report(client):
    project, _, _ = reported_project()
    response = client.get(f"/api/v1/projects/{project.id}/report?format=json", headers=bearer(AdminFactory()))
    assert response.status_code == 200 and response.json["closed_tasks"] == 3


def test_another_requesters_project_report_is_not_found(client):
    project, _, _ = reported_project()
    response = client.get(f"/api/v1/projects/{project.id}/report", headers=bearer(RequesterFactory()))
    assert response.status_code == 404 and response.json["code"] == "not_found"


def test_annotators_may_not_read_a_report(client):
    project, annotators, _ = reported_project()
    response = client.get(f"/api/v1/projects/{project.id}/report?format=json", headers=bearer(annotators[0]))
    assert response.status_code == 403 and "gold" not in response.get_data(as_text=True)


def test_unknown_report_format_is_refused_naming_the_field(client):
    project, _, _ = reported_project()
    response = client.get(f"/api/v1/projects/{project.id}/report?format=pdf", headers=bearer(_owner(project)))
    assert response.status_code == 422 and "format" in response.json["errors"]["query"]


def test_report_needs_a_credential(client):
    project, _, _ = reported_project()
    assert client.get(f"/api/v1/projects/{project.id}/report").status_code == 401


def test_project_without_answers_gets_a_page_saying_so(client):
    project = open_project(tasks=3)
    response = client.get(f"/api/v1/projects/{project.id}/report", headers=bearer(_owner(project)))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="no-answers"' in page and "No answers yet" in page and "<svg" not in page
    body = client.get(f"/api/v1/projects/{project.id}/report?format=json", headers=bearer(_owner(project))).json
    assert body["answers"] == 0 and body["gold_accuracy"] is None and body["cost"]["per_accepted_label_cents"] is None


def test_confusion_is_not_applicable_to_numeric_labels(client):
    project = open_project(tasks=1, label_schema={"type": "numeric", "min": 0, "max": 10})
    body = client.get(f"/api/v1/projects/{project.id}/report?format=json", headers=bearer(_owner(project))).json
    assert body["confusion"]["applicable"] is False and body["agreement_over_time"]["applicable"] is False


def test_names_from_the_requester_are_escaped_in_the_page_and_drawn_as_text(client):
    project, _, _ = reported_project()
    project.name = "<script>alert(1)</script>"
    project.label_schema = {"type": "classification",
                            "classes": ["cat", "dog", "bird", "<img src=x onerror=alert(1)>", "$\\frac{$ & co"]}
    page = client.get(f"/api/v1/projects/{project.id}/report", headers=bearer(_owner(project))).get_data(as_text=True)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "$\\frac{$ &amp; co" in page  # drawn as the text it is, not as (malformed) mathematics



def test_report_of_a_project_worked_through_the_services_agrees_with_its_stats(client):
    project = gold_project(tasks=4, gold=2, answers_per_task=3, max_leases_per_annotator=1)
    good, also_good, spammer = AnnotatorFactory(), AnnotatorFactory(), AnnotatorFactory()
    label_all(project, [(good, ["cat"]), (spammer, ["dog"])], draw=GOLD_DRAW)
    label_all(project, [(good, ["cat", "dog", "cat", "dog"]), (also_good, ["cat", "dog", "cat", "dog"]),
                        (spammer, ["dog", "cat", "dog", "cat"])])
    headers = bearer(_owner(project))
    stats = client.get(f"/api/v1/projects/{project.id}/stats", headers=headers).json
    report = client.get(f"/api/v1/projects/{project.id}/report?format=json", headers=headers).json
    for key in ("krippendorff_alpha", "fleiss_kappa", "percent_agreement", "answers"):
        assert report["agreement"][key] == pytest.approx(stats["agreement"][key], abs=1e-6)  # the report rounds to 6 places
    assert report["answers"] == 14 and report["gold_accuracy"] == 0.5  # one gold answer right, one wrong
    assert report["answers_per_task"] == [{"answers": 3, "tasks": 4}]
    page = client.get(f"/api/v1/projects/{project.id}/report", headers=headers)
    assert page.status_code == 200 and 'data-plot="agreement"><svg' in page.text
    # each closing answer wrote its task's result: the confusion reads every answer of the four tasks
    assert report["closed_tasks"] == 4 and report["confusion"]["answers"] == 12
    assert "No task has an inferred result yet." not in page.text and 'data-plot="confusion"' in page.text


def test_a_large_project_is_sampled_by_whole_tasks_spread_over_its_ids(ctx, monkeypatch):
    project, _, _ = reported_project()
    monkeypatch.setattr(project_figures, "AGREEMENT_SAMPLE", 4)  # 9 non-gold answers: every third task is read
    sample = project_figures.coded_sample(project)
    answered = {t.id: t.answer_count for t in db.session.scalars(
        select(Task).where(Task.project_id == project.id, Task.status != "gold"))}
    read = Counter(row[0] for row in sample.rows)
    assert sample.stride == 3 and read and all(task_id % 3 == 0 for task_id in read)
    assert read == {task_id: n for task_id, n in answered.items() if task_id % 3 == 0}  # every answer of those tasks
    report = services.project_report(account=_owner(project), project_id=project.id, now=NOW)
    assert report["agreement"]["sampled"] is True and report["agreement"]["answers"] == len(sample.rows)
