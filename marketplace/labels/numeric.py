"""Numbers and ratings: `{"type": "numeric", "min": a, "max": b}` and `{"type": "rating", "min": 1, "max": 5}`.

Answer: `{"value": x}` within [min, max] (whole numbers for a rating, or when `integer` is set).
Aggregation uses the inference engine's trust-weighted median (robust to one wild answer; the
default) or mean (`"aggregation": "mean"`); a rating's result is rounded to a whole step.
Agreement is 1 - |a - b| / (max - min).
"""
from functools import partial

import numpy as np

from marketplace import inference
from marketplace.labels._common import (Aggregate, TaskAnswers, check_fields, flag, gold_threshold, number, per_task,
                                        weighted_agreement)
from marketplace.labels.errors import LabelError

CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.9
EXPORTS: dict = {}
AGGREGATIONS = {"median": inference.weighted_median, "mean": inference.weighted_mean}


def _validate_schema(name: str, schema: dict) -> dict:
    check_fields(schema, {"min", "max", "integer", "aggregation"})
    if "min" not in schema or "max" not in schema:
        raise LabelError("required", "min" if "min" not in schema else "max")
    rating = name == "rating"
    low = number(schema["min"], "min", integer=rating)
    high = number(schema["max"], "max", integer=rating, above=low)
    aggregation = schema.get("aggregation", "median")
    if aggregation not in AGGREGATIONS:
        raise LabelError(f"must be one of {sorted(AGGREGATIONS)}", "aggregation")
    return {"type": name, "min": low, "max": high, "integer": rating or flag(schema, "integer"),
            "aggregation": aggregation, **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD)}


def validate_task_data(schema: dict, data) -> None:
    """Any task data will do."""


def validate_answer(schema: dict, answer, data=None) -> dict:
    """A number within the schema's range (whole when the schema says so)."""
    if not isinstance(answer, dict) or set(answer) != {"value"}:
        raise LabelError('answer must be an object {"value": <number>}')
    value = number(answer["value"], "value", minimum=schema["min"], maximum=schema["max"], integer=schema["integer"])
    return {"value": value}


def result_label(answer: dict) -> dict:
    return {"value": answer["value"]}


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """1 - the distance between the two values as a share of the range."""
    return round(1.0 - abs(float(a["value"]) - float(b["value"])) / (float(schema["max"]) - float(schema["min"])), 6)


def _aggregate_one(name: str, schema: dict, task: TaskAnswers) -> Aggregate:
    """The weighted median (or mean) of the answers; confidence: their weighted mean agreement with it."""
    values = np.array([float(vote.answer["value"]) for vote in task.votes], dtype=np.float64)
    weights = np.array([vote.weight for vote in task.votes], dtype=np.float64)
    value = float(AGGREGATIONS[schema["aggregation"]](np.zeros(values.size, dtype=np.int64), values, weights)[0])
    value = int(round(value)) if schema["integer"] else round(value, 6)
    label = {"value": value}
    return Aggregate(label, weighted_agreement(task.votes, label, lambda a, b: agreement(schema, a, b)),
                     f"weighted_{schema['aggregation']}")


class _Type:
    """`numeric` and `rating` share everything but their name and whole-number rule."""

    CATEGORICAL = CATEGORICAL
    DEFAULT_GOLD_THRESHOLD = DEFAULT_GOLD_THRESHOLD
    EXPORTS = EXPORTS

    def __init__(self, name: str):
        self.NAME = name
        self.__doc__ = __doc__
        self.validate_schema = partial(_validate_schema, name)
        self.aggregate = per_task(partial(_aggregate_one, name))

    validate_task_data = staticmethod(validate_task_data)
    validate_answer = staticmethod(validate_answer)
    result_label = staticmethod(result_label)
    agreement = staticmethod(agreement)


numeric = _Type("numeric")
rating = _Type("rating")
