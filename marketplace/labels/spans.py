"""Named-entity spans: `{"type": "spans", "classes": [...]}` over the task's text.

Task data: `{"text": "..."}`. Answer: `{"spans": [{"start": s, "end": e, "label": <class>}, ...]}`
with character offsets into the text exactly as given (Python string indices: Unicode code points,
end exclusive). A span may carry `"text"`, which must equal the text at its offsets: it catches
clients that count in UTF-16 units or on a trimmed copy. Aggregation keeps each exact span whose
annotators hold more than `min_support` of the task's trust weight.
"""
from marketplace.labels import text_exports
from marketplace.labels._common import (Aggregate, TaskAnswers, answer_object, check_classes, check_fields,
                                        class_name, count_bounds, counted, flag, gold_threshold, item_fields, number,
                                        min_support, per_task, supported, weighted_agreement)
from marketplace.labels.errors import LabelError

NAME = "spans"
CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.5
MAX_SPANS = 1000
MAX_TEXT = 100_000
METHOD = "span_vote"
EXPORTS = {"conll": text_exports.conll, "spacy": text_exports.spacy_docbin, "spacy-jsonl": text_exports.spacy_jsonl}


def validate_schema(schema: dict) -> dict:
    """Classes; allow_overlap (default false); optional min_spans / max_spans; min_support (default 0.5)."""
    check_fields(schema, {"classes", "allow_overlap", "min_spans", "max_spans", "min_support"})
    classes = check_classes(schema, minimum=1)
    for i, name in enumerate(classes):
        if any(ch.isspace() for ch in name):  # a CoNLL tag is one whitespace-free column
            raise LabelError(f"entry {i} must not contain whitespace (use PER, B_LOC, ...)", "classes")
    return {
        "type": NAME, "classes": classes, "allow_overlap": flag(schema, "allow_overlap"),
        **count_bounds(schema, "spans", MAX_SPANS), **min_support(schema),
        **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD),
    }


def text_of(data) -> str:
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        raise LabelError("the task's data must include text (a string)", "data", "text")
    if len(data["text"]) > MAX_TEXT:
        raise LabelError(f"must be at most {MAX_TEXT} characters", "data", "text")
    return data["text"]


def validate_task_data(schema: dict, data) -> None:
    """The text the spans point into."""
    text_of(data)


def validate_answer(schema: dict, answer, data=None) -> dict:
    """Spans inside the text, start < end, of the schema's classes, not overlapping unless allowed."""
    spans = answer_object(answer, "spans", '{"spans": [{"start", "end", "label"}, ...]}')
    counted(spans, schema, "spans", MAX_SPANS)
    text = text_of(data)
    clean = []
    for i, span in enumerate(spans):
        path = ("spans", str(i))
        item_fields(span, {"start", "end", "label"}, {"text"}, *path)
        start = number(span["start"], *path, "start", minimum=0, integer=True)
        end = number(span["end"], *path, "end", integer=True)
        if end > len(text):
            raise LabelError(f"is past the end of the task's text ({len(text)} characters)", *path, "end")
        if end <= start:
            raise LabelError("must be greater than start (end is exclusive)", *path, "end")
        if "text" in span and span["text"] != text[start:end]:
            raise LabelError(f"does not match the task's text at {start}:{end} ({text[start:end]!r}); offsets count "
                             "Unicode characters of the text as given", *path, "text")
        clean.append({"start": start, "end": end, "label": class_name(span["label"], schema["classes"], *path, "label")})
    clean.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    for i in range(1, len(clean)):
        same = (clean[i]["start"], clean[i]["end"], clean[i]["label"]) == (clean[i - 1]["start"], clean[i - 1]["end"],
                                                                         clean[i - 1]["label"])
        if same or (not schema.get("allow_overlap") and clean[i]["start"] < clean[i - 1]["end"]):
            raise LabelError(f"spans {clean[i - 1]['start']}:{clean[i - 1]['end']} and {clean[i]['start']}:{clean[i]['end']} "
                             + ("repeat each other" if same else "overlap, and this project does not allow overlaps"), "spans")
    return {"spans": clean}


def result_label(answer: dict) -> dict:
    return {"spans": [dict(span) for span in answer["spans"]]}


def _keys(answer: dict) -> set:
    return {(s["start"], s["end"], s["label"]) for s in answer["spans"]}


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """Exact-match span F1: 2 * shared spans / (spans in a + spans in b); 1 when both are empty."""
    left, right = _keys(a), _keys(b)
    if not left and not right:
        return 1.0
    return round(2.0 * len(left & right) / (len(left) + len(right)), 6)


def _aggregate_one(schema: dict, task: TaskAnswers) -> Aggregate:
    """Trust-weighted voting on exact spans; without overlaps allowed, the better-supported span wins a clash."""
    total = sum(vote.weight for vote in task.votes)
    support: dict[tuple, float] = {}
    for vote in task.votes:
        for key in _keys(vote.answer):
            support[key] = support.get(key, 0.0) + vote.weight
    ranked = sorted(((w / total if total > 0 else 0.0, key) for key, w in support.items()),
                    key=lambda item: (-item[0], item[1]))
    kept: list[tuple] = []
    for share, key in ranked:
        if not supported(share, schema):
            break
        if schema.get("allow_overlap") or all(key[1] <= other[0] or other[1] <= key[0] for _, other in kept):
            kept.append((share, key))
    text = text_of(task.data)
    spans = [{"start": s, "end": e, "label": label, "text": text[s:e], "score": round(share, 6)}
             for share, (s, e, label) in sorted(kept, key=lambda item: item[1])]
    label = {"spans": spans}
    return Aggregate(label, weighted_agreement(task.votes, label, lambda a, b: agreement(schema, a, b)), METHOD)


aggregate = per_task(_aggregate_one)
