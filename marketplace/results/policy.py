"""The redundancy policy and per-task posteriors from the annotators' current confusion matrices.

After each answer on a task of an adaptive project (target_confidence set), inside the submit
transaction: the task's posterior is the E-step for that task alone, using each annotator's
confusion matrix from the last recompute's truth model (the blend's), or for an annotator without
one a matrix that is right with their gold accuracy (Beta mean) or, lacking gold here, their global
reputation; it is mapped by the calibration the recompute learned from the project's gold
(results/truth_model.py) so that confidences behave like probabilities. Then: close when the top
posterior reaches the target with at least min_answers; otherwise open one more slot, up to
max_answers; at max_answers without the target, escalate. The same batched posterior gives results
for closed tasks between full recomputes.
"""
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select

from marketplace import labels
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import advisory_lock
from marketplace.extensions import db
from marketplace.inference import redundancy
from marketplace.inference.calibration import IDENTITY, Calibration
from marketplace.inference.dawid_skene import DEFAULT_PRIOR_ACCURACY, prior_confusion
from marketplace.payments import escrow
from marketplace.projects.models import Project
from marketplace.quality import eligibility, trust
from marketplace.quality.models import AnnotatorStats
from marketplace.results import store, truth_model
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.results.store import Posteriors
from marketplace.tasks import store as tasks_store
from marketplace.tasks.models import GOLD, OPEN, Task

# Advisory lock namespace: one budget decision per project at a time.
BUDGET_LOCK_SPACE = 3 << 48


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
    rows = db.session.execute(
        select(Assignment.task_id, Assignment.annotator_id, Assignment.answer, AnnotatorStats.confusion,
               AnnotatorStats.gold_seen, AnnotatorStats.gold_correct)
        .outerjoin(AnnotatorStats, (AnnotatorStats.annotator_id == Assignment.annotator_id)
                   & (AnnotatorStats.project_id == Assignment.project_id))
        .where(Assignment.task_id.in_(task_ids), Assignment.status == SUBMITTED, ~Assignment.is_gold)
    ).all()
    position = {task_id: i for i, task_id in enumerate(task_ids)}
    log_post = np.tile(np.log(_priors(class_priors, K)), (len(task_ids), 1))
    counts = np.zeros(len(task_ids), dtype=np.int64)
    reputations: dict[int, float] = {}
    for row in rows:
        label = class_index[label_type.class_of(row.answer)]
        matrix = _confusion(row, K, now, reputations)
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
    return Posteriors(task_ids, calibration.apply(post, _priors(class_priors, K), np.maximum(counts, 1)), counts)


def _priors(class_priors, K: int) -> np.ndarray:
    if class_priors and len(class_priors) == K:
        p = np.maximum(np.asarray(class_priors, dtype=np.float64), 1e-6)
        return p / p.sum()
    return np.full(K, 1.0 / K)


def _confusion(row, K: int, now: datetime, reputations: dict) -> np.ndarray:
    """The annotator's confusion matrix, or one right with their gold accuracy here, or their reputation."""
    if row.confusion is not None and len(row.confusion) == K:
        return np.asarray(row.confusion, dtype=np.float64)
    if row.gold_seen:
        accuracy = trust.gold_accuracy(row.gold_correct, row.gold_seen).mean
    else:
        if row.annotator_id not in reputations:
            estimate = eligibility.reputation_of(annotator_id=row.annotator_id, now=now)
            reputations[row.annotator_id] = estimate.mean if estimate.evidence > 0 else DEFAULT_PRIOR_ACCURACY
        accuracy = reputations[row.annotator_id]
    return prior_confusion(K, min(max(accuracy, 1.0 / K + 0.01), 0.99))


@dataclass(frozen=True)
class PolicyContext:
    """What the per-answer policy needs of a project; the submit path reads it with the answer (no extra query)."""

    project_id: int
    label_schema: dict
    class_priors: list | None
    min_answers: int
    max_answers: int
    target_confidence: float
    budget_cents: int | None
    reward_cents: int
    model_as_annotator: bool
    model_confusion: list | None
    truth_model: dict | None

    @classmethod
    def of(cls, row) -> "PolicyContext":
        """From any row or object with these fields (the submit path's context row)."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


def after_answer(*, project: PolicyContext, task_id: int, now: datetime) -> redundancy.Decision | str:
    """Apply the policy to one task after an answer (inside the submit transaction); return the decision."""
    task = db.session.scalar(select(Task).where(Task.id == task_id).with_for_update())
    if task.status != OPEN:
        return task.status
    found = posteriors(task_ids=[task_id], label_schema=project.label_schema,
                       class_priors=project.class_priors, now=now, model=model_confusion(project),
                       calibration=truth_model.calibration_of(project))
    post, answers = found.posteriors[0], int(found.answer_counts[0])
    decision = redundancy.decide(post, answers, min_answers=project.min_answers, max_answers=project.max_answers,
                                 target=project.target_confidence,
                                 # Slots the task already has are paid for; only one beyond them needs budget.
                                 budget=remaining_budget(project) if answers >= task.slot_limit else None)
    tasks_store.set_uncertainty(task, 1.0 - float(post.max()))
    if decision == redundancy.Decision.MORE:
        tasks_store.ask_one_more(task, answers)
        return decision
    tasks_store.close(task, escalate=decision == redundancy.Decision.ESCALATE, now=now)
    store.write_results(project_id=project.project_id, classes=project.label_schema["classes"],
                        found=found, method=truth_model.method_of(project), now=now)
    AGGREGATE_PROJECT.after_commit(project.project_id)
    return decision


def remaining_budget(project: PolicyContext) -> int | None:
    """How many more answers the project's budget cap allows beyond those its tasks already ask for (None: no cap)."""
    if project.budget_cents is None:
        return None
    # One budget decision per project at a time, or two could spend the last answer.
    advisory_lock(BUDGET_LOCK_SPACE | project.project_id)
    promised = db.session.scalar(
        select(func.coalesce(func.sum(Task.slot_limit), 0)).where(Task.project_id == project.project_id,
                                                                  Task.status != GOLD))
    # At the highest reward a lease may carry (a team's or an arm's), so the cap holds whoever answers.
    ceiling = escrow.reward_ceiling(db.session.get(Project, project.project_id))
    return project.budget_cents // ceiling - int(promised)


def reopen(*, task_ids: list[int], max_answers: int) -> int:
    """Give tasks whose confidence fell below target one more slot (within max_answers) and reopen them."""
    if not task_ids:
        return 0
    reopened = tasks_store.reopen_for_more(task_ids=task_ids, max_answers=max_answers)
    if reopened:
        store.delete_results(reopened)
    return len(reopened)
