"""Trust, quality statistics and admin action schemas."""
from marketplace.inputs import id_range
from marshmallow import Schema, fields, validate

from marketplace.pagination import PageArgs, page_schema


class GoldOut(Schema):
    seen = fields.Integer()
    correct = fields.Integer()
    mean = fields.Float(metadata={"description": "Beta posterior mean of gold accuracy"})
    lower_bound = fields.Float(metadata={"description": "5% lower credible bound"})


class TrustRowOut(Schema):
    answers = fields.Integer()
    mean_answer_time_s = fields.Float(allow_none=True)
    gold = fields.Nested(GoldOut)
    ds_accuracy = fields.Float(allow_none=True)
    confusion = fields.Raw(allow_none=True)
    agreement_with_truth = fields.Float(allow_none=True)
    approval_rate = fields.Float(allow_none=True)
    weight = fields.Float()
    blocked = fields.Boolean()
    blocked_reason = fields.String(allow_none=True)


class ProjectTrustOut(TrustRowOut):
    project_id = fields.Integer()


class AnnotatorStatsOut(TrustRowOut):
    annotator = fields.String(metadata={"description": "pseudonym, stable within the project"})


AnnotatorStatsListOut = page_schema(AnnotatorStatsOut, "AnnotatorStatsListOut")


class ReputationOut(Schema):
    mean = fields.Float()
    lower_bound = fields.Float()
    evidence = fields.Float(metadata={"description": "recency-weighted number of gold answers"})


class ActionOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer(allow_none=True)
    action = fields.String()
    reason = fields.String()
    rule = fields.Dict(allow_none=True)
    # No metric value: a gold bound's value tells how many gold tasks the annotator has seen.
    created_at = fields.DateTime()


class MyTrustOut(Schema):
    reputation = fields.Nested(ReputationOut)
    projects = fields.List(fields.Nested(ProjectTrustOut))
    actions = fields.List(fields.Nested(ActionOut))


class MissedGoldOut(Schema):
    assignment_id = fields.Integer()
    project_id = fields.Integer()
    task_ref = fields.String()
    data = fields.Dict()
    your_answer = fields.Raw(metadata={"component": "Answer"})
    expected = fields.Raw(metadata={"component": "Answer"})
    explanation = fields.String(allow_none=True)
    submitted_at = fields.DateTime()


MissedGoldListOut = page_schema(MissedGoldOut, "MissedGoldListOut")


class MissedGoldArgs(PageArgs):
    project_id = fields.Integer(load_default=None, validate=id_range())


class ProjectStatsOut(Schema):
    tasks = fields.Integer()
    closed_tasks = fields.Integer()
    gold_tasks = fields.Integer()
    annotators = fields.Integer()
    agreement = fields.Dict(metadata={"description": "krippendorff_alpha, fleiss_kappa, percent_agreement (classification); "
                                                    "mean_pairwise_agreement under the label type's own measure (every type)"})
    gold_accuracy = fields.Dict(metadata={"description": "distribution of annotators' gold accuracy"})
    blocked_annotators = fields.List(fields.Dict())
    annotators_out_of_gold = fields.Integer(metadata={"description": "annotators who have seen every gold task"})


class ReasonIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class AccountStatusOut(Schema):
    id = fields.Integer()
    role = fields.String()
    status = fields.String()


class SkillIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))


class SkillOut(Schema):
    name = fields.String()
    verified_at = fields.DateTime()


SkillListOut = page_schema(SkillOut, "SkillListOut")
