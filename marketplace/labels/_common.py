"""What every label type shares: checked schema fields, the answers a task aggregates, one result.

A type module validates with these helpers so every 422 names the failing field the same way, and
aggregates into `Aggregate`s so the app stores every type's result alike.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from marketplace.labels.errors import LabelError

MAX_CLASSES = 1000
# Larger magnitudes are refused: beyond 2**53 a JSON integer is no longer exact as a float, and
# no image, text offset, clip or rating scale needs them.
MAX_MAGNITUDE = 1e15
MAX_CLASS_LENGTH = 200
# Common to every schema: the agreement with a gold answer that counts as right (gold tasks and
# qualification questions). Classification agreement is 0 or 1, so any threshold means "same class".
GOLD_THRESHOLD = "gold_threshold"


@dataclass(frozen=True)
class Vote:
    """One annotator's answer on a task and the weight their trust gives it."""

    annotator_id: int
    answer: dict
    weight: float


@dataclass(frozen=True)
class TaskAnswers:
    """A task's data (image size, text, clip duration...) and the answers it received."""

    task_id: int
    data: dict
    votes: Sequence[Vote]


@dataclass(frozen=True)
class Aggregate:
    """A task's result: what it stores as label, how sure it is, how it was found."""

    label: object
    confidence: float
    method: str
    tie: bool = False
    posterior: list | None = None


def check_fields(schema: dict, allowed: set[str]) -> None:
    """Refuse fields the type does not know (a typo must not silently fall back to a default)."""
    unknown = set(schema) - allowed - {"type", GOLD_THRESHOLD}
    if unknown:
        raise LabelError(f"unknown field(s): {', '.join(sorted(unknown))}", sorted(unknown)[0])


def check_classes(schema: dict, field: str = "classes", minimum: int = 2) -> list[str]:
    """Require `minimum` or more distinct, non-empty names."""
    classes = schema.get(field)
    if not isinstance(classes, list):
        raise LabelError(f"{field} must be a list of strings", field)
    if len(classes) < minimum or len(classes) > MAX_CLASSES:
        raise LabelError(f"{field} must have between {minimum} and {MAX_CLASSES} entries", field)
    for i, name in enumerate(classes):
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_CLASS_LENGTH:
            raise LabelError(f"entry {i} must be a non-empty string of at most {MAX_CLASS_LENGTH} characters", field)
    if len(set(classes)) != len(classes):
        raise LabelError(f"{field} must be distinct", field)
    return list(classes)


def number(value, *path: str, minimum: float | None = None, maximum: float | None = None,
           integer: bool = False, above: float | None = None) -> float | int:
    """A finite JSON number (never a bool) within the bounds, or a LabelError naming the field."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LabelError(f"must be {kind}", *path)
    if isinstance(value, float) and not math.isfinite(value):
        raise LabelError("must be a finite number", *path)
    if abs(value) > MAX_MAGNITUDE:
        raise LabelError(f"must be between {-MAX_MAGNITUDE:g} and {MAX_MAGNITUDE:g}", *path)
    if integer and not float(value).is_integer():
        raise LabelError(f"must be {kind}", *path)
    if minimum is not None and value < minimum:
        raise LabelError(f"must be at least {minimum}", *path)
    if maximum is not None and value > maximum:
        raise LabelError(f"must be at most {maximum}", *path)
    if above is not None and value <= above:
        raise LabelError(f"must be greater than {above}", *path)
    return int(value) if integer else float(value)


def option(schema: dict, field: str, default, **bounds):
    """A numeric schema option with its default."""
    if field not in schema:
        return default
    return number(schema[field], field, **bounds)


def min_support(schema: dict) -> dict:
    """The share of the task's trust weight an object needs to be in the result: more than this (default 0.5, a majority)."""
    return {"min_support": option(schema, "min_support", 0.5, minimum=0.0, maximum=0.99)}


def supported(share, schema: dict):
    """Whether a share of the weight (a float or an array) is more than the schema's min_support.

    Strictly more: with two equal annotators, what only one drew is not kept (the union of two
    disagreeing answers is not a result either would sign).
    """
    return share > schema.get("min_support", 0.5) + 1e-9


def flag(schema: dict, field: str, default: bool = False) -> bool:
    value = schema.get(field, default)
    if not isinstance(value, bool):
        raise LabelError("must be true or false", field)
    return value


def gold_threshold(schema: dict, default: float) -> dict:
    """The schema's gold threshold, normalised (present only when the requester set one)."""
    if GOLD_THRESHOLD not in schema:
        return {}
    return {GOLD_THRESHOLD: number(schema[GOLD_THRESHOLD], GOLD_THRESHOLD, minimum=0.0, maximum=1.0, above=0.0)}


def answer_object(answer, key: str, example: str) -> list:
    """The list under the answer's only key, e.g. `{"boxes": [...]}`."""
    if not isinstance(answer, dict) or set(answer) != {key}:
        raise LabelError(f"answer must be an object {example}")
    items = answer[key]
    if not isinstance(items, list):
        raise LabelError("must be a list", key)
    return items


def item_fields(item, required: set[str], optional: set[str], *path: str) -> dict:
    """An answer item must be an object with exactly these fields."""
    if not isinstance(item, dict):
        raise LabelError("must be an object", *path)
    missing = required - set(item)
    if missing:
        raise LabelError(f"missing field(s): {', '.join(sorted(missing))}", *path, sorted(missing)[0])
    unknown = set(item) - required - optional
    if unknown:
        raise LabelError(f"unknown field(s): {', '.join(sorted(unknown))}", *path, sorted(unknown)[0])
    return item


def class_name(value, classes: list[str], *path: str) -> str:
    if value not in classes:
        raise LabelError("is not one of the project's classes", *path)
    return value


def data_field(data, field: str, **bounds):
    """A number the task's data must carry (an image's width, a clip's duration...)."""
    if not isinstance(data, dict) or field not in data:
        raise LabelError(f"the task's data must include {field}", "data", field)
    return number(data[field], "data", field, **bounds)


def weighted_agreement(votes: Sequence[Vote], result, agree: Callable[[dict, object], float]) -> float:
    """How much the answers agree with a result: the trust-weighted mean of the type's agreement.

    The confidence every non-categorical type reports: 1 when every answer matches the result,
    falling as the crowd (weighted by trust) disagrees with it.
    """
    total = sum(v.weight for v in votes)
    if total <= 0:
        return 0.0
    return round(float(sum(v.weight * agree(v.answer, result) for v in votes) / total), 6)


def per_task(aggregate_one: Callable[[dict, TaskAnswers], Aggregate | None]):
    """Lift a one-task aggregation to the registry's many-task signature."""
    def aggregate(schema: dict, tasks: Sequence[TaskAnswers]) -> list[Aggregate | None]:
        return [aggregate_one(schema, task) if task.votes else None for task in tasks]
    aggregate.__doc__ = aggregate_one.__doc__
    return aggregate


def counted(items: list, schema: dict, key: str, default_max: int) -> None:
    """Answer item counts within the schema's min_<key> / max_<key>."""
    low, high = schema.get(f"min_{key}", 0), schema.get(f"max_{key}", default_max)
    if not low <= len(items) <= high:
        raise LabelError(f"must hold between {low} and {high} entries", key)


def count_bounds(schema: dict, key: str, default_max: int) -> dict:
    """Validated `min_<key>` / `max_<key>` options of a schema (only those given)."""
    out = {}
    for bound in (f"min_{key}", f"max_{key}"):
        if bound in schema:
            out[bound] = number(schema[bound], bound, minimum=0, maximum=default_max, integer=True)
    if out.get(f"min_{key}", 0) > out.get(f"max_{key}", default_max):
        raise LabelError(f"must not exceed max_{key}", f"min_{key}")
    return out
