"""(Weighted) majority vote results, for projects whose aggregation is a vote rather than the truth model."""
import numpy as np
from sqlalchemy import func, select

from marketplace import inference
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.extensions import db
from marketplace.quality.models import AnnotatorStats

MAJORITY_VOTE = "majority_vote"
WEIGHTED_VOTE = "weighted_vote"


def vote(task_idx: np.ndarray, annotator_idx: np.ndarray, label_idx: np.ndarray, weights: np.ndarray,
         n_tasks: int, K: int) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """Return (method, label index, vote share, tie?) per task; ties go to the class listed first.

    A plain majority vote while every annotator weighs 1; a trust-weighted vote once a quality rule
    has lowered someone's weight.
    """
    options = dict(n_tasks=n_tasks, n_annotators=weights.size)
    if np.all(weights == 1.0):
        method, result = MAJORITY_VOTE, inference.majority_vote(task_idx, annotator_idx, label_idx, K, **options)
    else:
        method, result = WEIGHTED_VOTE, inference.weighted_vote(task_idx, annotator_idx, label_idx, K, weights, **options)
    top = result.posteriors.max(axis=1, keepdims=True)
    ties = (np.isclose(result.posteriors, top)).sum(axis=1) > 1
    return method, result.labels, result.confidence, ties


def vote_rows(project_id: int, task_ids: list[int], label_type, classes, now) -> list[dict]:
    """Result rows for the tasks that have answers, each answer weighted by its annotator's weight here."""
    answers = db.session.execute(
        select(Assignment.task_id, Assignment.annotator_id, Assignment.answer,
               func.coalesce(AnnotatorStats.weight, 1.0).label("weight"))
        .outerjoin(AnnotatorStats, (AnnotatorStats.annotator_id == Assignment.annotator_id)
                   & (AnnotatorStats.project_id == Assignment.project_id))
        .where(Assignment.task_id.in_(task_ids), Assignment.status == SUBMITTED)
    ).all()
    if not answers:
        return []
    position = {task_id: i for i, task_id in enumerate(task_ids)}
    class_index = {name: k for k, name in enumerate(classes)}
    task_idx = np.fromiter((position[a.task_id] for a in answers), dtype=np.int64, count=len(answers))
    label_idx = np.fromiter((class_index[label_type.class_of(a.answer)] for a in answers), dtype=np.int64, count=len(answers))
    annotators, first, annotator_idx = np.unique(np.array([a.annotator_id for a in answers]), return_index=True,
                                                 return_inverse=True)
    weights = np.array([answers[i].weight for i in first], dtype=np.float64)
    method, labels, shares, ties = vote(task_idx, annotator_idx, label_idx, weights, len(task_ids), len(classes))
    counts = np.bincount(task_idx, minlength=len(task_ids))
    return [
        {"task_id": task_id, "project_id": project_id, "label": classes[labels[i]], "confidence": float(shares[i]),
         "method": method, "answer_count": int(counts[i]), "tie": bool(ties[i]),
         "created_at": now, "updated_at": now}
        for i, task_id in enumerate(task_ids) if counts[i] > 0
    ]
