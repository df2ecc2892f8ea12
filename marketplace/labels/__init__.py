"""Label types: how a project's label schema and an annotator's answer are validated.

One registry keyed by the schema's `type`; each type is a module providing `validate_schema`
and `validate_answer`. Single-label classification is the first.
"""
from marketplace.labels import classification
from marketplace.labels.errors import LabelError

TYPES = {"classification": classification}

__all__ = ["LabelError", "agrees", "label_type", "validate_answer", "validate_prediction", "validate_schema"]


def label_type(schema: dict):
    """Return the module implementing a schema's label type."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind not in TYPES:
        raise LabelError(f"type must be one of {sorted(TYPES)}", "type")
    return TYPES[kind]


def validate_schema(schema: dict) -> dict:
    """Check a project's label schema and return its normalised form."""
    if not isinstance(schema, dict):
        raise LabelError("label_schema must be an object")
    return label_type(schema).validate_schema(schema)


def validate_answer(schema: dict, answer) -> dict:
    """Check an answer against the project's label schema and return its normalised form."""
    return label_type(schema).validate_answer(schema, answer)


def agrees(schema: dict, answer: dict, reference: dict) -> bool:
    """Tell whether an answer matches a reference answer under the schema's label type."""
    return label_type(schema).agrees(schema, answer, reference)


def validate_prediction(schema: dict, prediction) -> list[float]:
    """Check a model's prediction for the schema; return probabilities in class order."""
    return label_type(schema).validate_prediction(schema, prediction)
