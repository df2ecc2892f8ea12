"""Qualification schemas. Questions' answers are write-only: no response carries them."""
from marketplace.inputs import id_range
from marshmallow import Schema, fields, validate

from marketplace.pagination import PageArgs, page_schema


class QualificationIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    label_schema = fields.Dict(required=True, metadata={"example": {"type": "classification", "classes": ["cat", "dog"]}})
    questions_per_attempt = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=500))
    pass_score = fields.Float(required=True, validate=validate.Range(min=0, max=1))
    time_limit_s = fields.Integer(strict=True, load_default=1800, validate=validate.Range(min=10, max=7 * 86_400))
    retry_delay_s = fields.Integer(strict=True, load_default=86_400, validate=validate.Range(min=0, max=365 * 86_400),
                                   metadata={"description": "at least the platform's minimum (1 hour by default)"})
    max_attempts = fields.Integer(strict=True, load_default=3, validate=validate.Range(min=1, max=100))
    validity_s = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=60, max=10 * 365 * 86_400),
                                metadata={"description": "how long a pass lasts; null: forever"})


class QualificationOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String()
    label_schema = fields.Dict()
    questions_per_attempt = fields.Integer()
    pass_score = fields.Float()
    time_limit_s = fields.Integer()
    retry_delay_s = fields.Integer()
    max_attempts = fields.Integer()
    validity_s = fields.Integer(allow_none=True)
    question_count = fields.Integer()
    created_at = fields.DateTime()


QualificationPageOut = page_schema(QualificationOut, "QualificationPageOut")


class QuestionIn(Schema):
    data = fields.Dict(required=True)
    answer = fields.Raw(required=True, load_only=True, metadata={"component": "Answer"})
    explanation = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10_000))


class QuestionBatchIn(Schema):
    questions = fields.List(fields.Nested(QuestionIn), required=True, validate=validate.Length(min=1, max=10_000))


class QuestionOut(Schema):
    ref = fields.String(metadata={"description": "position in this attempt; answer in the same order"})
    data = fields.Dict()


class AttemptOut(Schema):
    id = fields.Integer()
    qualification_id = fields.Integer()
    status = fields.String()
    started_at = fields.DateTime()
    deadline = fields.DateTime()
    score = fields.Float(allow_none=True)
    passed = fields.Boolean(allow_none=True)


class StartedAttemptOut(AttemptOut):
    questions = fields.List(fields.Nested(QuestionOut))


class AttemptAnswersIn(Schema):
    answers = fields.List(fields.Raw(), required=True, metadata={"description": "one answer per question, in order"})


class GradedAttemptOut(AttemptOut):
    grant_expires_at = fields.DateTime(allow_none=True)


class AttemptListArgs(PageArgs):
    qualification_id = fields.Integer(load_default=None, validate=id_range())


AttemptListOut = page_schema(AttemptOut, "AttemptListOut")


class GrantIn(Schema):
    annotator_id = fields.Integer(strict=True, required=True, validate=id_range())
    score = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1))
    validity_s = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=60, max=10 * 365 * 86_400))


class GrantOut(Schema):
    id = fields.Integer()
    qualification_id = fields.Integer()
    annotator_id = fields.Integer()
    score = fields.Float()
    expires_at = fields.DateTime(allow_none=True)
    revoked = fields.Boolean()
    source = fields.String()
    created_at = fields.DateTime()


GrantPageOut = page_schema(GrantOut, "GrantPageOut")


class RevokedOut(Schema):
    revoked = fields.Integer()


QualificationListArgs = PageArgs
