"""Project schemas. `status`, counters and the owner are read-only: never loaded from a body."""
import copy

from marketplace.inputs import StrictBoolean, id_range, int_range
from marshmallow import Schema, fields, missing, validate

from marketplace.ledger.models import CURRENCIES
from marketplace.pagination import PageArgs, page_schema
from marketplace.projects.models import STATUSES
from marketplace.quality.rules import RuleIn
from marketplace.teams.schemas import WorkforceIn



class QualificationNeed(Schema):
    id = fields.Integer(strict=True, required=True, validate=id_range())
    min_score = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=1))


class RequirementsIn(Schema):
    qualifications = fields.List(fields.Nested(QualificationNeed), load_default=list)
    min_trust = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1),
                             metadata={"description": "minimum global reputation (recency-weighted gold accuracy)"})
    skills = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=list)


class ProjectIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=10_000))
    instructions = fields.String(load_default="", validate=validate.Length(max=100_000))
    label_schema = fields.Dict(
        required=True,
        metadata={"example": {"type": "classification", "classes": ["cat", "dog"]}},
    )
    reward_cents = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=100_000))
    currency = fields.String(load_default="usd", validate=validate.OneOf(CURRENCIES))
    answers_per_task = fields.Integer(strict=True, load_default=3, validate=validate.Range(min=1, max=100))
    assignment_duration_s = fields.Integer(strict=True, load_default=600, validate=validate.Range(min=10, max=7 * 24 * 3600))
    max_leases_per_annotator = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=100))
    max_answers_per_annotator = fields.Integer(strict=True, load_default=None, allow_none=True,
                                               validate=int_range(1))
    min_answers = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1, max=100))
    max_answers = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=1, max=100))
    target_confidence = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0.5, max=0.9999),
                                     metadata={"description": "set to let the redundancy policy decide how many answers "
                                                              "each task needs, between min_answers and max_answers"})
    active_ordering = StrictBoolean(load_default=False, metadata={"description": "lease the most uncertain tasks first"})
    show_prelabels = StrictBoolean(load_default=False, metadata={"description": "show annotators the model's label"})
    model_as_annotator = StrictBoolean(load_default=False, metadata={
        "description": "the model votes in Dawid-Skene as a virtual annotator with a learned confusion matrix"})
    review_enabled = StrictBoolean(load_default=False, metadata={
        "description": "escalated tasks wait for a reviewer (review_qualification_id or review_min_trust)"})
    review_qualification_id = fields.Integer(strict=True, load_default=None, allow_none=True, validate=id_range())
    review_min_trust = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1))
    budget_cents = fields.Integer(strict=True, load_default=None, allow_none=True, validate=int_range(1),
                                  metadata={"description": "cap on answers x reward; the redundancy policy stays under it"})
    auto_approve_after_s = fields.Integer(strict=True, load_default=259_200,
                                          validate=validate.Range(min=60, max=30 * 86_400),
                                          metadata={"description": "answers not approved or rejected by then are "
                                                                   "approved automatically"})
    aggregation = fields.String(load_default="ds", validate=validate.OneOf(("ds", "mv")),
                                metadata={"description": "ds: Dawid-Skene (default); mv: (weighted) majority vote"})
    gold_rate = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=0.5),
                             metadata={"description": "share of leases that are gold tasks (honeypots)"})
    gold_feedback = StrictBoolean(load_default=False,
                                   metadata={"description": "tell an annotator at once when they miss a gold task"})
    requirements = fields.Nested(RequirementsIn, load_default=dict)
    quality_rules = fields.List(fields.Nested(RuleIn), load_default=list, validate=validate.Length(max=20))
    workforce = fields.Nested(WorkforceIn, load_default=None, metadata={
        "description": "who may work: the crowd (default), teams, or teams first and the crowd after N hours"})


def _optional(schema: type[Schema], name: str) -> type[Schema]:
    """Copy a schema with every field optional and no defaults: only what is sent changes."""
    declared = {}
    for field_name, field in schema._declared_fields.items():
        clone = copy.copy(field)
        clone.required = False
        clone.load_default = missing
        declared[field_name] = clone
    return Schema.from_dict(declared, name=name)


ProjectPatch = _optional(ProjectIn, "ProjectPatch")


class ProjectOut(Schema):
    id = fields.Integer()
    requester_id = fields.Integer()
    name = fields.String()
    description = fields.String()
    instructions = fields.String()
    label_schema = fields.Dict()
    reward_cents = fields.Integer()
    currency = fields.String()
    answers_per_task = fields.Integer()
    assignment_duration_s = fields.Integer()
    max_leases_per_annotator = fields.Integer()
    max_answers_per_annotator = fields.Integer(allow_none=True)
    min_answers = fields.Integer(allow_none=True)
    max_answers = fields.Integer(allow_none=True)
    target_confidence = fields.Float(allow_none=True)
    aggregation = fields.String()
    budget_cents = fields.Integer(allow_none=True)
    fee_bps = fields.Integer(metadata={"description": "platform fee on each answer and bonus, in basis points"})
    auto_approve_after_s = fields.Integer()
    escrow = fields.Method("_escrow", metadata={
        "description": "escrow_cents, escrow_held_cents (reserved by live leases and unapproved answers' fees), "
                       "escrow_free_cents, answer_cost_cents (reward + fee)"})
    active_ordering = fields.Boolean()
    show_prelabels = fields.Boolean()
    model_as_annotator = fields.Boolean()
    review_enabled = fields.Boolean()
    review_qualification_id = fields.Integer(allow_none=True)
    review_min_trust = fields.Float(allow_none=True)
    gold_rate = fields.Float()
    gold_feedback = fields.Boolean()
    requirements = fields.Dict()
    quality_rules = fields.List(fields.Dict())
    workforce = fields.Dict()
    gold_count = fields.Integer()
    status = fields.String()
    guideline_version = fields.Integer()
    task_count = fields.Integer()
    closed_task_count = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    published_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)


    def _escrow(self, project):
        # Filled in by the route for a whole page at once (escrow.states); an annotator's view has none.
        return None if isinstance(project, dict) else getattr(project, "escrow_state", None)


# What an annotator sees of a listing: the work, its pay and its terms, not the owner's progress.
LISTING_FIELDS = (
    "id", "name", "description", "instructions", "label_schema", "reward_cents", "currency",
    "assignment_duration_s", "max_leases_per_annotator", "max_answers_per_annotator", "requirements", "status",
    "guideline_version",
)
# The rest is the owner's (the requester's and admins'): an annotator's view leaves it out, so the spec
# says it is sent only sometimes (marketplace/openapi.py: every other output field is always sent).
for _name in ProjectOut._declared_fields.keys() - set(LISTING_FIELDS):
    ProjectOut._declared_fields[_name].metadata["optional"] = True


class ProjectListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


ProjectPageOut = page_schema(ProjectOut, "ProjectPageOut")


class GuidelineIn(Schema):
    instructions = fields.String(required=True, validate=validate.Length(min=1, max=100_000))
    major = StrictBoolean(load_default=False)
    requalify = StrictBoolean(load_default=False, metadata={
        "description": "major only: grants of the project's required qualifications from before now stop counting"})
    reopen_answered = StrictBoolean(load_default=False, metadata={
        "description": "major only: answers under older versions are superseded and their tasks reopened"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class GuidelineOut(Schema):
    version = fields.Integer()
    major = fields.Boolean()
    instructions = fields.String()
    note = fields.String()
    requalify = fields.Boolean()
    tasks_reopened = fields.Integer()
    created_at = fields.DateTime()


GuidelineListOut = page_schema(GuidelineOut, "GuidelineListOut")
