"""Community Dawid-Skene: annotators pooled towards the community they behave like, not the whole crowd.

`dawid_skene` pulls every annotator's confusion matrix towards one prior mean, the population's
average annotator. That is the right pull for a crowd of one kind; a real crowd has kinds
(careful annotators, hurried ones who answer the commonest class, annotators who read a scale
one step off), and pooling a sparse annotator towards the average of all of them mixes kinds
that should stay apart. Here the prior mean is a mixture of C community matrices, the idea of
community-based Bayesian classifier combination (Venanzi, Guiver, Kazai, Kohli & Shokouhi,
WWW 2014), in Dawid-Skene's MAP form:

- community c has a confusion matrix M_c, the pooled expected counts of its members;
- annotator w belongs to community c with probability R[w, c], proportional to the community's
  share times the likelihood of w's expected counts under M_c (so an annotator with many answers
  is placed confidently, one with two answers stays spread over the communities);
- w's own matrix gets `smoothing` imaginary answers per class from sum_c R[w, c] M_c, spread
  over the true classes by the class priors, exactly as `dawid_skene`'s population prior does.

With one community this is `dawid_skene` (same start, same updates, same output). EM starts from
the Wawa vote; the communities start as the quantiles of each annotator's agreement with it
(deterministic: no random restart). The default (`auto`) blends it, with the strong prior, with the
other models by held-out answer likelihood.

DEFAULT_COMMUNITIES = 3 was set before any dataset was run: careful, hurried, biased is the
smallest split the literature describes. On the shared crowds, `auto` with 2, 3 and 4 communities as
three candidates scored +0.08 pt of mean accuracy more than with 3 alone, and calibrated worse on
MS and S_Rel (ECE with 10% gold .059 / .050 against .053 / .027): one candidate was kept.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_answers, check_priors
from ._core import answer_matrices
from .dawid_skene import (DEFAULT_SMOOTHING, _converged, _initial_posteriors_t, checked_start, expected_counts,
                          map_step)
from .result import InferenceResult

DEFAULT_COMMUNITIES = 3
_TINY = np.finfo(np.float64).eps


def initial_communities(a, post_t: np.ndarray, communities: int) -> np.ndarray:
    """(W, C) memberships: annotators ranked by their agreement with the starting labels, cut into C equal groups."""
    W = a.n_annotators
    top = post_t.argmax(axis=0)
    answers = np.bincount(a.annotator, minlength=W)
    hits = np.bincount(a.annotator, weights=(a.label == top[a.task]).astype(np.float64), minlength=W)
    rate = (hits + 1.0) / (answers + 2.0)  # Laplace: an annotator without answers sits in the middle
    rank = np.empty(W, dtype=np.int64)
    rank[np.argsort(-rate, kind="stable")] = np.arange(W)
    members = np.zeros((W, communities))
    members[np.arange(W), np.minimum(rank * communities // max(W, 1), communities - 1)] = 1.0
    return members


def community_dawid_skene(
    task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None, n_annotators=None,
    communities: int = DEFAULT_COMMUNITIES, smoothing: float = DEFAULT_SMOOTHING, max_iter: int = 100,
    tol: float = 1e-5, start=None,
) -> InferenceResult:
    """Dawid-Skene whose confusion prior is the mixture of `communities` learned community matrices.

    `extra["communities"]` holds the (C, K, K) community matrices, `extra["membership"]` the
    (W, C) memberships and `extra["prior_confusion"]` the population's average of the communities
    (what `task_posterior` can use for an annotator the model has not seen). `start` (n_tasks, K)
    replaces the Wawa start, as in dawid_skene (the communities are then cut from it).
    """
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    if int(communities) != communities or communities < 1:
        raise ValueError(f"communities must be a positive integer, got {communities!r}")
    strength = float(smoothing)
    if not strength >= 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    K, W, C = a.K, a.n_annotators, int(communities)
    fixed_priors = check_priors(priors, K)
    A, AT = answer_matrices(a.task, a.annotator, a.label, a.n_tasks, W, K)
    post_t = _initial_posteriors_t(a) if start is None else checked_start(start, a).T.copy()  # [class k, task t]
    members = initial_communities(a, post_t, C)
    counts = np.empty((K, W * K))  # [true k, (annotator w, answer l)]
    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        counts3, class_priors = expected_counts(AT, post_t, counts, fixed_priors)
        # Communities from their members' expected counts, then each annotator's membership from
        # how likely its own counts are under each community (one pass of a mixture's EM).
        means = np.einsum("wc,kwl->ckl", members, counts3) + _TINY
        means /= means.sum(axis=2, keepdims=True)
        share = members.sum(axis=0) / max(W, 1) + _TINY
        fit = np.einsum("kwl,ckl->wc", counts3, np.log(means)) + np.log(share)
        fit -= fit.max(axis=1, keepdims=True)
        members = np.exp(fit)
        members /= members.sum(axis=1, keepdims=True)
        mean = np.einsum("wc,ckl->kwl", members, means)  # each annotator's prior mean, [true k, w, answer l]
        pseudo = (strength * K) * class_priors[:, None, None] * mean
        conf, post_t, log_lik, objective = map_step(counts3, pseudo, class_priors, A, a)
        if _converged(objective, previous, tol):
            converged = True
            break
        previous = objective
    confusion = np.ascontiguousarray(conf.transpose(1, 0, 2))  # [annotator, true k, answer l]
    population = np.einsum("c,ckl->kl", members.mean(axis=0) if W else np.full(C, 1.0 / C), means)
    post = np.ascontiguousarray(post_t.T)
    return InferenceResult(
        method="cds", labels=post.argmax(axis=1), posteriors=post,
        skill=np.einsum("wkk,k->w", confusion, class_priors), confusion=confusion, priors=class_priors,
        n_iter=it, log_likelihood=log_lik, converged=converged,
        extra={"communities": means, "membership": members, "prior_confusion": population},
    )
