"""Labelled time intervals in an audio clip: `{"type": "audio_segments", "classes": [...]}`.

Task data: `{"audio": <url or path>, "duration": seconds}`. Answer:
`{"segments": [{"start": s, "end": e, "label": <class>}, ...]}` in seconds. Segments of one class
never overlap; segments of different classes overlap only when the schema allows it (speaker
overlap, say). Aggregation is a trust-weighted vote on every stretch of time between two answer
boundaries: a class holds a stretch when annotators with more than `min_support` of the weight
marked it there; adjacent stretches of a class merge into one segment.
"""
import numpy as np

from marketplace.labels._common import (Aggregate, TaskAnswers, answer_object, check_classes, check_fields,
                                        class_name, count_bounds, counted, data_field, flag, gold_threshold,
                                        item_fields, number, min_support, per_task, supported, weighted_agreement)
from marketplace.labels.errors import LabelError

NAME = "audio_segments"
CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.5
MAX_SEGMENTS = 2000
METHOD = "interval_vote"
EXPORTS: dict = {}


def validate_schema(schema: dict) -> dict:
    """Classes; allow_overlap between classes (default false); optional min/max_segments; min_support."""
    check_fields(schema, {"classes", "allow_overlap", "min_segments", "max_segments", "min_support"})
    return {
        "type": NAME, "classes": check_classes(schema, minimum=1), "allow_overlap": flag(schema, "allow_overlap"),
        **count_bounds(schema, "segments", MAX_SEGMENTS),
        **min_support(schema),
        **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD),
    }


def validate_task_data(schema: dict, data) -> None:
    """The clip's duration in seconds."""
    data_field(data, "duration", above=0)


def validate_answer(schema: dict, answer, data=None) -> dict:
    """0 <= start < end <= duration; classes of the schema; overlaps only between classes, and only if allowed."""
    segments = answer_object(answer, "segments", '{"segments": [{"start", "end", "label"}, ...]}')
    counted(segments, schema, "segments", MAX_SEGMENTS)
    duration = data_field(data, "duration", above=0)
    clean = []
    for i, segment in enumerate(segments):
        path = ("segments", str(i))
        item_fields(segment, {"start", "end", "label"}, set(), *path)
        start = number(segment["start"], *path, "start", minimum=0)
        end = number(segment["end"], *path, "end", maximum=duration)
        if end <= start:
            raise LabelError("must be after start", *path, "end")
        clean.append({"start": start, "end": end, "label": class_name(segment["label"], schema["classes"], *path, "label")})
    clean.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    for i, segment in enumerate(clean):
        for other in clean[i + 1:]:
            if other["start"] >= segment["end"]:
                break
            if other["label"] == segment["label"] or not schema.get("allow_overlap"):
                raise LabelError(f"segments {segment['start']:g}-{segment['end']:g} and {other['start']:g}-{other['end']:g} "
                                 "overlap" + ("" if schema.get("allow_overlap") else ", and this project does not allow "
                                              "overlaps"), "segments")
    return {"segments": clean}


def result_label(answer: dict) -> dict:
    return {"segments": [dict(segment) for segment in answer["segments"]]}


def _length(intervals: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in intervals)


def _intersection(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """Time IoU pooled over classes: seconds marked alike by both / seconds marked by either (1 when both are empty)."""
    shared = union = 0.0
    for name in schema["classes"]:
        left = [(s["start"], s["end"]) for s in a["segments"] if s["label"] == name]
        right = [(s["start"], s["end"]) for s in b["segments"] if s["label"] == name]
        both = _intersection(left, right)  # segments of one class never overlap, so this is exact
        shared += both
        union += _length(left) + _length(right) - both
    return 1.0 if union <= 0 else round(shared / union, 6)


def _aggregate_one(schema: dict, task: TaskAnswers) -> Aggregate:
    """Weighted vote per class on the stretches between answer boundaries; neighbours of a class merge."""
    total = sum(vote.weight for vote in task.votes)
    cuts = np.unique([t for vote in task.votes for s in vote.answer["segments"] for t in (s["start"], s["end"])])
    segments = []
    if total > 0 and cuts.size >= 2:
        starts, ends = cuts[:-1], cuts[1:]
        mids = (starts + ends) / 2
        support = np.zeros((len(schema["classes"]), mids.size))
        for k, name in enumerate(schema["classes"]):
            for vote in task.votes:
                covered = np.zeros(mids.size, dtype=bool)
                for s in vote.answer["segments"]:
                    if s["label"] == name:
                        covered |= (mids > s["start"]) & (mids < s["end"])
                support[k] += vote.weight * covered
        support /= total
        held = supported(support, schema)
        if not schema.get("allow_overlap"):  # one class per stretch: the best supported (first listed on a tie)
            best = support.argmax(axis=0)
            held &= np.arange(len(schema["classes"]))[:, None] == best[None, :]
        for k, name in enumerate(schema["classes"]):
            segments += _merged(starts, ends, held[k], support[k], name)
    segments.sort(key=lambda s: (s["start"], s["label"]))
    label = {"segments": segments}
    return Aggregate(label, weighted_agreement(task.votes, label, lambda a, b: agreement(schema, a, b)), METHOD)


def _merged(starts, ends, held, support, name) -> list[dict]:
    out: list[dict] = []
    for s, e, keep, share in zip(starts.tolist(), ends.tolist(), held.tolist(), support.tolist()):
        if not keep:
            continue
        if out and abs(out[-1]["end"] - s) < 1e-9:
            out[-1]["end"] = e
            out[-1]["_weight"] += share * (e - s)
        else:
            out.append({"start": s, "end": e, "label": name, "_weight": share * (e - s)})
    for segment in out:
        segment["score"] = round(segment.pop("_weight") / (segment["end"] - segment["start"]), 6)
        segment["start"], segment["end"] = round(segment["start"], 3), round(segment["end"], 3)
    return out


aggregate = per_task(_aggregate_one)
