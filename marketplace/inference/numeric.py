"""Aggregate numeric answers: mean, median, trust-weighted versions, annotator bias and noise.

crowd-kit has no numeric aggregation of this kind. `numeric_with_bias` fits
answer = truth_t + bias_w + noise(0, variance_w) by alternating closed-form updates, with bias
shrunk toward 0 and variance toward the pooled variance, so an annotator with one answer is not
declared unbiased and noise-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NumericResult:
    """Per-task estimates and, where fitted, per-annotator bias and noise variance."""

    method: str
    values: np.ndarray
    bias: np.ndarray | None = None
    variance: np.ndarray | None = None
    n_iter: int = 0


def _check(task_idx, values, weights=None):
    t = np.asarray(task_idx, dtype=np.int64).ravel()
    x = np.asarray(values, dtype=np.float64).ravel()
    if t.size == 0:
        raise ValueError("no answers: task_idx and values are empty")
    if t.size != x.size:
        raise ValueError("task_idx and values must have the same length")
    if t.min() < 0:
        raise ValueError("task_idx holds negative codes")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite numbers")
    if weights is None:
        return t, x, np.ones_like(x)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != x.size or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be one finite non-negative number per answer")
    return t, x, w


def weighted_mean(task_idx, values, weights=None) -> np.ndarray:
    """Return each task's weighted mean answer (plain mean where every weight is zero)."""
    t, x, w = _check(task_idx, values, weights)
    n = int(t.max()) + 1
    tot = np.bincount(t, weights=w, minlength=n)
    mean = np.bincount(t, weights=w * x, minlength=n)
    count = np.bincount(t, minlength=n)
    plain = np.bincount(t, weights=x, minlength=n) / np.maximum(count, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, mean / np.where(tot > 0, tot, 1), plain)


def weighted_median(task_idx, values, weights=None) -> np.ndarray:
    """Return each task's weighted median: the smallest answer holding half the weight."""
    t, x, w = _check(task_idx, values, weights)
    n = int(t.max()) + 1
    w = np.where(np.bincount(t, weights=w, minlength=n)[t] > 0, w, 1.0)
    order = np.lexsort((x, t))
    ts, xs, ws = t[order], x[order], w[order]
    cum = np.cumsum(ws)
    start_cum = np.concatenate([[0.0], cum])[np.searchsorted(ts, np.arange(n))]
    within = cum - start_cum[ts]
    half = 0.5 * np.bincount(ts, weights=ws, minlength=n)
    hits = np.flatnonzero(within >= half[ts] - 1e-12 * half[ts])
    tasks, first = np.unique(ts[hits], return_index=True)
    out = np.full(n, np.nan)
    out[tasks] = xs[hits[first]]
    return out


def numeric_mean(task_idx, values) -> NumericResult:
    """Aggregate each task by the mean answer."""
    return NumericResult("mean", weighted_mean(task_idx, values))


def numeric_median(task_idx, values) -> NumericResult:
    """Aggregate each task by the median answer (lower median for an even count)."""
    return NumericResult("median", weighted_median(task_idx, values))


def numeric_with_bias(task_idx, annotator_idx, values, *, shrinkage: float = 2.0,
                      max_iter: int = 50, tol: float = 1e-6) -> NumericResult:
    """Estimate truths, per-annotator bias and noise variance by alternating updates."""
    t, x, _ = _check(task_idx, values)
    a = np.asarray(annotator_idx, dtype=np.int64).ravel()
    if a.size != t.size or (a.size and a.min() < 0):
        raise ValueError("annotator_idx must hold one non-negative code per answer")
    n_ann = int(a.max()) + 1
    count = np.bincount(a, minlength=n_ann).astype(np.float64)
    truth = weighted_median(t, x)
    bias = np.zeros(n_ann)
    pooled = max(float(np.var(x - truth[t])), 1e-12)
    variance = np.full(n_ann, pooled)
    it = 0
    for it in range(1, max_iter + 1):
        resid = x - truth[t]
        bias = np.bincount(a, weights=resid, minlength=n_ann) / (count + shrinkage)
        resid -= bias[a]
        pooled = max(float(np.mean(resid**2)), 1e-12)
        sq = np.bincount(a, weights=resid**2, minlength=n_ann)
        variance = (sq + shrinkage * pooled) / (count + shrinkage)
        new = weighted_mean(t, x - bias[a], 1.0 / variance[a])
        shift = float(np.max(np.abs(new - truth), initial=0.0))
        truth = new
        if shift <= tol * max(1.0, float(np.max(np.abs(truth)))):
            break
    return NumericResult("bias_variance", truth, bias, variance, it)
