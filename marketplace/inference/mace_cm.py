"""MACE with a crowd-wide confusion matrix: competent annotators err alike, the rest spam their own way.

MACE (Hovy et al., NAACL 2013; mace.py) lets an annotator who "knows" answer the truth itself, so
every systematic error (a graded scale's top grade answered one step down, two similar breeds
swapped) is read as spam. Dawid-Skene gives every annotator a whole confusion matrix, which an
annotator with a handful of answers cannot fill. This model keeps MACE's two parameters per
annotator and lets the knowing answer pass through one confusion matrix C shared by the crowd (the
pooled model of Paun et al., TACL 2018, for what competent annotators do):

    P(answer l | true class k) = theta_w C[k, l] + (1 - theta_w) xi_w[l].

theta gets MACE's Beta(`competence_prior`) prior and xi MACE's `spam_smoothing` pseudo-counts per
label. C's Dirichlet prior is centred on MACE's own assumption: each row has `confusion_smoothing`
pseudo-counts per answer (Laplace's rule) plus K times as many on the right answer, so a crowd of a
few answers (one annotator, three tasks) still reads a knowing answer as the truth, while the
crowd's pooled answers outweigh it as soon as there are a few hundred. EM, started from the
majority vote. Every parameter depends on an answer only through its (annotator, label) pair, so
an iteration works on Dawid-Skene's statistics (the expected answers l of w on tasks of class k,
two sparse products over the answers), split into "knew" and "spammed" by their odds under the
model: about 3-4 DS fits' time on the shared datasets. Deterministic: no restarts, no random start.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_answers, check_priors
from ._core import answer_matrices, clamp_gold, normalise_rows, vote_matrix
from .dawid_skene import checked_start, clamp_gold_t, e_step, expected_counts
from .result import InferenceResult


def mace_cm(
    task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None,
    n_annotators=None, competence_prior: tuple[float, float] = (2.0, 1.0), spam_smoothing: float = 1.0,
    confusion_smoothing: float = 1.0, max_iter: int = 100, tol: float = 1e-7, start=None,
) -> InferenceResult:
    """Infer true labels, each annotator's competence and spamming, and the crowd's confusion matrix by EM.

    `confusion` of the result is every annotator's whole matrix theta_w C + (1 - theta_w) xi_w (what
    the submit path and the stacking read); `extra["crowd_confusion"]` is C, `extra["spamming"]` xi.
    """
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    K, W = a.K, a.n_annotators
    fixed_priors = check_priors(priors, K)
    a0, b0 = competence_prior
    n_answers = np.bincount(a.annotator, minlength=W).astype(np.float64)
    A, AT = answer_matrices(a.task, a.annotator, a.label, a.n_tasks, W, K)
    if start is None:
        post = normalise_rows(vote_matrix(a.task, a.label, a.n_tasks, K))
        clamp_gold(post, a.gold_tasks, a.gold_labels)
    else:
        post = checked_start(start, a)
    post_t = np.ascontiguousarray(post.T)  # [class k, task t]
    theta = np.full(W, a0 / (a0 + b0))
    xi = np.full((W, K), 1.0 / K)
    crowd = np.full((K, K), 1.0 / K)  # the first M-step reads C off the vote: it starts from no opinion
    counts = np.empty((K, W * K))
    prior = confusion_smoothing * (1.0 + K * np.eye(K))  # C's Dirichlet: centred on MACE's "a knower is right"
    previous, converged, it, log_lik = -np.inf, False, 0, -np.inf
    for it in range(1, max_iter + 1):
        # M-step. A model of (annotator, answer) pairs: the expected answers l of w on tasks of class k
        # (Dawid-Skene's statistics), each split into "knew" and "spammed" by its odds under the model.
        counts3, class_priors = expected_counts(AT, post_t, counts, fixed_priors)  # [k, w, l]
        knowing = theta[None, :, None] * crowd[:, None, :]
        knew = counts3 * knowing / (knowing + ((1.0 - theta)[:, None] * xi)[None, :, :])
        theta = (knew.sum(axis=(0, 2)) + a0 - 1.0) / (n_answers + a0 + b0 - 2.0)
        theta = np.clip(theta, 1e-6, 1.0 - 1e-6)
        crowd = knew.sum(axis=1) + prior
        crowd /= crowd.sum(axis=1, keepdims=True)
        xi = (counts3 - knew).sum(axis=0) + spam_smoothing
        xi /= xi.sum(axis=1, keepdims=True)
        # E-step on every annotator's whole matrix.
        rows = theta[None, :, None] * crowd[:, None, :] + ((1.0 - theta)[:, None] * xi)[None, :, :]
        post_t, log_evidence = e_step(np.log(rows).reshape(K, W * K), np.log(class_priors), A)
        clamp_gold_t(post_t, a)
        log_lik = float(log_evidence.sum())
        if abs(log_lik - previous) <= tol * max(1.0, abs(log_lik)):
            converged = True
            break
        previous = log_lik
    confusion = theta[:, None, None] * crowd[None, :, :] + (1.0 - theta)[:, None, None] * xi[:, None, :]
    post = np.ascontiguousarray(post_t.T)
    return InferenceResult(
        method="mace_cm", labels=post.argmax(axis=1), posteriors=post, skill=theta,
        confusion=confusion, priors=class_priors, n_iter=it, log_likelihood=log_lik,
        converged=converged, extra={"crowd_confusion": crowd, "spamming": xi},
    )
