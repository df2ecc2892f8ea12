"""Import and export job schemas: what to create, and the progress a client polls."""
from marshmallow import Schema, fields, validate

from marketplace.db import utcnow
from marketplace.results.schemas import ExportArgs
from marketplace.pagination import PageArgs, page_schema
from marketplace.transfers import lifecycle
from marketplace.transfers.models import STATUSES

IMPORT_FORMATS = ("jsonl", "csv")


class ExportIn(ExportArgs):
    """The streamed export's format and options, as a JSON body."""


class ImportUrlIn(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2048), metadata={
        "description": "where the job fetches the file: https on a public address (the webhook targets' rules)"})
    format = fields.String(load_default=None, validate=validate.OneOf(IMPORT_FORMATS),
                           metadata={"description": "default: from the URL's file name (.jsonl, .ndjson, .csv)"})


class ImportUploadArgs(Schema):
    format = fields.String(validate=validate.OneOf(IMPORT_FORMATS), metadata={"description": "default: from the file name"})


class ImportUploadFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class TransferListArgs(PageArgs):
    pass


class TransferError(Schema):
    code = fields.String(metadata={"description": "a stable code from the README's error catalogue"})
    message = fields.String(metadata={"description": "what went wrong; for a bad row, its line and field"})
    errors = fields.Dict(allow_none=True, metadata={"description": "the failing field by location, e.g. "
                                                                   "{\"file\": {\"12\": {\"data\": [...]}}}"})


def _progress(transfer, key):
    return lifecycle.progress(transfer, utcnow())[key]


def _error(transfer):
    if transfer.error_code is None:
        return None
    return {"code": transfer.error_code, "message": transfer.error_message, "errors": transfer.error_detail}


class TransferOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    status = fields.String(metadata={"description": " / ".join(STATUSES)})
    format = fields.String()
    rows_done = fields.Integer(metadata={"description": "rows read (import) or written (export) so far"})
    rows_total = fields.Integer(allow_none=True, metadata={
        "description": "rows in all: exact for an export; for an import counted from the file's lines until it is "
                       "done (exact then)"})
    percent = fields.Method("get_percent", metadata={"type": "number", "description": "0-100"})
    eta_s = fields.Method("get_eta", allow_none=True, metadata={
        "type": "number", "nullable": True, "description": "seconds left at the rate observed in this run; null until known"})
    error = fields.Method("get_error", allow_none=True, metadata={"type": "object", "nullable": True,
                                                                   "description": "{code, message, errors} once failed"})
    attempts = fields.Integer(attribute="attempt", metadata={"description": "runs started (a lost job's sweep adds one)"})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    heartbeat_at = fields.DateTime(allow_none=True, metadata={"description": "the last checkpoint of a running job"})
    finished_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "when the file is purged"})

    def get_percent(self, transfer):
        return _progress(transfer, "percent")

    def get_eta(self, transfer):
        return _progress(transfer, "eta_s")

    def get_error(self, transfer):
        return _error(transfer)


class ExportJobOut(TransferOut):
    size_bytes = fields.Integer(attribute="bytes_total", allow_none=True, metadata={"description": "once succeeded"})
    filename = fields.String(allow_none=True)
    media_type = fields.String(allow_none=True)
    etag = fields.String(allow_none=True)
    download_url = fields.Method("get_download_url", allow_none=True, metadata={
        "type": "string", "nullable": True, "description": "GET it (Range requests welcome) once succeeded"})

    def get_download_url(self, transfer):
        if transfer.status != "succeeded" or transfer.purged_at is not None:
            return None
        return f"/api/v1/exports/{transfer.id}/download"


class ImportJobOut(TransferOut):
    source = fields.String(metadata={"description": "upload or url"})
    filename = fields.String(allow_none=True)
    bytes_done = fields.Integer(metadata={"description": "bytes of the file read so far (progress is measured in them)"})
    bytes_total = fields.Integer(allow_none=True, metadata={"description": "the file's size, once stored"})
    created = fields.Integer(attribute="created_count", metadata={"description": "tasks added"})
    duplicate_count = fields.Integer(metadata={"description": "rows whose external id the project already had"})
    duplicates = fields.Method("get_duplicates", metadata={
        "type": "array", "items": {"type": "string"}, "description": "the first 100 duplicate external ids"})

    def get_duplicates(self, transfer):
        return list(transfer.duplicates_sample or [])


ExportJobPageOut = page_schema(ExportJobOut, "ExportJobPageOut")
ImportJobPageOut = page_schema(ImportJobOut, "ImportJobPageOut")
