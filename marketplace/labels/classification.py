"""Single-label classification: `{"type": "classification", "classes": [...]}`, answer `{"label": c}`."""
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


def class_of(answer: dict) -> str:
    """Return the class an answer chose."""
    return answer["label"]


def agrees(schema: dict, answer: dict, reference: dict) -> bool:
    """Tell whether an answer matches a reference answer (a gold answer, say)."""
    return answer["label"] == reference["label"]

# How to read an answer's class in SQL, for reading a project's answers in bulk.
SQL_CLASS = "answer->>'label'"
