"""The reports open in a real headless Chromium: every plot drawn and visible, no console error, the figures in the text.

The app is served over real HTTP (werkzeug in a thread) on the PostgreSQL test database, with the
rows committed (committed_app truncates them afterwards); Chromium sends the bearer token as an
extra header, as a requester's browser extension or curl would. The browser is the Debian
`chromium` package (.ci/run installs it; MARKETPLACE_CHROMIUM names another binary); Playwright's
own browser download is not used. Without
it the test fails under MARKETPLACE_REQUIRE_SERVICES=1 (CI) and is skipped elsewhere.
"""
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from marketplace.db import utcnow
from marketplace.disputes.models import UPHELD, Dispute
from marketplace.extensions import db
from tests.conftest import REQUIRE_SERVICES
from tests.factories import AdminFactory, bearer, fund_requester
from tests.projects.test_routes import _owner
from tests.reports.fixtures import reported_project

CHROMIUM = Path(os.environ.get("MARKETPLACE_CHROMIUM", "/usr/bin/chromium"))
PROJECT_PLOTS = ("gold_accuracy", "answers_per_task", "redundancy", "confusion", "trust", "agreement")
pytestmark = pytest.mark.postgres  # committed rows and a second connection: make test's PostgreSQL run


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"
        if REQUIRE_SERVICES:  # as conftest's missing PostgreSQL or Redis: CI fails, a laptop skips
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def served(committed_app):
    """The app on a real port; yields its base URL."""
    server = make_server("127.0.0.1", 0, committed_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


def _open(chromium, url: str, headers: dict):
    """Open a page with the headers; returns the page and the console errors and page errors it logged."""
    context = chromium.new_context(extra_http_headers=headers, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(url, wait_until="load")
    assert response.status == 200 and response.headers["content-type"].startswith("text/html")
    return page, errors


def _assert_plots_drawn(page, names) -> None:
    drawn = page.locator("figure[data-plot]")
    assert sorted(drawn.evaluate_all("figures => figures.map(f => f.dataset.plot)")) == sorted(names)
    for name in names:
        svg = page.locator(f'figure[data-plot="{name}"] > svg')
        svg.scroll_into_view_if_needed()
        assert svg.is_visible(), name
        box = svg.bounding_box()
        assert box["width"] > 100 and box["height"] > 50, (name, box)
        # matplotlib drew something: paths beyond the axes frame
        assert svg.locator("path").count() > 4, name


def test_project_report_renders_its_plots_in_chromium(chromium, served, committed_app):
    with committed_app.app_context():
        project, _, _ = reported_project()
        headers = bearer(_owner(project))
        project_id = project.id
        db.session.commit()
    page, errors = _open(chromium, f"{served}/api/v1/projects/{project_id}/report", headers)
    _assert_plots_drawn(page, PROJECT_PLOTS)
    assert page.title() == "Quality report · Animals"
    assert page.locator("#h-tasks").inner_text() == "3 / 4"
    assert page.locator("#h-answers").inner_text() == "12"
    assert page.locator("#h-gold").inner_text() == "66.7%"
    assert page.locator("#h-alpha").inner_text() == "0.300"
    assert page.locator("#h-cost").inner_text() == "0.68 USD"
    assert "t1 (#" in page.locator("#disputed").inner_text()
    assert errors == []


def test_marketplace_report_renders_for_an_admin_in_chromium(chromium, served, committed_app):
    with committed_app.app_context():
        project, annotators, disputed = reported_project()
        fund_requester(project.requester_id, 12_345)
        now = utcnow()
        db.session.add(Dispute(assignment_id=disputed.id - 1, annotator_id=annotators[1].id, project_id=project.id,
                               status=UPHELD, reason="Looks like a dog to me.", evidence={},
                               opened_at=now - timedelta(hours=5), resolved_at=now - timedelta(hours=2)))
        headers = bearer(AdminFactory())
        db.session.commit()
    page, errors = _open(chromium, f"{served}/api/v1/admin/report?days=7", headers)
    _assert_plots_drawn(page, ("throughput", "money", "disputes"))
    assert page.locator("#h-disputes").inner_text() == "1"
    assert page.locator("#h-median").inner_text() == "3.0"
    assert "funding" in page.locator("#money").inner_text() and "123.45 USD" in page.locator("#money").inner_text()
    assert errors == []
