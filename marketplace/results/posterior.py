"""A task's posterior from its answers and the annotators' current confusion matrices.

The E-step for some tasks alone, using each annotator's confusion matrix from the last
recompute's truth model (the blend's), or for an annotator without one a matrix that is right
with their gold accuracy (Beta mean) or, lacking gold here, their global reputation; mapped by the
calibration the recompute learned from the project's gold (results/truth_model.py) so that
confidences behave like probabilities. The redundancy policy decides on it after each answer, and
results of tasks closing between full recomputes come from it.
"""
from datetime import datetime

import numpy as np
from sqlalchemy import select

from marketplace import labels
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.extensions import db
from marketplace.inference.calibration import IDENTITY, Calibration
from marketplace.inference.dawid_skene import DEFAULT_PRIOR_ACCURACY, prior_confusion
from marketplace.quality import eligibility, trust
from marketplace.quality.models import AnnotatorStats
from marketplace.results import posterior_store
from marketplace.results.store import Posteriors
from marketplace.tasks.models import Task


def model_confusion(project) -> np.ndarray | None:
    """The model's confusion matrix when it votes as a virtual annotator (a prior until a recompute learns it)."""
    if not project.model_as_annotator:
        return None
    K = len(project.label_schema["classes"])
    if project.model_confusion is not None and len(project.model_confusion) == K:
        return np.asarray(project.model_confusion, dtype=np.float64)
    return prior_confusion(K, DEFAULT_PRIOR_ACCURACY)


def posteriors(*, task_ids: list[int], label_schema: dict, class_priors, now: datetime,
               model: np.ndarray | None = None, calibration: Calibration = IDENTITY) -> Posteriors:
    """Posterior of each task from its submitted answers and the annotators' current confusion matrices.

    Mapped by the project's calibration (truth_model.calibration_of): the independence assumption
    makes raw posteriors overconfident, and these are the confidences requesters read and the
    policy's target is judged on.
    """
    classes = label_schema["classes"]
    K = len(classes)
    class_index = {name: k for k, name in enumerate(classes)}
    label_type = labels.label_type(label_schema)
    rows, reputations = _answers(task_ids, K, now)
    position = {task_id: i for i, task_id in enumerate(task_ids)}
    log_post = np.tile(np.log(priors(class_priors, K)), (len(task_ids), 1))
    counts = np.zeros(len(task_ids), dtype=np.int64)
    for row in rows:
        label = class_index[label_type.class_of(row.answer)]
        matrix = _confusion(row, K, reputations)
        log_post[position[row.task_id]] += np.log(np.maximum(matrix[:, label], 1e-300))
        counts[position[row.task_id]] += 1
    if model is not None:  # the model's label counts as one more (virtual) annotator's answer
        predicted = db.session.execute(
            select(Task.id, Task.prediction).where(Task.id.in_(task_ids), Task.prediction.is_not(None))).all()
        for task_id, prediction in predicted:
            log_post[position[task_id]] += np.log(np.maximum(model[:, int(np.argmax(prediction))], 1e-300))
    log_post -= log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post)
    post /= post.sum(axis=1, keepdims=True)
    return Posteriors(task_ids, calibration.apply(post, priors(class_priors, K), np.maximum(counts, 1)), counts)


def _answers(task_ids: list[int], K: int, now: datetime) -> tuple[list, dict[int, float]]:
    """The tasks' answer rows and the reputation of each annotator who needs one (see _needs_reputation).

    One task (a closing answer's) is one prepared statement on PostgreSQL, records and all; otherwise
    the answers, then every reputation needed in one batch.
    """
    if len(task_ids) == 1:
        rows = posterior_store.task_answers(task_id=task_ids[0], classes=K,
                                            rejected_before=eligibility.rejections_final_before(now))
        if rows is not None:
            return rows, {row.annotator_id: _reputation_of(row, now) for row in rows if _needs_reputation(row, K)}
    rows = db.session.execute(
        select(Assignment.task_id, Assignment.annotator_id, Assignment.answer, AnnotatorStats.confusion,
               AnnotatorStats.gold_seen, AnnotatorStats.gold_correct)
        .outerjoin(AnnotatorStats, (AnnotatorStats.annotator_id == Assignment.annotator_id)
                   & (AnnotatorStats.project_id == Assignment.project_id))
        .where(Assignment.task_id.in_(task_ids), Assignment.status == SUBMITTED, ~Assignment.is_gold)
    ).all()
    return rows, _reputations([row.annotator_id for row in rows if _needs_reputation(row, K)], now)


def _reputation_of(row, now: datetime) -> float:
    """_reputations' figure for one annotator, from the records read with their answer."""
    if not row.reported_seen and not row.rejections:  # no evidence anywhere: the prior, as reputation_from says
        return DEFAULT_PRIOR_ACCURACY
    reported = list(zip(row.reported_correct, row.reported_seen, row.reported_at)) if row.reported_seen else []
    estimate = eligibility.reputation_from(reported=reported, rejections=row.rejections,
                                           last_rejected=row.last_rejected, now=now)
    return estimate.mean if estimate.evidence > 0 else DEFAULT_PRIOR_ACCURACY


def priors(class_priors, K: int) -> np.ndarray:
    """The class priors a project's posteriors start from (the last recompute's), uniform before one."""
    if class_priors and len(class_priors) == K:
        p = np.maximum(np.asarray(class_priors, dtype=np.float64), 1e-6)
        return p / p.sum()
    return np.full(K, 1.0 / K)


def _needs_reputation(row, K: int) -> bool:
    """True when neither a learned matrix nor gold here speaks for the annotator."""
    return not (row.confusion is not None and len(row.confusion) == K) and not row.gold_seen


def _reputations(annotator_ids: list[int], now: datetime) -> dict[int, float]:
    """Global reputation (mean) of annotators, the prior accuracy for those with no evidence; one batch."""
    if not annotator_ids:
        return {}
    found = eligibility.reputations_of(annotator_ids=annotator_ids, now=now)
    return {a: estimate.mean if estimate.evidence > 0 else DEFAULT_PRIOR_ACCURACY for a, estimate in found.items()}


def _confusion(row, K: int, reputations: dict[int, float]) -> np.ndarray:
    """The annotator's confusion matrix, or one right with their gold accuracy here, or their reputation."""
    if row.confusion is not None and len(row.confusion) == K:
        return np.asarray(row.confusion, dtype=np.float64)
    if row.gold_seen:
        accuracy = trust.gold_accuracy(row.gold_correct, row.gold_seen).mean
    else:
        accuracy = reputations[row.annotator_id]
    return prior_confusion(K, min(max(accuracy, 1.0 / K + 0.01), 0.99))
