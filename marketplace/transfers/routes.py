"""Import and export jobs: create, follow progress, list, and download a result (with Range)."""
from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.idempotency.keys import idempotent
from marketplace.pagination import page_of
from marketplace.tasks import parsing
from marketplace.transfers import schemas, services
from marketplace.transfers.models import EXPORT, IMPORT

bp = Blueprint("transfers", __name__, description="Import and export jobs with progress and resumable downloads")
UPLOAD_ENDPOINT = "transfers.ProjectImportUpload"


@bp.before_request
def _upload_limit():
    """An import upload may be far larger than MAX_CONTENT_LENGTH: it is spooled to disk, never held in memory."""
    if request.endpoint == UPLOAD_ENDPOINT:
        request.max_content_length = current_app.config["TRANSFER_MAX_UPLOAD_BYTES"]


@bp.route("/projects/<int:project_id>/exports")
class ProjectExports(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.TransferListArgs, location="query")
    @bp.response(200, schemas.ExportJobPageOut)
    def get(self, args, project_id):
        """List a project's export jobs, newest first."""
        found = services.listing(account=current_account(), project_id=project_id, kind=EXPORT, **args)
        return page_of(found, args["limit"])

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.ExportIn)
    @bp.response(202, schemas.ExportJobOut)
    def post(self, body, project_id):
        """Queue an export of the project's results; follow it with GET /exports/{id}, then download it."""
        with transaction():
            return services.create_export(account=current_account(), project_id=project_id, now=utcnow(), **body)


@bp.route("/exports/<int:export_id>")
class ExportItem(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.ExportJobOut)
    def get(self, export_id):
        """Read an export job: status, rows written of the total, percent, ETA, and where to download it."""
        return services.owned(account=current_account(), transfer_id=export_id, kind=EXPORT)


@bp.route("/exports/<int:export_id>/download")
class ExportDownload(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, description="the whole file (Accept-Ranges: bytes, ETag, Content-Disposition)")
    @bp.doc(responses={
        "206": {"description": "the bytes asked for by `Range: bytes=a-b` (Content-Range)"},
        "410": "GONE", "416": "REQUESTED_RANGE_NOT_SATISFIABLE"},
        parameters=[{"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
                     "description": "one byte range, e.g. bytes=1048576- to resume after the first MiB"},
                    {"name": "If-Range", "in": "header", "required": False, "schema": {"type": "string"},
                     "description": "the ETag you hold: the range is honoured only if the file is still that one"}])
    def get(self, export_id):
        """Download a finished export's file, whole or a byte range (resumable); 409 until it has succeeded."""
        found = services.download(account=current_account(), transfer_id=export_id, byte_range=_asked_range())
        transfer = found.transfer
        if found.partial and request.headers.get("If-Range") not in (None, transfer.etag):
            found = services.download(account=current_account(), transfer_id=export_id, byte_range=None)
        headers = {"Accept-Ranges": "bytes", "ETag": transfer.etag, "Content-Length": str(found.stop - found.start),
                   "Content-Disposition": f'attachment; filename="{transfer.filename}"'}
        if found.partial:
            headers["Content-Range"] = f"bytes {found.start}-{found.stop - 1}/{found.size}"
        body = stream_with_context(found.body) if request.method != "HEAD" else iter(())
        return Response(body, status=206 if found.partial else 200, mimetype=transfer.media_type, headers=headers)


def _asked_range() -> tuple[int, int | None] | None:
    """The one byte range asked for, or None (no Range, another unit, several ranges, or unreadable: the whole file)."""
    asked = request.range
    if asked is None or asked.units != "bytes" or len(asked.ranges) != 1:
        return None
    return asked.ranges[0]


@bp.route("/projects/<int:project_id>/imports")
class ProjectImports(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.TransferListArgs, location="query")
    @bp.response(200, schemas.ImportJobPageOut)
    def get(self, args, project_id):
        """List a project's import jobs, newest first."""
        found = services.listing(account=current_account(), project_id=project_id, kind=IMPORT, **args)
        return page_of(found, args["limit"])

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.ImportUrlIn)
    @bp.response(202, schemas.ImportJobOut)
    def post(self, body, project_id):
        """Queue the import of a JSONL or CSV file the job fetches from a URL (no row limit)."""
        kind = body["format"] or parsing.format_from_name(body["url"].split("?", 1)[0], "json", "format")
        with transaction():
            return services.create_url_import(account=current_account(), project_id=project_id, format=kind,
                                              url=body["url"], now=utcnow())


@bp.route("/projects/<int:project_id>/imports/upload")
class ProjectImportUpload(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.ImportUploadArgs, location="query")
    @bp.arguments(schemas.ImportUploadFile, location="files")
    @bp.response(202, schemas.ImportJobOut)
    def post(self, args, files, project_id):
        """Upload a JSONL or CSV file (multipart field `file`, no row limit) and queue its import."""
        upload = files["file"]
        kind = args.get("format") or parsing.format_from_name(upload.filename or "", "query", "format")
        with transaction():
            return services.create_upload_import(account=current_account(), project_id=project_id, format=kind,
                                                 stream=upload.stream, filename=upload.filename, now=utcnow())


@bp.route("/imports/<int:import_id>")
class ImportItem(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.ImportJobOut)
    def get(self, import_id):
        """Read an import job: status, rows and bytes read, percent, ETA, tasks created and duplicates."""
        return services.owned(account=current_account(), transfer_id=import_id, kind=IMPORT)

