"""Declarative quality rules: a metric, a threshold, the evidence needed, and an action.

    {"metric": "gold_accuracy_lower_bound", "below": 0.6, "min_count": 5, "action": "block",
     "reject_answers": true}
    {"metric": "median_answer_time_s", "below": 3, "min_count": 10, "action": "block"}
    {"metric": "agreement_with_truth", "below": 0.5, "min_count": 20, "action": "downweight", "weight": 0.2}

A rule fires when the metric is strictly below `below` and its evidence (gold answers, answers, or
answers compared with the inferred truth) is at least `min_count`.
"""
from dataclasses import dataclass

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.inputs import StrictBoolean

GOLD_LOWER_BOUND = "gold_accuracy_lower_bound"
MEDIAN_TIME = "median_answer_time_s"
AGREEMENT = "agreement_with_truth"
METRICS = (GOLD_LOWER_BOUND, MEDIAN_TIME, AGREEMENT)

BLOCK = "block"
DOWNWEIGHT = "downweight"
ACTIONS = (BLOCK, DOWNWEIGHT)

# The median answer time is taken over this many most recent answers (bounded work per submission);
# "recent" is by task, which is the order an annotator is handed tasks in, and what an index serves.
MEDIAN_WINDOW = 200


class RuleIn(Schema):
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    below = fields.Float(required=True, validate=validate.Range(min=0))
    min_count = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=1_000_000))
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    reject_answers = StrictBoolean(load_default=False)
    weight = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0, max=1))

    @validates_schema
    def _action_fields(self, data, **kwargs):
        if data["action"] == DOWNWEIGHT and data.get("weight") is None:
            raise ValidationError("a downweight rule needs a weight between 0 and 1", "weight")
        if data["action"] != BLOCK and data.get("reject_answers"):
            raise ValidationError("only a block rule can reject answers", "reject_answers")


@dataclass(frozen=True)
class Firing:
    rule: dict
    value: float

    @property
    def reason(self) -> str:
        """What the annotator is told: the rule, not the value (a value moves with each gold answer)."""
        return f"{self.rule['metric']} below {self.rule['below']}"


def evaluate(rules: list[dict], metrics: dict[str, tuple[float | None, int]]) -> list[Firing]:
    """Return the rules that fire given {metric: (value, evidence)}; a missing value never fires."""
    fired = []
    for rule in rules:
        value, evidence = metrics.get(rule["metric"], (None, 0))
        if value is not None and evidence >= rule["min_count"] and value < rule["below"]:
            fired.append(Firing(rule, value))
    return fired
