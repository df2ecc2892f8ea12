"""Experiment schemas: arms say only what differs from the project; ids, status and figures are read-only."""
from marshmallow import Schema, fields, validate

from marketplace.experiments.models import ANNOTATOR_UNIT, UNITS
from marketplace.inputs import id_range
from marketplace.pagination import PageArgs, page_schema


class ArmIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    weight = fields.Float(load_default=1.0, validate=validate.Range(min=0.01, max=100),
                          metadata={"description": "share of annotators (or tasks), relative to the other arms"})
    guideline_version = fields.Integer(strict=True, load_default=None, allow_none=True, validate=id_range())
    reward_cents = fields.Integer(strict=True, load_default=None, allow_none=True,
                                  validate=validate.Range(min=1, max=100_000))
    qualification_id = fields.Integer(strict=True, load_default=None, allow_none=True, validate=id_range(),
                                      metadata={"description": "unit=annotator: this arm's annotators must hold it"})
    answers_per_task = fields.Integer(strict=True, load_default=None, allow_none=True,
                                      validate=validate.Range(min=1, max=100),
                                      metadata={"description": "unit=task, fixed redundancy: answers each task asks"})


class ExperimentIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    unit = fields.String(load_default=ANNOTATOR_UNIT, validate=validate.OneOf(UNITS), metadata={
        "description": "annotator: each annotator stays in one arm; task: each task is in one arm"})
    arms = fields.List(fields.Nested(ArmIn), required=True, validate=validate.Length(min=2, max=6))


class ComparisonOut(Schema):
    arm = fields.String()
    versus = fields.String()
    difference = fields.Float(allow_none=True)
    interval = fields.List(fields.Float(), allow_none=True)
    p_value = fields.Float()
    adjusted_p_value = fields.Float()
    significant = fields.Boolean()


class VerdictOut(Schema):
    status = fields.String(metadata={"description": "collecting, no_difference or winner"})
    winner = fields.String(allow_none=True)
    message = fields.String()
    alpha = fields.Float()
    comparisons = fields.List(fields.Nested(ComparisonOut))


class ArmOut(Schema):
    id = fields.Integer()
    name = fields.String()
    weight = fields.Float()
    guideline_version = fields.Integer(allow_none=True)
    reward_cents = fields.Integer(allow_none=True)
    qualification_id = fields.Integer(allow_none=True)
    answers_per_task_setting = fields.Integer(allow_none=True)
    annotators = fields.Integer()
    answers = fields.Integer(metadata={"description": "ordinary (not gold) answers"})
    gold_seen = fields.Integer()
    gold_correct = fields.Integer()
    gold_accuracy = fields.Float(allow_none=True)
    gold_accuracy_interval = fields.List(fields.Float(), allow_none=True, metadata={"description": "Wilson, 95%"})
    agreement = fields.Float(allow_none=True, metadata={"description": "share of answers agreeing with the result"})
    answers_per_task = fields.Float(allow_none=True)
    accepted_answers = fields.Integer(metadata={"description": "approved or awaiting approval (not rejected)"})
    cost_cents = fields.Integer(metadata={"description": "rewards and fees of the accepted answers"})
    cost_per_accepted_label_cents = fields.Float(allow_none=True)
    answers_per_hour = fields.Float()


class ExperimentOut(Schema):
    id = fields.Integer()
    project_id = fields.Integer()
    name = fields.String()
    unit = fields.String()
    status = fields.String()
    started_at = fields.DateTime()
    stopped_at = fields.DateTime(allow_none=True)
    arms = fields.List(fields.Nested(ArmOut))
    verdict = fields.Nested(VerdictOut, allow_none=True)


ExperimentPageOut = page_schema(ExperimentOut, "ExperimentPageOut")


class ExperimentListArgs(PageArgs):
    pass
