"""Assignment schemas. The same fields for every task, gold or not: nothing hints at gold."""
from marshmallow import Schema, fields, validate

from marketplace.assignments.models import STATUSES
from marketplace.pagination import PageArgs, page_schema


class LeasedTaskOut(Schema):
    id = fields.Integer()
    data = fields.Dict()


class LeaseOut(Schema):
    id = fields.Integer(attribute="assignment_id")
    status = fields.Constant("leased")
    project_id = fields.Integer()
    task = fields.Method("_task")
    leased_at = fields.DateTime()
    expires_at = fields.DateTime()

    def _task(self, lease):
        return {"id": lease.task_id, "data": lease.task_data}


class AnswerIn(Schema):
    answer = fields.Raw(required=True, metadata={"example": {"label": "cat"}, "description": "validated against the project's label schema"})


class AssignmentOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    task_id = fields.Integer()
    status = fields.String()
    leased_at = fields.DateTime()
    expires_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    answer = fields.Raw(allow_none=True)
    duration_ms = fields.Integer(allow_none=True)


class AssignmentListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    project_id = fields.Integer(load_default=None)


AssignmentPageOut = page_schema(AssignmentOut, "AssignmentPageOut")
