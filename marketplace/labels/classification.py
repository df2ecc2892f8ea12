"""Single-label classification: `{"type": "classification", "classes": [...]}`, answer `{"label": c}`.

The one categorical type: the app's Dawid-Skene machinery (adaptive redundancy, recompute, model
pre-labels) works on its classes. `aggregate` here is the trust-weighted vote other callers use.
"""
import math

from marketplace.labels._common import (Aggregate, TaskAnswers, check_classes, check_fields, gold_threshold,
                                        per_task)
from marketplace.labels.errors import LabelError

NAME = "classification"
CATEGORICAL = True
DEFAULT_GOLD_THRESHOLD = 1.0
EXPORTS: dict = {}


def validate_schema(schema: dict) -> dict:
    """Require two or more distinct, non-empty class names."""
    check_fields(schema, {"classes"})
    return {"type": NAME, "classes": check_classes(schema), **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD)}


def validate_task_data(schema: dict, data) -> None:
    """Any task data will do: the annotator reads it, the label does not refer into it."""


def validate_answer(schema: dict, answer, data=None) -> dict:
    """Require `{"label": <one of the project's classes>}`."""
    if not isinstance(answer, dict) or set(answer) != {"label"}:
        raise LabelError('answer must be an object {"label": <class>}')
    if answer["label"] not in schema["classes"]:
        raise LabelError("label is not one of the project's classes", "label")
    return {"label": answer["label"]}


def validate_prediction(schema: dict, prediction) -> list[float]:
    """Check a model's `{class: probability}` and return the probabilities in class order, summing to 1."""
    if not isinstance(prediction, dict) or not prediction:
        raise LabelError("prediction must be an object {class: probability}")
    unknown = set(prediction) - set(schema["classes"])
    if unknown:
        raise LabelError(f"not a class of the project: {sorted(unknown)[0]}", sorted(unknown)[0])
    values = [prediction.get(name, 0.0) for name in schema["classes"]]
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0 for v in values) \
            or sum(values) <= 0:
        raise LabelError("probabilities must be non-negative numbers, not all zero")
    total = float(sum(values))
    return [round(v / total, 6) for v in values]


def class_of(answer: dict) -> str:
    """Return the class an answer chose."""
    return answer["label"]


def result_label(answer: dict) -> str:
    """What a result stores for this answer: the class name."""
    return answer["label"]


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """1 when both chose the same class, else 0."""
    return float(a["label"] == b["label"])


def _aggregate_one(schema: dict, task: TaskAnswers) -> Aggregate:
    """The class with the largest total trust weight; ties go to the class listed first."""
    totals = dict.fromkeys(schema["classes"], 0.0)
    for vote in task.votes:
        totals[vote.answer["label"]] += vote.weight
    weight = sum(totals.values())
    best = max(totals.values())
    winners = [name for name, total in totals.items() if total == best]
    posterior = [round(total / weight, 6) if weight else 1.0 / len(totals) for total in totals.values()]
    return Aggregate(winners[0], max(posterior), "weighted_vote", len(winners) > 1, posterior)


aggregate = per_task(_aggregate_one)

# How to read an answer's class in SQL, for reading a project's answers in bulk.
SQL_CLASS = "answer->>'label'"
