"""Shapes of the operators' job endpoints."""
from marshmallow import Schema, fields, validate


class PeriodicJobOut(Schema):
    name = fields.String(metadata={"description": "what POST /admin/jobs/periodic/{name}/run takes"})
    path = fields.String()
    queue = fields.String()
    schedule = fields.String(metadata={"description": "every N s, or a cron expression in UTC"})
    last_started_at = fields.DateTime(allow_none=True)
    last_finished_at = fields.DateTime(allow_none=True)
    last_failed_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    runs = fields.Integer()
    failures = fields.Integer()
    overdue = fields.Boolean(metadata={"description": "past its schedule (see /health): it fails, or nothing runs it"})


class FailedJobOut(Schema):
    id = fields.String()
    queue = fields.String()
    path = fields.String(allow_none=True)
    args = fields.List(fields.Raw())
    enqueued_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "the last line of its traceback"})


class JobsOut(Schema):
    periodic = fields.List(fields.Nested(PeriodicJobOut))
    failed = fields.List(fields.Nested(FailedJobOut), metadata={
        "description": "jobs that failed every retry (newest first, at most 100); empty without Redis"})


class JobActionIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=5, max=2000))


class JobActionOut(Schema):
    id = fields.String(metadata={"description": "the failed job put back on its queue", "optional": True})
    name = fields.String(metadata={"description": "the periodic job sent", "optional": True})
    path = fields.String(metadata={"optional": True})
    queue = fields.String(metadata={"optional": True})
    status = fields.String(metadata={"description": "queued (a failed job) or sent (a periodic one)"})
