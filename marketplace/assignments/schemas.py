"""Assignment schemas, annotator-facing: the same fields for every task, gold or not.

Tasks appear under a per-annotator opaque `ref`, never their database id, so no id sequence can
single out a gold task imported in a batch of its own.
"""
from marketplace.inputs import id_range
from marshmallow import Schema, fields, validate

from marketplace import pseudonyms
from marketplace.fastdump import CompiledDump
from marketplace.assignments.models import STATUSES, payment_status
from marketplace.pagination import PageArgs, page_schema


class LeaseOut(CompiledDump):
    id = fields.Integer(attribute="assignment_id")
    status = fields.Constant("leased")
    project_id = fields.Integer()
    task = fields.Method("_task", metadata={"component": "LeasedTask"})
    leased_at = fields.DateTime()
    expires_at = fields.DateTime()
    guideline_version = fields.Integer(metadata={"description": "the version of the instructions this lease is under"})
    reward_cents = fields.Integer(metadata={
        "description": "what the answer pays: the project's reward, or your team's or the experiment arm's"})

    def _task(self, lease):
        return {"ref": pseudonyms.task_ref(lease.task_id, lease.annotator_id), "data": lease.task_data,
                "note": lease.note, "prelabel": lease.prelabel}


class AnswerIn(Schema):
    answer = fields.Raw(required=True, metadata={"example": {"label": "cat"}, "description": "validated against the project's label schema",
                                                  "component": "Answer"})


class FeedbackOut(Schema):
    correct = fields.Boolean()
    expected = fields.Raw()
    explanation = fields.String(allow_none=True)


class SkipIn(Schema):
    reason = fields.String(load_default="", validate=validate.Length(max=500),
                           metadata={"description": "why (unclear, broken item, outside my expertise...)",
                                     "example": "the image does not load"})


class AssignmentOut(CompiledDump):
    id = fields.Integer()
    project_id = fields.Integer()
    task_ref = fields.Method("_task_ref")
    status = fields.String()
    leased_at = fields.DateTime()
    expires_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    answer = fields.Raw(allow_none=True, metadata={"component": "Answer"})
    duration_ms = fields.Integer(allow_none=True)
    guideline_version = fields.Integer()
    payment_status = fields.Method("_payment_status", metadata={
        "description": "pending (awaiting approval), approved (reward payable) or rejected"})
    rejection_category = fields.Method("_rejection_category")
    rejection_reason = fields.Method("_rejection_reason")
    rejected_at = fields.Method("_rejected_at")

    def _task_ref(self, assignment):
        return pseudonyms.task_ref(assignment.task_id, assignment.annotator_id)

    def _payment_status(self, assignment):
        if not hasattr(assignment, "approved_at"):  # a submission just made
            return "pending"
        return payment_status(assignment)

    def _rejection_category(self, assignment):
        return getattr(assignment, "rejection_category", None)

    def _rejection_reason(self, assignment):
        return getattr(assignment, "rejection_reason", None)

    def _rejected_at(self, assignment):
        value = getattr(assignment, "rejected_at", None)
        return value.isoformat() if value else None


class SubmissionOut(AssignmentOut):
    feedback = fields.Nested(FeedbackOut, allow_none=True, metadata={
        "description": "set only on projects that give feedback, when the answer missed a known answer"})


class AssignmentListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    project_id = fields.Integer(load_default=None, validate=id_range())


AssignmentPageOut = page_schema(AssignmentOut, "AssignmentPageOut")

