"""Task schemas: bulk import (JSON body or JSONL/CSV upload) and reads."""
from marshmallow import Schema, fields, validate

from marketplace.pagination import PageArgs, page_schema, updated_since
from marketplace.tasks.models import STATUSES


class TaskIn(Schema):
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    data = fields.Dict(required=True, metadata={"description": "the item to label (a JSON object)"})
    gold_answer = fields.Raw(metadata={"description": "makes this a gold task: its known answer, hidden from annotators",
                                       "component": "Answer"})
    gold_explanation = fields.String(metadata={"description": "shown to an annotator who misses it (if the project gives feedback)"})
    prediction = fields.Dict(metadata={"description": "a model's {class: probability} for this item"})
    model_version = fields.String()


class TaskBatchIn(Schema):
    # Rows are checked one by one by the import (with their row number); the spec still shows their shape.
    tasks = fields.List(fields.Raw(), required=True, metadata={"description": "up to 10,000 rows (checked row by row)",
                                                               "component": "TaskIn"})


class TaskUploadArgs(Schema):
    format = fields.String(validate=validate.OneOf(("jsonl", "csv")), metadata={"description": "default: from the file name"})


class TaskUploadFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportOut(Schema):
    created = fields.Integer()
    duplicates = fields.List(fields.String(), metadata={"description": "external ids already in the project; nothing was created for them"})
    duplicate_count = fields.Integer()
    task_count = fields.Integer(metadata={"description": "tasks in the project after this import"})


class TaskOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    external_id = fields.String()
    data = fields.Dict()
    status = fields.String(metadata={"description": "open, closed, or gold"})
    answer_count = fields.Integer()
    skip_count = fields.Integer(metadata={"description": "annotators who skipped this task"})
    gold_answer = fields.Raw(allow_none=True, metadata={"component": "Answer"})
    gold_explanation = fields.String(allow_none=True)
    prediction = fields.List(fields.Float(), allow_none=True, metadata={"description": "class probabilities, schema order"})
    model_version = fields.String(allow_none=True)
    uncertainty = fields.Float(allow_none=True)
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


class TaskListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    updated_since = updated_since(metadata={"description": "only tasks created or closed at or after this time"})


TaskPageOut = page_schema(TaskOut, "TaskPageOut")


class PredictionIn(Schema):
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    prediction = fields.Dict(required=True, metadata={"example": {"cat": 0.8, "dog": 0.2}})
    model_version = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))


class PredictionBatchIn(Schema):
    predictions = fields.List(fields.Nested(PredictionIn), required=True, validate=validate.Length(min=1))


class PredictionUpdateOut(Schema):
    updated = fields.Integer()
    unknown = fields.List(fields.String(), metadata={"description": "external ids not in the project"})
