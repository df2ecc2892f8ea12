"""The redundancy policy: after each answer, close a task, ask for one more answer, or escalate.

After each answer on a task of an adaptive project (target_confidence set), inside the submit
transaction: the task's posterior (results/posterior.py) is judged against the target, on the
answers' evidence (the calibration's label noise left out: redundancy.py). Close when it reaches
the target with at least min_answers; otherwise open one more slot, up to
max_answers; at max_answers without the target, escalate. A task that closes or escalates is
finished by results/closing.py with the posterior just computed.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy import func, select

from marketplace.db import advisory_lock
from marketplace.extensions import db
from marketplace.inference import redundancy
from marketplace.inference.incremental import normalised, task_log_posteriors
from marketplace.payments import escrow
from marketplace.projects.models import Project
from marketplace.results import closing, posterior, store, truth_model
from marketplace.tasks import store as tasks_store
from marketplace.tasks.models import GOLD, OPEN, Task

# Advisory lock namespace: one budget decision per project at a time.
BUDGET_LOCK_SPACE = 3 << 48
JUDGED_AT_ONCE = 100_000  # tasks a recompute's verdicts are calibrated for at a time (short_of_target)


@dataclass(frozen=True)
class PolicyContext:
    """What the per-answer policy needs of a project; the submit path reads it with the answer (no extra query)."""

    project_id: int
    label_schema: dict
    aggregation: str
    class_priors: list | None
    review_enabled: bool
    task_count: int
    min_answers: int
    max_answers: int
    target_confidence: float
    budget_cents: int | None
    reward_cents: int
    model_as_annotator: bool
    model_confusion: list | None
    truth_model: dict | None
    has_webhooks: bool = True  # False: the owner has no active endpoint, nothing to announce to

    @classmethod
    def of(cls, row) -> "PolicyContext":
        """From any row or object with these fields (the submit path's context row); defaults may be left out."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__ if hasattr(row, name)})


class Decided(NamedTuple):
    """The policy's decision on a task (or the task's status when it was no longer open), and whether
    it made the task done (closed, or escalated without a review stage): the caller counts it."""

    decision: redundancy.Decision | str
    done: bool = False


def after_answer(*, project: PolicyContext, task_id: int, now: datetime) -> Decided:
    """Apply the policy to one task after an answer (inside the submit transaction); return the decision."""
    task = db.session.scalar(select(Task).where(Task.id == task_id).with_for_update())
    if task.status != OPEN:
        return Decided(task.status)
    calibration = truth_model.calibration_of(project)
    found = posterior.posteriors(task_ids=[task_id], label_schema=project.label_schema,
                                 class_priors=project.class_priors, now=now, model=posterior.model_confusion(project),
                                 calibration=calibration)
    post, answers = found.posteriors[0], int(found.answer_counts[0])
    decision = redundancy.decide(post, answers, min_answers=project.min_answers, max_answers=project.max_answers,
                                 target=project.target_confidence,
                                 # Slots the task already has are paid for; only one beyond them needs budget.
                                 budget=remaining_budget(project) if answers >= task.slot_limit else None,
                                 calibration=calibration, priors=posterior.priors(project.class_priors, post.size))
    tasks_store.set_uncertainty(task, 1.0 - float(post.max()))
    if decision == redundancy.Decision.MORE:
        tasks_store.ask_one_more(task, answers)
        return Decided(decision)
    tasks_store.close(task, escalate=decision == redundancy.Decision.ESCALATE, now=now)
    done = closing.finish(closing.Closing.of(project), task_id=task_id, external_id=task.external_id,
                          status=task.status, now=now, found=found)
    return Decided(decision, done)


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


def short_of_target(project, encoded, result, answers: np.ndarray) -> np.ndarray:
    """Per task of a recompute's `encoded` answers: whether after_answer, judging it with this fit once it
    is stored, would not close it (`answers`: each task's human answers).

    The submit path's posterior, for every task at once: the one-task E-step with the fit's blended
    matrices (as trust stores them, to 4 places) and class priors, mapped by the fit's incremental
    calibration and judged on the evidence. The recompute reopens a done task by this rule, not by
    its stored (blended) confidence: judged twice by two posteriors, a task the submit path closed
    was reopened by the recompute and closed again (on Dog, 58-131% of the tasks were reopened;
    22-37% by this rule, for the same accuracy per answer: benchmarks/redundancy_replay.py).
    """
    priors = posterior.priors(result.priors.round(6).tolist(), result.K)
    logits = task_log_posteriors(encoded.task_idx, encoded.annotator_idx, encoded.label_idx, result.confusion.round(4),
                                 priors, encoded.task_ids.size)
    calibration = truth_model.applied_calibration(result, "incremental_calibration")
    short = np.empty(logits.shape[0], dtype=bool)
    for at in range(0, short.size, JUDGED_AT_ONCE):  # a slice at a time: calibrating copies its posteriors a few times
        part = slice(at, at + JUDGED_AT_ONCE)
        judged = calibration.apply(normalised(logits[part]), priors, np.maximum(answers[part], 1))
        short[part] = ~calibration.reaches(judged, project.target_confidence, priors, np.maximum(answers[part], 1))
    return short


def reopen(*, task_ids: list[int], max_answers: int) -> int:
    """Give tasks whose confidence fell below the target's bar one more slot (within max_answers) and reopen them."""
    if not task_ids:
        return 0
    reopened = tasks_store.reopen_for_more(task_ids=task_ids, max_answers=max_answers)
    if reopened:
        store.delete_results(reopened)
    return len(reopened)
