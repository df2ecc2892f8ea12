"""Review schemas (reviewer-facing: tasks under opaque refs, answers as anonymous label counts)."""
from marshmallow import Schema, fields, validate

from marketplace.pagination import page_schema

from marketplace import pseudonyms


class CandidateOut(Schema):
    label = fields.Raw()
    count = fields.Integer()


class ReviewOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    task_ref = fields.Method("_task_ref")
    status = fields.String()
    leased_at = fields.DateTime()
    expires_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    label = fields.Raw(allow_none=True)
    note = fields.String(allow_none=True)

    def _task_ref(self, review):
        return pseudonyms.task_ref(review.task_id, review.reviewer_id)


class LeasedReviewOut(ReviewOut):
    task = fields.Dict(metadata={"description": "ref and data of the task under review"})
    candidates = fields.List(fields.Nested(CandidateOut))


ReviewListOut = page_schema(ReviewOut, "ReviewListOut")


class DecisionIn(Schema):
    answer = fields.Raw(required=True, metadata={"example": {"label": "cat"}, "component": "Answer"})


class ReworkIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=3, max=2000))
