"""Multi-label classification: `{"type": "multi_label", "classes": [...]}`, answer `{"labels": [c, ...]}`.

Each class is its own yes/no question: aggregation runs the default truth model (inference.auto:
Dawid-Skene and its Bayesian relatives, blended on held-out answers) on every class as an
independent binary problem over all the tasks given (so an annotator who over-tags one class is
learned as such), and a class is in the result when its posterior passes one half.
"""
from collections.abc import Sequence

import numpy as np

from marketplace import inference
from marketplace.labels._common import (Aggregate, TaskAnswers, answer_object, check_classes, check_fields,
                                        count_bounds, gold_threshold)
from marketplace.labels.errors import LabelError

NAME = "multi_label"
CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.5
EXPORTS: dict = {}
METHOD = "auto_binary"
# The recompute fits each class over the whole project at once (annotators' per-class error rates
# are learned from all their answers), not in batches.
RECOMPUTE_BATCH = 1_000_000


def validate_schema(schema: dict) -> dict:
    """Two or more classes; optional min_labels / max_labels per answer."""
    check_fields(schema, {"classes", "min_labels", "max_labels"})
    classes = check_classes(schema)
    bounds = count_bounds({k: v for k, v in schema.items() if k.endswith("_labels")}, "labels", len(classes))
    return {"type": NAME, "classes": classes, **bounds, **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD)}


def validate_task_data(schema: dict, data) -> None:
    """Any task data will do."""


def validate_answer(schema: dict, answer, data=None) -> dict:
    """Distinct classes of the schema, as many as min/max_labels allow; returned in class order."""
    chosen = answer_object(answer, "labels", '{"labels": [<class>, ...]}')
    for i, name in enumerate(chosen):
        if name not in schema["classes"]:
            raise LabelError("is not one of the project's classes", "labels", str(i))
    if len(set(chosen)) != len(chosen):
        raise LabelError("must not repeat a class", "labels")
    low, high = schema.get("min_labels", 0), schema.get("max_labels", len(schema["classes"]))
    if not low <= len(chosen) <= high:
        raise LabelError(f"must hold between {low} and {high} classes", "labels")
    return {"labels": [name for name in schema["classes"] if name in chosen]}


def result_label(answer: dict) -> dict:
    return {"labels": list(answer["labels"])}


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """Jaccard similarity of the two sets (1 when both are empty)."""
    left, right = set(a["labels"]), set(b["labels"])
    union = left | right
    return len(left & right) / len(union) if union else 1.0


def aggregate(schema: dict, tasks: Sequence[TaskAnswers]) -> list[Aggregate | None]:
    """The default truth model (binary) per class over every answer of the tasks given.

    The confidence is the probability that the whole set is right, the product over classes of
    the posterior of the decision taken (classes treated as independent, as the model does).
    """
    classes = schema["classes"]
    rows = [(t, vote.annotator_id, vote.answer, vote.weight) for t, task in enumerate(tasks) for vote in task.votes
            if vote.weight > 0]
    if not rows:
        return [None] * len(tasks)
    task_idx = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    weights = np.fromiter((r[3] for r in rows), dtype=np.float64, count=len(rows))
    annotators, annotator_idx = np.unique(np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
                                          return_inverse=True)
    present = np.zeros((len(tasks), len(classes)))
    for k, name in enumerate(classes):
        said = np.fromiter((name in r[2]["labels"] for r in rows), dtype=np.int64, count=len(rows))
        # The class's prevalence is fixed at the trust-weighted share of answers tagging it
        # (smoothed): learned freely, a tag everybody agrees on (always or never there) has no
        # variation to tell "present" from "absent", and EM may settle on the flipped solution.
        # The model is the default truth model (a blend chosen on held-out answers, per class).
        share = (float(weights @ said) + 1.0) / (float(weights.sum()) + 2.0)
        fit = inference.infer(task_idx, annotator_idx, said, 2, method=inference.DEFAULT_METHOD, n_tasks=len(tasks),
                              n_annotators=annotators.size, priors=np.array([1.0 - share, share]))
        present[:, k] = fit.posteriors[:, 1]
    answered = np.bincount(task_idx, minlength=len(tasks)) > 0
    return [_result(schema, present[t]) if answered[t] else None for t in range(len(tasks))]


def _result(schema: dict, p: np.ndarray) -> Aggregate:
    classes = schema["classes"]
    order = np.argsort(-p, kind="stable")
    keep = set(np.flatnonzero(p > 0.5).tolist())
    low, high = schema.get("min_labels", 0), schema.get("max_labels", len(classes))
    ranked = [int(k) for k in order]
    keep |= set(ranked[:low])  # the most likely classes fill a required minimum
    keep = set(sorted(keep, key=ranked.index)[:high])
    decided = np.where([k in keep for k in range(len(classes))], p, 1.0 - p)
    tie = bool(np.any(np.isclose(p, 0.5)))
    return Aggregate({"labels": [classes[k] for k in range(len(classes)) if k in keep]},
                     round(float(np.prod(decided)), 6), METHOD, tie, p.round(6).tolist())
