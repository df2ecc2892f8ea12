"""Result schemas."""
from marshmallow import Schema, fields, validate

from marketplace.pagination import PageArgs, page_schema


class ResultAnswerOut(Schema):
    annotator = fields.String(metadata={"description": "pseudonymous annotator id, stable within the project"})
    label = fields.Raw()


class ResultOut(Schema):
    task_id = fields.Integer()
    external_id = fields.String()
    label = fields.Raw()
    confidence = fields.Float()
    method = fields.String()
    answer_count = fields.Integer()
    tie = fields.Boolean(metadata={"description": "the vote was tied; the class listed first in the schema won"})
    gold = fields.Boolean(metadata={"description": "a gold task: label is its known answer"})
    answers = fields.List(fields.Nested(ResultAnswerOut))


ResultPageOut = page_schema(ResultOut, "ResultPageOut")


class ExportArgs(Schema):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(("jsonl", "csv")))


ResultListArgs = PageArgs
