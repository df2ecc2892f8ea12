"""Results of a project and their streamed export, for its requester."""
from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.pagination import page_of
from marketplace.results import export, schemas, services
from marketplace.idempotency.keys import idempotent

bp = Blueprint("results", __name__, description="Inferred labels and exports")


@bp.route("/projects/<int:project_id>/results")
class ProjectResults(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.ResultListArgs, location="query")
    @bp.response(200, schemas.ResultPageOut)
    def get(self, args, project_id):
        """Read a project's results in task order, with each task's answers."""
        rows = services.result_rows(account=current_account(), project_id=project_id, **args)
        return page_of(rows, args["limit"], key=lambda row: row["task_id"])


@bp.route("/projects/<int:project_id>/results/export")
class ProjectResultsExport(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.ExportArgs, location="query")
    @bp.response(200, content_type="application/x-ndjson",
                 description="JSONL by default; CSV, COCO, YOLO (zip), CoNLL (zip), a spaCy DocBin, spaCy JSONL or a "
                             "manifest by ?format=")
    @bp.doc(responses={"200": {
        "description": "the file, as an attachment (Content-Disposition names it)",
        "headers": {"Content-Disposition": {"schema": {"type": "string"}, "description": "attachment; filename=..."}},
        "content": {media: {"schema": {"type": "string", "format": "binary"}}
                    for media in sorted({media for media, _ in export.MEDIA.values()})}}})
    def get(self, args, project_id):
        """Stream every result of a project in a format its label type offers (constant memory but for a DocBin)."""
        found = export.export(account=current_account(), project_id=project_id, **args)
        return Response(stream_with_context(found.body), mimetype=found.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{found.filename}"'})


@bp.route("/projects/<int:project_id>/recompute")
class ProjectRecompute(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.RecomputeOut)
    def get(self, project_id):
        """Read the latest recompute of the project: status, progress, figures."""
        return services.recompute_status(account=current_account(), project_id=project_id)

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(202, schemas.RecomputeOut)
    def post(self, project_id):
        """Queue a recompute of the project's truth model, results and annotators' trust."""
        with transaction():
            return services.request_recompute(account=current_account(), project_id=project_id, now=utcnow())
