"""IBCC / EBCC against a slow, loop-per-answer reference of the same updates, on small inputs."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import digamma

from marketplace.inference import _vb, bcc
from marketplace.inference._checks import check_answers
from marketplace.inference.dawid_skene import initial_posteriors

from .conftest import make_crowd


def slow_bcc(a, M, seed, iterations):
    """Variational Bayes for IBCC (M = 1) / EBCC with EBCC's fixed prior, one answer at a time."""
    K, W, T = a.K, a.n_annotators, a.n_tasks
    beta = np.full((K, K), bcc.PRIOR_OFF_DIAGONAL) + np.eye(K) * (bcc.PRIOR_DIAGONAL - bcc.PRIOR_OFF_DIAGONAL)
    post = initial_posteriors(a)
    if M > 1:
        joint = post[:, :, None] * np.random.default_rng(seed).dirichlet(np.ones(M), size=(T, K))
    else:
        joint = post[:, :, None].copy()
    for _ in range(iterations):
        rows = np.zeros((W, K, M, K)) + beta[None, :, None, :]
        for t, w, label in zip(a.task, a.annotator, a.label):
            rows[w, :, :, label] += joint[t]
        classes = 1.0 + joint.sum(axis=(0, 2))
        shares = bcc.SUBTYPE_CONCENTRATION / M + joint.sum(axis=0)
        for t in range(T):
            logit = np.repeat((digamma(classes) - digamma(classes.sum()))[:, None], M, axis=1)
            if M > 1:
                logit = logit + digamma(shares) - digamma(shares.sum(axis=1, keepdims=True))
            for w, label in zip(a.annotator[a.task == t], a.label[a.task == t]):
                logit = logit + digamma(rows[w, :, :, label]) - digamma(rows[w].sum(axis=-1))
            if t in a.gold_tasks:
                logit[np.arange(K) != a.gold_labels[a.gold_tasks == t][0]] = -np.inf
            e = np.exp(logit - logit.max())
            joint[t] = e / e.sum()
    return joint, rows


@pytest.mark.parametrize("M, gold", [(1, None), (1, {0: 2, 3: 1}), (3, None), (2, {5: 0})])
def test_the_vectorised_fit_matches_the_slow_reference(monkeypatch, M, gold):
    monkeypatch.setattr(bcc, "EMPTY_SUBTYPE", 0.0)  # the reference never drops a subtype
    t, w, lab, _ = make_crowd(8, n_tasks=40, K=3, accuracies=(0.9, 0.8, 0.7, 0.6), per_task=3)
    a = check_answers(t, w, lab, 3, gold=gold)
    fast = bcc.fit(a, subtypes=M, pooled=False, seed=4, max_iter=12, tol=0.0)
    joint, rows = slow_bcc(a, M, seed=4, iterations=12)
    np.testing.assert_allclose(fast.joint, joint, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.rows, rows, rtol=1e-9)


ANCHOR = np.array([4.0, 1.0, 1.0])


def test_the_pooled_prior_is_the_type_ii_map_estimate():
    rng = np.random.default_rng(2)
    counts = np.vstack([rng.multinomial(n, p) for n, p in zip(rng.integers(1, 40, 60),
                                                               rng.dirichlet([6.0, 2.0, 1.0], 60))]).astype(float)
    counts[:5] *= 0.37  # soft counts, as the responsibilities give
    found = _vb.pooled_prior(ANCHOR.copy(), counts, ANCHOR, iterations=2000, tol=1e-13)
    direct = minimize(lambda x: -_vb.pooled_objective(np.exp(x), counts, ANCHOR), np.zeros(3), method="Nelder-Mead",
                      options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
    np.testing.assert_allclose(found, np.exp(direct.x), rtol=1e-3)
    assert _vb.pooled_objective(found, counts, ANCHOR) >= -direct.fun - 1e-6


def test_pooled_prior_steps_climb_the_objective():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 9, (30, 3)).astype(float)
    beta = np.array([0.3, 5.0, 1.0])
    for _ in range(30):
        step = _vb.pooled_prior(beta, counts, ANCHOR, iterations=1)
        assert _vb.pooled_objective(step, counts, ANCHOR) >= _vb.pooled_objective(beta, counts, ANCHOR) - 1e-6
        beta = step


def test_the_hyperprior_keeps_a_clean_or_tiny_crowd_informative():
    # Nobody errs in this row: maximum likelihood alone sends the strength to its bound and the
    # other answers' share to zero; the hyperprior keeps both finite.
    clean = np.array([[12.0, 0.0, 0.0], [7.0, 0.0, 0.0], [30.0, 0.0, 0.0]])
    beta = _vb.pooled_prior(ANCHOR.copy(), clean, ANCHOR, iterations=200)
    assert beta.sum() < 100 and beta[1:].min() > 0.1 and np.argmax(beta) == 0
    # No data: the anchor itself.
    np.testing.assert_allclose(_vb.pooled_prior(ANCHOR.copy(), np.zeros((0, 3)), ANCHOR), ANCHOR, rtol=1e-6)


def test_trigamma_matches_scipy():
    from scipy.special import polygamma

    x = np.concatenate([np.logspace(-6, 6, 500), np.linspace(0.01, 10, 500)])
    np.testing.assert_allclose(_vb.trigamma(x), polygamma(1, x), rtol=1e-9)
