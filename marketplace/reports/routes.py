"""Quality reports: a project's (its requester's or an admin's) and the marketplace's (admins'), as HTML or JSON.

One operation per report, two media types: the page by default, the same figures as JSON with
?format=json (a link that opens in a browser works, and curl needs no Accept header).
"""
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, REQUESTER
from marketplace.db import utcnow
from marketplace.reports import pages, schemas, services

bp = Blueprint("reports", __name__, description="Quality and marketplace reports, as HTML pages or JSON")


def _both_media(schema: str, what: str) -> dict:
    """The 200 response documented with both of its media types."""
    return {"responses": {"200": {"description": f"{what}: an HTML page by default, JSON with ?format=json", "content": {
        "text/html": {"schema": {"type": "string"}},
        "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}}


def _page(html: str) -> Response:
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": pages.CONTENT_SECURITY_POLICY, "Cache-Control": "private, no-store"})


@bp.route("/projects/<int:project_id>/report")
class ProjectReport(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.ReportFormatArgs, location="query")
    @bp.response(200, schemas.ProjectReportOut)
    @bp.doc(**_both_media("ProjectReportOut", "the project's quality report"))
    def get(self, args, project_id):
        """Read your project's quality report: gold accuracy and agreement over time, confusion, trust, cost."""
        report = services.project_report(account=current_account(), project_id=project_id, now=utcnow())
        return _page(pages.project_page(report)) if args["format"] == "html" else report


@bp.route("/admin/report")
class MarketplaceReport(MethodView):
    @requires(ADMIN)
    @bp.arguments(schemas.MarketplaceReportArgs, location="query")
    @bp.response(200, schemas.MarketplaceReportOut)
    @bp.doc(**_both_media("MarketplaceReportOut", "the marketplace report"))
    def get(self, args):
        """Read the marketplace report: throughput, money flows by movement type, disputes, per day."""
        report = services.marketplace_report(days=args["days"], now=utcnow())
        return _page(pages.marketplace_page(report)) if args["format"] == "html" else report
