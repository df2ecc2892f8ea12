"""MACE: Multi-Annotator Competence Estimation (Hovy et al., NAACL 2013), vectorised EM.

crowd-kit has MACE with 10 random restarts of per-iteration pandas work; here a single
deterministic EM started from the majority vote, each step a few `np.bincount`s over the answers.

Model: annotator w answers the truth with probability theta_w ("knows"), otherwise draws a label
from its own spamming distribution xi_w, so P(l | k) = theta_w [l = k] + (1 - theta_w) xi_w[l].
theta gets a Beta(`competence_prior`) prior, xi `spam_smoothing` pseudo-counts per label.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_answers, check_priors
from ._core import clamp_gold, learned_priors, normalise_rows, one_coin_log_lik, softmax_rows, vote_matrix
from .dawid_skene import checked_start
from .result import InferenceResult


def mace(
    task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None,
    n_annotators=None, competence_prior: tuple[float, float] = (2.0, 1.0),
    spam_smoothing: float = 1.0, max_iter: int = 100, tol: float = 1e-7, start=None,
) -> InferenceResult:
    """Infer true labels, annotator competence and spamming strategies with MACE EM (`start`: initial posteriors)."""
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    K, W, N = a.K, a.n_annotators, a.n_tasks
    fixed_priors = check_priors(priors, K)
    t, w, lab = a.task, a.annotator, a.label
    a0, b0 = competence_prior
    n_answers = np.bincount(w, minlength=W).astype(np.float64)
    if start is None:
        post = normalise_rows(vote_matrix(t, lab, N, K))
        clamp_gold(post, a.gold_tasks, a.gold_labels)
    else:
        post = checked_start(start, a)
    theta = np.full(W, a0 / (a0 + b0))
    xi = np.full((W, K), 1.0 / K)
    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        # M-step from expected "knew it" / "spammed" indicators of every answer.
        p_true = post[t, lab]
        spam_mass = (1.0 - theta[w]) * xi[w, lab]
        p_knew = p_true * theta[w] / (theta[w] + spam_mass)
        knew = np.bincount(w, weights=p_knew, minlength=W)
        theta = (knew + a0 - 1.0) / (n_answers + a0 + b0 - 2.0)
        theta = np.clip(theta, 1e-6, 1.0 - 1e-6)
        spam = np.bincount(w * K + lab, weights=1.0 - p_knew, minlength=W * K).reshape(W, K)
        xi = (spam + spam_smoothing) / (spam + spam_smoothing).sum(axis=1, keepdims=True)
        class_priors = fixed_priors if fixed_priors is not None else learned_priors(post)
        # E-step.
        spam_mass = (1.0 - theta[w]) * xi[w, lab]
        log_post = one_coin_log_lik(t, lab, np.log(theta[w] + spam_mass), np.log(spam_mass), N, K)
        log_post += np.log(class_priors)
        post, log_evidence = softmax_rows(log_post)
        clamp_gold(post, a.gold_tasks, a.gold_labels)
        log_lik = float(log_evidence.sum())
        if abs(log_lik - previous) <= tol * max(1.0, abs(log_lik)):
            converged = True
            break
        previous = log_lik
    confusion = (1.0 - theta)[:, None, None] * xi[:, None, :] + theta[:, None, None] * np.eye(K)
    return InferenceResult(
        method="mace", labels=post.argmax(axis=1), posteriors=post, skill=theta,
        confusion=confusion, priors=class_priors, n_iter=it, log_likelihood=log_lik,
        converged=converged, extra={"spamming": xi},
    )
