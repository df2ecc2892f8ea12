"""The result every categorical method returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class InferenceResult:
    """Per-task labels and posteriors plus the per-annotator parameters a method learned.

    `confusion[w, k, l]` is P(annotator w answers l | true class k) for methods that have one;
    `skill[w]` is a scalar quality (accuracy, weight, ability) for every method.
    """

    method: str
    labels: np.ndarray
    posteriors: np.ndarray
    skill: np.ndarray
    confusion: np.ndarray | None = None
    priors: np.ndarray | None = None
    n_iter: int = 0
    log_likelihood: float | None = None
    converged: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def K(self) -> int:
        """Return the number of classes."""
        return self.posteriors.shape[1]

    @property
    def confidence(self) -> np.ndarray:
        """Return the posterior probability of each task's chosen label."""
        return self.posteriors[np.arange(self.labels.size), self.labels]
