"""Variational-Bayes building blocks: Dirichlet expectations and KL terms, and the pooled prior.

The Bayesian confusion models give every annotator's confusion row a Dirichlet prior shared by all
annotators. "Pooled" means that prior is not fixed by hand but learned from every annotator's
answers (empirical Bayes, type-II maximum likelihood inside variational EM): with the answers'
class responsibilities held fixed, the evidence lower bound as a function of the prior's
parameters beta is the Dirichlet-multinomial (Polya) log-likelihood of the annotators' expected
counts,

    sum_w  log B(beta + n_w) - log B(beta),       B(a) = prod Gamma(a_l) / Gamma(sum a),

It learns both the population's average row (the mean m) and how alike annotators are (the
strength s = sum beta). An annotator with 3 answers is then judged mostly by the population; one
with 3,000 by their own answers, and the data decide where between the two a given crowd sits.

Maximum likelihood alone fails on little or clean data: a row nobody errs in drives its
off-diagonal mean to zero and its strength to infinity (every annotator then "never errs", and one
disagreeing answer vetoes a class), and with every answer alike nothing ties row k to answer k.
So the prior gets a weak hyperprior (type-II MAP, the usual remedy; Paun et al., TACL 2018, put
weakly informative hyperpriors on every hierarchical annotation model), centred on EBCC's fixed
prior (4 on the right answer, 1 elsewhere): its row as pseudo-counts on the mean,
m ~ Dirichlet(1 + anchor), and log s ~ N(log sum(anchor), 1). A few hundred answers outweigh it.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

STRENGTH_BOUNDS = (1e-2, 1e6)  # a guard; the hyperprior keeps s far from both
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


def pooled_objective(beta: np.ndarray, counts: np.ndarray, anchor: np.ndarray) -> float:
    """The type-II MAP objective: the Polya log-likelihood plus the log hyperprior (see the module doc)."""
    s = beta.sum()
    m = beta / s
    log_prior = float((anchor * np.log(np.maximum(m, _FLOOR))).sum()) - 0.5 * (np.log(s) - np.log(anchor.sum())) ** 2
    return polya_log_lik(beta, counts) + log_prior


def pooled_prior(beta: np.ndarray, counts: np.ndarray, anchor: np.ndarray, iterations: int = 10,
                 tol: float = 1e-6) -> np.ndarray:
    """Move a Dirichlet prior `beta` (K,) towards the type-II MAP estimate for count rows `counts` (units, K).

    beta = s * m, updated in turn (Minka, section 3.3): the strength by a Newton step on log s
    (clipped to a factor e, and a plain gradient step where the objective is not concave there),
    the mean by the fixed point m_l <- (anchor_l + m_l s G_l) / sum_j (anchor_j + m_j s G_j),
    G_l = sum_u [psi(s m_l + n_ul) - psi(s m_l)]. Inside variational EM a round or two from the
    previous estimate per iteration is enough: the prior and the posteriors then move together.
    (Solving it outright while the posteriors are still the vote's start was tried, without the
    hyperprior: a majority class's row ran off to its bound and on D_Product the classes swapped.)
    """
    totals = counts.sum(axis=1)
    counts, totals = counts[totals > _FLOOR], totals[totals > _FLOOR]
    s = float(beta.sum())
    mean = np.maximum(beta / s, _FLOOR)
    centre = np.log(anchor.sum())
    low, high = np.log(STRENGTH_BOUNDS)
    for _ in range(iterations):
        a = s * mean
        gain = (digamma(a + counts) - digamma(a)).sum(axis=0) if counts.size else np.zeros_like(mean)
        first = (digamma(s) - digamma(s + totals)).sum() + (mean * gain).sum()
        second = (trigamma(np.array([s]))[0] * totals.size - trigamma(s + totals).sum()
                  + (mean * mean * (trigamma(a + counts) - trigamma(a))).sum()) if counts.size else 0.0
        x = np.log(s)
        grad = s * first - (x - centre)
        curvature = s * first + s * s * second - 1.0
        step = -grad / curvature if curvature < 0 else grad
        x = float(np.clip(x + np.clip(step, -1.0, 1.0), low, high))
        moved = anchor + mean * s * gain
        moved = np.maximum(moved / moved.sum(), _FLOOR)
        change = max(abs(np.exp(x) - s) / s, float(np.abs(moved - mean).max()))
        s, mean = float(np.exp(x)), moved
        if change < tol:
            break
    return s * mean


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


def diagonal_prior(K: int, diagonal: float, off_diagonal: float) -> np.ndarray:
    """A (K, K) Dirichlet parameter per true class: `diagonal` on the right answer, `off_diagonal` elsewhere."""
    return np.full((K, K), off_diagonal) + np.eye(K) * (diagonal - off_diagonal)
