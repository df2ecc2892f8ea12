"""Variational-Bayes building blocks: Dirichlet expectations and KL terms, and the pooled prior.

The Bayesian confusion models give every annotator's confusion row a Dirichlet prior shared by all
annotators. "Pooled" means that prior is not fixed by hand but learned from every annotator's
answers (empirical Bayes, type-II maximum likelihood inside variational EM): with the answers'
class responsibilities held fixed, the evidence lower bound as a function of the prior's
parameters beta is the Dirichlet-multinomial (Polya) log-likelihood of the annotators' expected
counts,

    sum_w  log B(beta + n_w) - log B(beta),       B(a) = prod Gamma(a_l) / Gamma(sum a),

and Minka's fixed point ("Estimating a Dirichlet distribution", 2000/2012, section 3) climbs it:

    beta_l <- beta_l * sum_w [psi(beta_l + n_wl) - psi(beta_l)] / sum_w [psi(s + N_w) - psi(s)].

It learns both the population's average row (the mean) and how alike annotators are (the strength
s = sum beta). An annotator with 3 answers is then judged mostly by the population; one with 3,000
by their own answers, and the data decide where between the two a given crowd sits.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

STRENGTH_BOUNDS = (1e-2, 1e6)  # keeps s finite when every annotator looks alike (or all differ)
_FLOOR = 1e-8


def expected_log(params: np.ndarray) -> np.ndarray:
    """E[log p] under Dirichlet(params) along the last axis."""
    return digamma(params) - digamma(params.sum(axis=-1, keepdims=True))


def expected_log_and_kl(post: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, float]:
    """E[log p] under Dirichlet(post) and the summed KL(Dir(post) || Dir(prior)), sharing the digammas."""
    prior = np.broadcast_to(prior, post.shape)
    post_sum = post.sum(axis=-1)
    dg, dg_sum = digamma(post), digamma(post_sum)
    log_p = dg - dg_sum[..., None]
    kl = (gammaln(post_sum) - gammaln(prior.sum(axis=-1))).sum() - (gammaln(post) - gammaln(prior)).sum()
    kl += ((post - prior) * log_p).sum()
    return log_p, float(kl)


def dirichlet_kl(post: np.ndarray, prior: np.ndarray) -> float:
    """Sum of KL(Dir(post) || Dir(prior)) over all leading axes (last axis: categories)."""
    prior = np.broadcast_to(prior, post.shape)
    post_sum, prior_sum = post.sum(axis=-1), prior.sum(axis=-1)
    kl = gammaln(post_sum) - gammaln(prior_sum) - (gammaln(post) - gammaln(prior)).sum(axis=-1)
    kl += ((post - prior) * (digamma(post) - digamma(post_sum)[..., None])).sum(axis=-1)
    return float(kl.sum())


def polya_log_lik(beta: np.ndarray, counts: np.ndarray) -> float:
    """Dirichlet-multinomial log-likelihood of count rows `counts` (units, K) under `beta` (K,)."""
    s = beta.sum()
    totals = counts.sum(axis=1)
    return float((gammaln(s) - gammaln(s + totals)).sum() + (gammaln(beta + counts) - gammaln(beta)).sum())


def pooled_prior(beta: np.ndarray, counts: np.ndarray, iterations: int = 10, tol: float = 1e-6) -> np.ndarray:
    """Move a Dirichlet prior `beta` (K,) towards the type-II ML estimate for count rows `counts` (units, K).

    Newton steps on the Polya log-likelihood (Minka, section 3: its Hessian is a diagonal plus a
    constant, inverted in O(K)), kept within a factor of two of the previous estimate, and
    replaced by the fixed-point step (always positive, never lowering the likelihood) whenever
    that one does better. Inside variational EM a few steps from the previous estimate per
    iteration are enough: the prior and the posteriors then move together. (Solving for the
    prior outright while the posteriors are still the vote's start was tried: the strength of a
    majority class's row runs off to its bound, every annotator looks alike there, and on
    D_Product the classes swapped.) Units without counts carry no information and are skipped.
    """
    counts = counts[counts.sum(axis=1) > _FLOOR]
    if counts.shape[0] == 0:
        return beta
    beta = np.maximum(beta, _FLOOR)
    totals = counts.sum(axis=1)
    for _ in range(iterations):
        s = beta.sum()
        spent = (digamma(s + totals) - digamma(s)).sum()
        gain = (digamma(beta + counts) - digamma(beta)).sum(axis=0)
        grad = gain - spent
        q = (trigamma(beta + counts) - trigamma(beta)).sum(axis=0)
        z = float((trigamma(np.array([s])) - trigamma(s + totals)).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = beta - (grad - (grad / q).sum() / (1.0 / z + (1.0 / q).sum())) / q
        fixed_point = np.maximum(beta * gain / spent, _FLOOR)
        updated = fixed_point
        if np.all(np.isfinite(newton)) and np.all(newton > 0):
            clipped = np.clip(newton, 0.5 * beta, 2.0 * beta)
            if polya_log_lik(clipped, counts) > polya_log_lik(fixed_point, counts):
                updated = clipped
        updated = _bounded(updated)
        change = np.abs(updated - beta).max() / beta.max()
        beta = updated
        if change < tol:
            break
    return beta


def trigamma(x: np.ndarray) -> np.ndarray:
    """psi'(x) for x > 0: psi'(x) = sum_{i<6} 1/(x+i)^2 + psi'(x+6), the last by its asymptotic series.

    Relative error below 1e-9. scipy's polygamma(1, x) goes through the Hurwitz zeta function
    and is ~20x slower on arrays.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape)
    for i in range(6):
        out += 1.0 / (x + i) ** 2
    inv = 1.0 / (x + 6.0)
    inv2 = inv * inv
    out += inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))
    return out


def _bounded(beta: np.ndarray) -> np.ndarray:
    strength = beta.sum()
    low, high = STRENGTH_BOUNDS
    if low <= strength <= high:
        return beta
    return beta * (min(max(strength, low), high) / strength)


def diagonal_prior(K: int, diagonal: float, off_diagonal: float) -> np.ndarray:
    """A (K, K) Dirichlet parameter per true class: `diagonal` on the right answer, `off_diagonal` elsewhere."""
    return np.full((K, K), off_diagonal) + np.eye(K) * (diagonal - off_diagonal)
