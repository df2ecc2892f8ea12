"""Transcription: `{"type": "transcription"}`, the text spoken in an audio clip or written in an image.

Task data: `{"audio": <url or path>}` or `{"image": ...}`, optionally `"duration"` in seconds (the
manifest export carries it). Answer: `{"text": "..."}`. Texts are compared as word sequences after
normalisation (lower case unless the schema is case sensitive, punctuation dropped, whitespace
collapsed); the result is the trust-weighted medoid: the answer closest, in word edit distance, to
all the others.
"""
import re
import unicodedata

from rapidfuzz.distance import Levenshtein

from marketplace.labels import exports
from marketplace.labels._common import (Aggregate, TaskAnswers, check_fields, flag, gold_threshold, number, option,
                                        per_task)
from marketplace.labels.errors import LabelError

NAME = "transcription"
CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.8
MAX_LENGTH = 20_000
METHOD = "weighted_medoid"
EXPORTS = {"manifest": exports.manifest}
_SPACE = re.compile(r"\s+")


def validate_schema(schema: dict) -> dict:
    """Optional max_length (characters, default 20,000) and case_sensitive (default false)."""
    check_fields(schema, {"max_length", "case_sensitive"})
    return {"type": NAME, "max_length": int(option(schema, "max_length", MAX_LENGTH, minimum=1, maximum=MAX_LENGTH,
                                                   integer=True)),
            "case_sensitive": flag(schema, "case_sensitive"), **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD)}


def validate_task_data(schema: dict, data) -> None:
    """The audio clip or image the text comes from (a non-empty reference); a duration if given is positive."""
    if not isinstance(data, dict) or not any(isinstance(data.get(k), str) and data[k].strip() for k in ("audio", "image")):
        raise LabelError("the task's data must include audio or image (a path or URL)", "data", "audio")
    if "duration" in data:
        number(data["duration"], "data", "duration", above=0)


def validate_answer(schema: dict, answer, data=None) -> dict:
    """A string of at most max_length characters; surrounding whitespace is trimmed, inner runs collapsed."""
    if not isinstance(answer, dict) or set(answer) != {"text"}:
        raise LabelError('answer must be an object {"text": "..."}')
    if not isinstance(answer["text"], str):
        raise LabelError("must be a string", "text")
    text = _SPACE.sub(" ", answer["text"]).strip()
    if len(text) > schema.get("max_length", MAX_LENGTH):
        raise LabelError(f"must be at most {schema.get('max_length', MAX_LENGTH)} characters", "text")
    return {"text": text}


def result_label(answer: dict) -> dict:
    return {"text": answer["text"]}


def words(schema: dict, text: str) -> list[str]:
    """The text as compared: punctuation dropped, lower case unless case sensitive, split on whitespace."""
    kept = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return (kept if schema.get("case_sensitive") else kept.lower()).split()


def edit_distance(a: list[str], b: list[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions, insertions, deletions), in C."""
    return Levenshtein.distance(a, b)


def word_error_rate(reference: str, hypothesis: str, schema: dict | None = None) -> float:
    """WER of a hypothesis against a reference: word edits over the reference's length."""
    ref, hyp = words(schema or {}, reference), words(schema or {}, hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def _distance(schema: dict, a: list[str], b: list[str]) -> float:
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """1 - WER made symmetric: word edits over the longer text's length (1 when both are empty)."""
    return round(1.0 - _distance(schema, words(schema, a["text"]), words(schema, b["text"])), 6)


def _aggregate_one(schema: dict, task: TaskAnswers) -> Aggregate:
    """The answer with the least trust-weighted edit distance to all answers (ties: more weight, then first)."""
    votes = list(task.votes)
    tokens = [words(schema, vote.answer["text"]) for vote in votes]
    cost = [0.0] * len(votes)
    for i in range(len(votes)):  # each pair once: the distance is symmetric, and zero to itself
        for j in range(i + 1, len(votes)):
            d = _distance(schema, tokens[i], tokens[j])
            cost[i] += votes[j].weight * d
            cost[j] += votes[i].weight * d
    best = min(range(len(votes)), key=lambda i: (round(cost[i], 9), -votes[i].weight, i))
    total = sum(vote.weight for vote in votes)
    confidence = 1.0 - cost[best] / total if total > 0 else 0.0
    tie = sum(1 for i in range(len(votes)) if abs(cost[i] - cost[best]) < 1e-9 and tokens[i] != tokens[best]) > 0
    return Aggregate({"text": votes[best].answer["text"]}, round(confidence, 6), METHOD, tie)


aggregate = per_task(_aggregate_one)
