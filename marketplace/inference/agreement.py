"""Inter-annotator agreement: Krippendorff's alpha, Fleiss' kappa, Cohen's kappa, % agreement.

Written here rather than depending on the `krippendorff` or `statsmodels` packages: each is a
few array operations on a units x values count matrix, and the app needs them on integer codes.
"""

from __future__ import annotations

import numpy as np


def _counts_from_matrix(data) -> tuple[np.ndarray, np.ndarray]:
    """Turn a coders x units matrix (NaN = missing) into units x values counts and the values."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError("reliability data must be a coders x units matrix")
    coders, units = np.nonzero(~np.isnan(arr))
    if units.size == 0:
        raise ValueError("reliability data holds no values")
    values, codes = np.unique(arr[coders, units], return_inverse=True)
    counts = np.bincount(units * values.size + codes, minlength=arr.shape[1] * values.size)
    return counts.reshape(arr.shape[1], values.size).astype(np.float64), values


def _delta(level: str, values: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    if level == "nominal":
        return 1.0 - np.eye(values.size)
    if level == "interval":
        return (values[:, None] - values[None, :]) ** 2
    if level == "ordinal":
        cum = np.cumsum(n_c)
        # sum of n_g for g between c and k inclusive, minus half the two ends.
        lo = np.minimum.outer(np.arange(values.size), np.arange(values.size))
        hi = np.maximum.outer(np.arange(values.size), np.arange(values.size))
        between = cum[hi] - np.concatenate([[0.0], cum])[lo]
        return (between - (n_c[:, None] + n_c[None, :]) / 2.0) ** 2
    raise ValueError(f"level must be 'nominal', 'ordinal' or 'interval', got {level!r}")


def krippendorff_alpha(data, level: str = "nominal") -> float:
    """Return Krippendorff's alpha of a coders x units matrix, NaN marking missing values.

    With no variation at all (every pairable value equal) alpha is undefined; 1.0 is returned.
    """
    counts, values = _counts_from_matrix(data)
    return krippendorff_alpha_counts(counts, values, level)


def krippendorff_alpha_counts(counts, values=None, level: str = "nominal") -> float:
    """Return Krippendorff's alpha from a units x values count matrix (values default to 0..V-1).

    The form to use with many coders: no coders x units matrix, which would be mostly empty.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError("counts must be a units x values matrix")
    values = np.arange(counts.shape[1], dtype=np.float64) if values is None else np.asarray(values, dtype=np.float64)
    m = counts.sum(axis=1)
    counts = counts[m >= 2]
    m = m[m >= 2]
    if counts.size == 0:
        raise ValueError("no unit has two or more values: alpha needs pairable values")
    scaled = counts / (m - 1.0)[:, None]
    coincidence = scaled.T @ counts - np.diag(scaled.sum(axis=0))
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    delta = _delta(level, values, n_c)
    expected = (np.outer(n_c, n_c) * delta).sum()
    if expected == 0:
        return 1.0
    return float(1.0 - (n - 1.0) * (coincidence * delta).sum() / expected)


def fleiss_kappa(counts) -> float:
    """Return Fleiss' kappa of a units x categories count matrix (same raters per unit)."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0:
        raise ValueError("counts must be a non-empty units x categories matrix")
    raters = c.sum(axis=1)
    if np.any(raters != raters[0]) or raters[0] < 2:
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings for every unit")
    r = raters[0]
    p_unit = ((c * (c - 1)).sum(axis=1)) / (r * (r - 1))
    p_cat = c.sum(axis=0) / c.sum()
    p_bar, p_e = p_unit.mean(), (p_cat**2).sum()
    if p_e == 1.0:
        return 1.0
    return float((p_bar - p_e) / (1.0 - p_e))


def cohens_kappa(labels_a, labels_b, K: int | None = None) -> float:
    """Return Cohen's kappa between two raters' integer labels of the same units."""
    a = np.asarray(labels_a, dtype=np.int64).ravel()
    b = np.asarray(labels_b, dtype=np.int64).ravel()
    if a.size != b.size or a.size == 0:
        raise ValueError("both raters must label the same non-empty list of units")
    if min(a.min(), b.min()) < 0:
        raise ValueError("labels must be non-negative integer codes")
    K = int(max(a.max(), b.max()) + 1) if K is None else int(K)
    table = np.bincount(a * K + b, minlength=K * K).reshape(K, K) / a.size
    p_o = np.trace(table)
    p_e = table.sum(axis=1) @ table.sum(axis=0)
    if p_e == 1.0:
        return 1.0
    return float((p_o - p_e) / (1.0 - p_e))


def percent_agreement(counts) -> float:
    """Return the share of agreeing rater pairs, averaged over units with two or more ratings."""
    c = np.asarray(counts, dtype=np.float64)
    m = c.sum(axis=1)
    keep = m >= 2
    if not keep.any():
        raise ValueError("no unit has two or more ratings")
    agree = (c[keep] * (c[keep] - 1)).sum(axis=1) / (m[keep] * (m[keep] - 1))
    return float(agree.mean())
