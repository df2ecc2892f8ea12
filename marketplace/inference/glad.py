"""GLAD: task difficulty x annotator ability (Whitehill et al., NIPS 2009), K classes.

crowd-kit has GLAD, but evaluates Q and its gradient through pandas joins inside
`scipy.optimize.minimize`, which takes minutes on a million answers. Here Q and its gradient are
a few `np.bincount`s over the answers and the M-step is a short L-BFGS-B run warm-started from the
previous parameters.

Model: P(answer = true class) = sigmoid(alpha_w * beta_t), errors uniform over the other K - 1
classes, beta_t = exp(b_t) > 0. Priors: alpha ~ N(1, 1), b ~ N(1, 1) as in crowd-kit; class priors
are fixed (uniform unless `priors` is given), as in the paper and crowd-kit: learning them
lets GLAD drift toward the majority class on unbalanced data.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from ._checks import check_answers, check_priors
from ._core import clamp_gold, normalise_rows, one_coin_log_lik, softmax_rows, vote_matrix
from .result import InferenceResult


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def glad(
    task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None,
    n_annotators=None, alpha_prior: float = 1.0, log_beta_prior: float = 1.0,
    max_iter: int = 100, tol: float = 1e-6, m_step_iter: int = 25,
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
    x = np.concatenate([np.full(W, alpha_prior), np.full(N, log_beta_prior)])

    def negative_q(params, p_right):
        alpha, b = params[:W], params[W:]
        beta = np.exp(b)
        z = alpha[w] * beta[t]
        # log sigmoid(-z) = log sigmoid(z) - z: one logaddexp per evaluation, not two.
        q = _log_sigmoid(z).sum() - (1.0 - p_right) @ z
        q -= 0.5 * ((alpha - alpha_prior) @ (alpha - alpha_prior))
        q -= 0.5 * ((b - log_beta_prior) @ (b - log_beta_prior))
        g = p_right - expit(z)  # dQ/dz per answer
        grad_alpha = np.bincount(w, weights=g * beta[t], minlength=W) - (alpha - alpha_prior)
        grad_b = np.bincount(t, weights=g * z, minlength=N) - (b - log_beta_prior)
        return -q, -np.concatenate([grad_alpha, grad_b])

    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        p_right = post[t, lab]
        x = minimize(negative_q, x, args=(p_right,), jac=True, method="L-BFGS-B",
                     options={"maxiter": m_step_iter}).x
        z = x[:W][w] * np.exp(x[W:])[t]
        log_post = one_coin_log_lik(t, lab, _log_sigmoid(z), _log_sigmoid(-z) - log_k1, N, K)
        log_post += np.log(class_priors)
        post, log_evidence = softmax_rows(log_post)
        clamp_gold(post, a.gold_tasks, a.gold_labels)
        log_lik = float(log_evidence.sum())
        if abs(log_lik - previous) <= tol * max(1.0, abs(log_lik)):
            converged = True
            break
        previous = log_lik
    alpha, beta = x[:W], np.exp(x[W:])
    return InferenceResult(
        method="glad", labels=post.argmax(axis=1), posteriors=post, skill=alpha,
        priors=class_priors, n_iter=it, log_likelihood=log_lik, converged=converged,
        extra={"task_ease": beta},
    )
