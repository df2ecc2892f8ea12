"""Task questions' bodies and their JSON form."""
from marshmallow import Schema, fields, validate

from marketplace.pagination import PageArgs, page_schema


class TaskQuestionIn(Schema):
    question = fields.String(required=True, validate=validate.Length(min=3, max=4000))


class TaskQuestionAnswerIn(Schema):
    answer = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class TaskQuestionOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    question = fields.String()
    asked_at = fields.DateTime()
    answer = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)
    promoted_version = fields.Integer(allow_none=True, metadata={
        "description": "the guideline version the question and its answer were added to"})
    task_id = fields.Integer(metadata={"optional": True, "description": "the project's requester only"})
    assignment_id = fields.Integer(metadata={
        "optional": True, "description": "the requester, and the annotator who asked"})
    asked_by = fields.String(metadata={
        "optional": True, "description": "the requester only: the asker's pseudonym in this project"})
    task_ref = fields.String(metadata={
        "optional": True, "description": "the annotator who asked: the task as they see it"})


TaskQuestionListArgs = PageArgs
TaskQuestionPageOut = page_schema(TaskQuestionOut, "TaskQuestionPageOut")
