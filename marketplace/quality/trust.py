"""Trust arithmetic: Beta posteriors of gold accuracy and a recency-weighted global reputation.

Gold answers are Bernoulli trials, so accuracy gets a Beta(PRIOR_A + correct, PRIOR_B + wrong)
posterior: its mean is the estimate and its 5% quantile a lower bound that stays low until there is
evidence (three right answers out of three do not prove an annotator perfect).
"""
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.special import betaincinv

PRIOR_A = 1.0
PRIOR_B = 1.0
LOWER_QUANTILE = 0.05


@dataclass(frozen=True)
class BetaEstimate:
    mean: float
    lower_bound: float
    evidence: float


def gold_accuracy(correct: float, seen: float, prior_a: float = PRIOR_A, prior_b: float = PRIOR_B) -> BetaEstimate:
    """Return the Beta posterior mean and 5% lower credible bound of an accuracy."""
    a = prior_a + correct
    b = prior_b + (seen - correct)
    # betaincinv(a, b, q) is scipy.stats.beta.ppf(q, a, b) without the distribution framework (~20x faster).
    return BetaEstimate(mean=a / (a + b), lower_bound=float(betaincinv(a, b, LOWER_QUANTILE)), evidence=float(seen))


def recency_weights(updated: list[datetime], now: datetime, half_life_days: float) -> np.ndarray:
    """Return 2^(-age / half-life) for each timestamp."""
    ages = np.array([(now - t).total_seconds() / 86_400 for t in updated], dtype=np.float64)
    return np.power(0.5, np.maximum(ages, 0.0) / half_life_days)


def reputation(records: list[tuple[float, float, datetime]], now: datetime, half_life_days: float) -> BetaEstimate:
    """Combine per-project (correct, seen, last update) records into one recency-weighted Beta estimate.

    Older evidence counts for less: a project last worked on one half-life ago weighs half as much.
    With no records the estimate is the prior (mean 0.5, a low bound): a newcomer is unproven.
    """
    if not records:
        return gold_accuracy(0, 0)
    correct = np.array([r[0] for r in records], dtype=np.float64)
    seen = np.array([r[1] for r in records], dtype=np.float64)
    w = recency_weights([r[2] for r in records], now, half_life_days)
    return gold_accuracy(float((w * correct).sum()), float((w * seen).sum()))
