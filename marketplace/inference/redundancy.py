"""Posterior-driven redundancy: after each answer, close the task, ask for one more, or escalate.

The submit path computes the task's posterior with `task_posterior` (from the annotators' current
confusion matrices and class priors, the last project recompute's) and asks `decide` what to do:

- CLOSE when the top posterior reaches the target's bar (below) and the task has at least
  `min_answers` answers;
- MORE (open one more slot) while it has fewer than `max_answers` and budget allows;
- ESCALATE at `max_answers` (or with no budget left) without the target confidence: the task
  goes to review, or, where there is none, keeps its current posterior's label.

`min_answers` guards against a posterior that is confident too early (one answer from an annotator
the model rates highly, or the class priors alone on a skewed project): a task is never closed on
fewer answers, however confident.

The posterior is calibrated before the decision (calibration.py, with what the last recompute
learned from the project's gold): the models treat the answers on a task as independent given its
class, but they are not (a hard item fools many annotators the same way), so raw posteriors are
overconfident. Counting the evidence at a weight below one asks for more answers exactly where they
disagree: two agreeing answers from good annotators stay conclusive, a 3-2 split does not.

The bar is the target with the calibration's label noise e left out (`Calibration.threshold`): the
calibrated confidence of the top label k against (1 - e) target + e prior(k), that is the answers'
(tempered) evidence for k against the target. Noise, reference labels no answer predicts, caps
every confidence at (1 - e) + e prior(k) whatever the answers say; judging it bought answers that
could not help, then escalated (on Dog, noise 0.2, a target of 0.8 escalated half the tasks). So
with noise a closed task is right about (1 - e) target + e prior(k) of the time, which its result's
confidence says; without noise, as often as the target. The evidence is weighed with the smallest
correlation the gold allows (`Calibration.judged_correlation`): a closed task can be reopened by the
next recompute, while an escalated one has bought its last answers for good. Pure numpy; imports
nothing of the web app.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from .calibration import IDENTITY, Calibration
from .incremental import task_posterior


class Decision(str, Enum):
    """What the submit path does with a task after an answer."""

    CLOSE = "close"
    MORE = "more"
    ESCALATE = "escalate"


def _check_settings(min_answers: int, max_answers: int, target: float) -> None:
    if int(min_answers) != min_answers or min_answers < 1:
        raise ValueError(f"min_answers must be a positive integer, got {min_answers}")
    if int(max_answers) != max_answers or max_answers < min_answers:
        raise ValueError(f"max_answers must be an integer >= min_answers ({min_answers}), got {max_answers}")
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be in (0, 1], got {target}")


def confidence(posterior) -> float:
    """Return the top posterior probability (the confidence of the current label)."""
    p = np.asarray(posterior, dtype=np.float64).ravel()
    if p.size == 0 or not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("posterior must be a non-empty array of finite non-negative numbers")
    total = p.sum()
    if total <= 0:
        raise ValueError("posterior must not sum to zero")
    return float(p.max() / total)


def decide(posterior, n_answers: int, *, min_answers: int, max_answers: int, target: float,
           budget: int | None = None, calibration: Calibration = IDENTITY, priors=None) -> Decision:
    """Decide what happens to a task holding `n_answers` answers whose posterior is `posterior`.

    `posterior` is calibrated by `calibration` over class `priors` (None: uniform); the target is
    judged on the answers' evidence, without the calibration's label noise and weighed with its
    `judged_correlation` (module docstring).
    `budget` is how many more answers the project can still pay for (None: no cap); with none
    left a task that is not yet confident is escalated rather than left waiting for an answer
    nobody will be paid for. A task already past `max_answers` (a setting lowered later) is
    treated as at the maximum.
    """
    _check_settings(min_answers, max_answers, target)
    if int(n_answers) != n_answers or n_answers < 0:
        raise ValueError(f"n_answers must be a non-negative integer, got {n_answers}")
    confidence(posterior)  # refuses a posterior that is not one
    p = np.asarray(posterior, dtype=np.float64).ravel()
    p = p / p.sum()
    confident = bool(calibration.reaches(p, target, np.ones(p.size) if priors is None else priors, max(n_answers, 1)))
    if n_answers >= min_answers and confident:
        return Decision.CLOSE
    if n_answers >= max_answers:
        return Decision.ESCALATE
    if budget is not None and budget <= 0:
        return Decision.ESCALATE
    return Decision.MORE


@dataclass(frozen=True)
class RedundancyPolicy:
    """A project's redundancy settings; `decide` applies them to one task."""

    min_answers: int = 2
    max_answers: int = 10
    target_confidence: float = 0.95

    def __post_init__(self) -> None:
        _check_settings(self.min_answers, self.max_answers, self.target_confidence)

    def posterior(self, annotator_idx, label_idx, confusion, priors, *, unseen_confusion=None,
                  default_accuracy: float | None = None, calibration: Calibration = IDENTITY) -> np.ndarray:
        """Return the task's posterior the policy judges: `task_posterior`, calibrated."""
        extra = {} if default_accuracy is None else {"default_accuracy": default_accuracy}
        post = task_posterior(annotator_idx, label_idx, confusion, priors,
                              unseen_confusion=unseen_confusion, **extra)
        return calibration.apply(post, priors, np.asarray(label_idx).size)

    def decide(self, posterior, n_answers: int, *, available: int | None = None, budget: int | None = None,
               calibration: Calibration = IDENTITY, priors=None) -> Decision:
        """Decide for one task; `available` caps `max_answers` (e.g. a replay's real answers)."""
        top = self.max_answers if available is None else max(1, min(self.max_answers, int(available)))
        return decide(posterior, n_answers, min_answers=min(self.min_answers, top), max_answers=top,
                      target=self.target_confidence, budget=budget, calibration=calibration, priors=priors)
