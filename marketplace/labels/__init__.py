"""Label types: one registry keyed by the schema's `type`, one module per type.

A type module provides (see `classification` for the smallest one):
- `NAME`, `CATEGORICAL` (True only where the app's Dawid-Skene machinery applies: adaptive
  redundancy, recompute over classes, model pre-labels), `DEFAULT_GOLD_THRESHOLD`;
- `validate_schema(schema)`, `validate_task_data(schema, data)` and
  `validate_answer(schema, answer, data)`: the server's checks, raising `LabelError` naming the field;
- `agreement(schema, a, b, data)`: how alike two answers are, from 0 to 1;
- `aggregate(schema, tasks)`: a trust-weighted result with a confidence per task (`TaskAnswers` in,
  `Aggregate` out), and `result_label(answer)`: what a result stores for one answer (a gold answer,
  a reviewer's decision);
- `EXPORTS`: format name -> writer (see `exports`); JSONL and CSV work for every type;
- optionally `RECOMPUTE_BATCH`: how many tasks the recompute aggregates together (multi_label fits
  each class over the whole project at once).

Adding a type means adding its module and a line in `TYPES`.
"""
from marketplace.labels import (audio_segments, bbox, classification, multi_label, numeric, polygon, spans,
                                transcription)
from marketplace.labels._common import GOLD_THRESHOLD, Aggregate, TaskAnswers, Vote
from marketplace.labels.errors import LabelError

TYPES = {module.NAME: module for module in (
    classification, multi_label, bbox, polygon, spans, transcription, audio_segments, numeric.numeric, numeric.rating)}
GENERIC_EXPORTS = ("jsonl", "csv")

__all__ = ["Aggregate", "LabelError", "TYPES", "TaskAnswers", "Vote", "aggregate", "agreement", "agrees",
           "export_formats", "is_categorical", "label_type", "result_label", "validate_answer", "validate_prediction",
           "validate_schema", "validate_task_data"]


def label_type(schema: dict):
    """Return the module implementing a schema's label type."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind not in TYPES:
        raise LabelError(f"type must be one of {sorted(TYPES)}", "type")
    return TYPES[kind]


def is_categorical(schema: dict) -> bool:
    """True for single-label classification, where answers are classes Dawid-Skene can model."""
    return label_type(schema).CATEGORICAL


def validate_schema(schema: dict) -> dict:
    """Check a project's label schema and return its normalised form."""
    if not isinstance(schema, dict):
        raise LabelError("label_schema must be an object")
    return label_type(schema).validate_schema(schema)


def validate_task_data(schema: dict, data) -> None:
    """Check that a task's data carries what its answers refer to (image size, text, clip duration)."""
    label_type(schema).validate_task_data(schema, data)


def validate_answer(schema: dict, answer, data=None) -> dict:
    """Check an answer against the project's label schema and the task's data; return its normalised form."""
    return label_type(schema).validate_answer(schema, answer, data)


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """How alike two (valid) answers are under the type's measure, from 0 to 1."""
    return label_type(schema).agreement(schema, a, b, data)


def agrees(schema: dict, answer: dict, reference: dict, data=None) -> bool:
    """Tell whether an answer matches a reference (gold) answer: agreement at least the schema's threshold."""
    kind = label_type(schema)
    threshold = schema.get(GOLD_THRESHOLD, kind.DEFAULT_GOLD_THRESHOLD)
    return kind.agreement(schema, answer, reference, data) >= threshold - 1e-9


def aggregate(schema: dict, tasks: list[TaskAnswers]) -> list[Aggregate | None]:
    """One result per task (None for a task without answers), weighted by the answers' trust."""
    return label_type(schema).aggregate(schema, tasks)


def result_label(schema: dict, answer: dict):
    """What a result stores for one answer (the class for classification, the answer itself otherwise)."""
    return label_type(schema).result_label(answer)


def export_formats(schema: dict) -> tuple[str, ...]:
    """The export formats a project of this schema offers."""
    return GENERIC_EXPORTS + tuple(label_type(schema).EXPORTS)


def validate_prediction(schema: dict, prediction) -> list[float]:
    """Check a model's prediction for the schema; return probabilities in class order (classification only)."""
    kind = label_type(schema)
    if not hasattr(kind, "validate_prediction"):
        raise LabelError(f"model pre-labels are supported for classification projects, not {kind.NAME}")
    return kind.validate_prediction(schema, prediction)
