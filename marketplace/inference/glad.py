"""GLAD: task difficulty x annotator ability (Whitehill et al., NIPS 2009), K classes.

crowd-kit has GLAD, but evaluates Q and its gradient through pandas joins inside
`scipy.optimize.minimize`, which takes minutes on a million answers. Here the M-step is a couple of
block Newton sweeps (all annotator abilities at once, then all task difficulties at once), each a
few `np.bincount`s over the answers, warm-started from the previous parameters.

Model: P(answer = true class) = sigmoid(alpha_w * beta_t), errors uniform over the other K - 1
classes, beta_t = exp(b_t) > 0. Priors: alpha ~ N(1, 1), b ~ N(1, 1) as in crowd-kit; class priors
are fixed (uniform unless `priors` is given), as in the paper and crowd-kit: learning them
lets GLAD drift toward the majority class on unbalanced data.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ._checks import check_answers, check_priors
from ._core import clamp_gold, normalise_rows, one_coin_log_lik, softmax_rows, vote_matrix
from .result import InferenceResult


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _newton_alpha(alpha, b, p_right, t, w, W, prior_mean):
    # Given the task parameters, Q is concave and separable in the alphas: one exact Newton step.
    beta_t = np.exp(b)[t]
    s = expit(alpha[w] * beta_t)
    grad = np.bincount(w, weights=(p_right - s) * beta_t, minlength=W) - (alpha - prior_mean)
    curv = np.bincount(w, weights=s * (1.0 - s) * beta_t**2, minlength=W) + 1.0
    return alpha + grad / curv


def _newton_log_beta(alpha, b, p_right, t, w, N, prior_mean):
    # Q is separable but not concave in b = log beta; |g z| keeps the curvature an upper bound,
    # so the step never overshoots, and the step is capped at 1 in log space.
    z = alpha[w] * np.exp(b)[t]
    s = expit(z)
    gz = (p_right - s) * z
    grad = np.bincount(t, weights=gz, minlength=N) - (b - prior_mean)
    curv = np.bincount(t, weights=s * (1.0 - s) * z * z + np.abs(gz), minlength=N) + 1.0
    return b + np.clip(grad / curv, -1.0, 1.0)


def glad(
    task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None,
    n_annotators=None, alpha_prior: float = 1.0, log_beta_prior: float = 1.0,
    max_iter: int = 100, tol: float = 1e-5, m_step_iter: int = 1,
) -> InferenceResult:
    """Infer true labels, annotator abilities and task difficulties with GLAD EM."""
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    K, W, N = a.K, a.n_annotators, a.n_tasks
    class_priors = check_priors(priors, K)
    if class_priors is None:
        class_priors = np.full(K, 1.0 / K)
    t, w, lab = a.task, a.annotator, a.label
    log_k1 = np.log(K - 1)
    post = normalise_rows(vote_matrix(t, lab, N, K))
    clamp_gold(post, a.gold_tasks, a.gold_labels)
    alpha, b = np.full(W, alpha_prior), np.full(N, log_beta_prior)

    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        p_right = post[t, lab]
        # Fit abilities to the majority-vote start properly first: one sweep from the flat
        # initial values can overshoot into the label-flipped (negative ability) solution.
        for _ in range(5 * m_step_iter if it == 1 else m_step_iter):
            alpha = _newton_alpha(alpha, b, p_right, t, w, W, alpha_prior)
            b = _newton_log_beta(alpha, b, p_right, t, w, N, log_beta_prior)
        z = alpha[w] * np.exp(b)[t]
        log_post = one_coin_log_lik(t, lab, _log_sigmoid(z), _log_sigmoid(-z) - log_k1, N, K)
        log_post += np.log(class_priors)
        post, log_evidence = softmax_rows(log_post)
        clamp_gold(post, a.gold_tasks, a.gold_labels)
        log_lik = float(log_evidence.sum())
        if abs(log_lik - previous) <= tol * max(1.0, abs(log_lik)):
            converged = True
            break
        previous = log_lik
    beta = np.exp(b)
    return InferenceResult(
        method="glad", labels=post.argmax(axis=1), posteriors=post, skill=alpha,
        priors=class_priors, n_iter=it, log_likelihood=log_lik, converged=converged,
        extra={"task_ease": beta},
    )
