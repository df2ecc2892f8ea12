"""Single-label classification: `{"type": "classification", "classes": [...]}`, answer `{"label": c}`."""
import math

from marketplace.labels.errors import LabelError

MAX_CLASSES = 1000
MAX_CLASS_LENGTH = 200


def validate_schema(schema: dict) -> dict:
    """Require two or more distinct, non-empty class names."""
    unknown = set(schema) - {"type", "classes"}
    if unknown:
        raise LabelError(f"unknown field(s): {', '.join(sorted(unknown))}", sorted(unknown)[0])
    classes = schema.get("classes")
    if not isinstance(classes, list):
        raise LabelError("classes must be a list of strings", "classes")
    if len(classes) < 2 or len(classes) > MAX_CLASSES:
        raise LabelError(f"classes must have between 2 and {MAX_CLASSES} entries", "classes")
    for i, name in enumerate(classes):
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_CLASS_LENGTH:
            raise LabelError(f"class {i} must be a non-empty string of at most {MAX_CLASS_LENGTH} characters", "classes")
    if len(set(classes)) != len(classes):
        raise LabelError("classes must be distinct", "classes")
    return {"type": "classification", "classes": list(classes)}


def validate_answer(schema: dict, answer) -> dict:
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


def agrees(schema: dict, answer: dict, reference: dict) -> bool:
    """Tell whether an answer matches a reference answer (a gold answer, say)."""
    return answer["label"] == reference["label"]

# How to read an answer's class in SQL, for reading a project's answers in bulk.
SQL_CLASS = "answer->>'label'"
