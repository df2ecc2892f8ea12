"""Dawid-Skene (full confusion matrix per annotator) and one-coin Dawid-Skene (ZenCrowd).

crowd-kit has both, but its EM runs through pandas group-bys and joins (about 0.4 s per iteration
on a million answers, and much slower with string ids). Here an iteration is two sparse x dense
products over the answers plus a normalisation over tasks, and the model adds what crowd-kit's
lacks: a Dirichlet prior on every confusion row (so an annotator with two answers is judged
mostly by the prior), learned or fixed class priors, gold tasks clamped in every E-step, a start
from the Wawa vote rather than the plain majority (see `_initial_posteriors_t`), and convergence
on the relative change of the MAP objective.

The confusion prior is empirical Bayes with partial pooling (the shared-prior idea of Kim &
Ghahramani's BCC and the hierarchical Dawid-Skene models that Paun et al., TACL 2018, found most
accurate): its mean is the population's average annotator, re-estimated in every M-step from all
annotators' expected counts, and its strength is `smoothing` imaginary answers per class,
spread over the true classes as they occur (row k gets `smoothing * K * prior_k` of them). An
annotator with two answers is therefore judged mostly as an average annotator; one with
hundreds barely feels the prior; rare classes' rows, which see few answers, are not swamped by a
prior worth as much as the data. `prior="fixed"` centres the prior on an annotator right with
`prior_accuracy` instead (errors uniform), the previous default.
"""

from __future__ import annotations

import numpy as np

from ._checks import Answers, check_answers, check_priors
from ._core import (answer_matrices, clamp_gold, learned_priors, normalise_rows,
                    one_coin_log_lik, softmax_columns, softmax_rows, vote_matrix)
from .result import InferenceResult

DEFAULT_PRIOR_ACCURACY = 0.7
DEFAULT_SMOOTHING = 1.0
PRIOR_KINDS = ("population", "fixed")
_TINY = np.finfo(np.float64).eps
_TIE_BREAK = 1e-12  # plain votes under the weighted ones: all-zero weights fall back to them


def prior_confusion(K: int, accuracy: float = DEFAULT_PRIOR_ACCURACY) -> np.ndarray:
    """Return the K x K confusion matrix of an annotator right with `accuracy`, errors uniform."""
    if not 0.0 < accuracy < 1.0:
        raise ValueError(f"accuracy must be strictly between 0 and 1, got {accuracy}")
    off = (1.0 - accuracy) / (K - 1)
    return np.full((K, K), off) + np.eye(K) * (accuracy - off)


def _initial_posteriors(a: Answers) -> np.ndarray:
    post = normalise_rows(vote_matrix(a.task, a.label, a.n_tasks, a.K))
    clamp_gold(post, a.gold_tasks, a.gold_labels)
    return post


def _converged(objective: float, previous: float, tol: float) -> bool:
    return abs(objective - previous) <= tol * max(1.0, abs(objective))


def _initial_posteriors_t(a: Answers) -> np.ndarray:
    """Wawa posteriors (votes weighted by agreement with the majority) in the (K, n_tasks) layout.

    EM only climbs to the optimum nearest its start, and the first M-step judges every annotator
    against the initial posteriors. Plain vote shares count a spammer's vote like anyone's; here
    each vote weighs the annotator's share of answers that agree with the task's majority (a
    tie splits the agreement evenly between the tied classes, so relabelling the classes changes
    nothing; a gold task's majority is its known answer). On a synthetic bed of 240 crowds
    (random, spammer-heavy, long-tailed, imbalanced, one-coin and low-accuracy, K = 2..5) this
    start beat the plain majority on 110 crowds and lost on 60 (+0.09 points of accuracy on
    average); on S_Rel it gains 17 of 4,460 gold items and on the 1M synthetic it costs 10 of
    200,000. A task whose annotators all have zero agreement keeps its plain vote shares; a task
    without answers is uniform.
    """
    flat = a.label * a.n_tasks + a.task
    votes = np.bincount(flat, minlength=a.K * a.n_tasks).reshape(a.K, a.n_tasks).astype(np.float64)
    top = (votes == votes.max(axis=0)).astype(np.float64)
    top /= top.sum(axis=0)
    agree = top  # [class k, task t]: the share of the majority class k holds
    if a.gold_tasks.size:
        agree[:, a.gold_tasks] = 0.0
        agree[a.gold_labels, a.gold_tasks] = 1.0
    answers = np.bincount(a.annotator, minlength=a.n_annotators)
    hits = np.bincount(a.annotator, weights=agree.ravel()[flat], minlength=a.n_annotators)
    agreement = hits / np.maximum(answers, 1)
    weighted = np.bincount(flat, weights=agreement[a.annotator], minlength=a.K * a.n_tasks)
    weighted = weighted.reshape(a.K, a.n_tasks) + _TIE_BREAK * votes
    totals = weighted.sum(axis=0)
    unanswered = totals == 0
    totals[unanswered] = 1.0
    weighted /= totals
    if unanswered.any():
        weighted[:, unanswered] = 1.0 / a.K
    clamp_gold_t(weighted, a)
    return weighted


def checked_start(start, a: Answers) -> np.ndarray:
    """A starting posterior (n_tasks, K): checked, normalised, gold clamped; a copy."""
    post = np.array(start, dtype=np.float64)
    if post.shape != (a.n_tasks, a.K) or not np.all(np.isfinite(post)) or np.any(post < 0):
        raise ValueError(f"start must be a ({a.n_tasks}, {a.K}) array of non-negative numbers")
    post = normalise_rows(post)
    clamp_gold(post, a.gold_tasks, a.gold_labels)
    return post


def initial_posteriors(a: Answers) -> np.ndarray:
    """Return the Wawa start every EM here begins from, (n_tasks, K): see `_initial_posteriors_t`."""
    return np.ascontiguousarray(_initial_posteriors_t(a).T)


def clamp_gold_t(post_t: np.ndarray, a: Answers) -> None:
    if a.gold_tasks.size:
        post_t[:, a.gold_tasks] = 0.0
        post_t[a.gold_labels, a.gold_tasks] = 1.0


def e_step(log_rows_t, log_priors, A) -> tuple[np.ndarray, np.ndarray]:
    """Return (K, n_tasks) posteriors and per-task log evidence.

    `log_rows_t[k, w * K + l]` is log P(annotator w answers l | true class k); one sparse
    matrix-vector product per class keeps every array contiguous.
    """
    K = log_rows_t.shape[0]
    log_post = np.empty((K, A.shape[0]))
    for k in range(K):
        log_post[k] = A @ log_rows_t[k]
        log_post[k] += log_priors[k]
    return softmax_columns(log_post)


def expected_counts(AT, post_t, out, fixed_priors):
    """The M-step's statistics: `out` (K, W * K) filled with the expected answers l of annotator w on
    tasks of class k, returned as [k, w, l]; the class priors (`fixed_priors`, else learned)."""
    K = out.shape[0]
    for k in range(K):
        out[k] = AT @ post_t[k]
    return out.reshape(K, -1, K), fixed_priors if fixed_priors is not None else learned_priors(post_t.T)


def map_step(counts3, pseudo, class_priors, A, a: Answers):
    """One M-step's confusion rows and the E-step after it, for every MAP Dawid-Skene variant here.

    `counts3[k, w, l]`: expected answers l of annotator w on tasks of class k; `pseudo` (broadcast to
    it): the prior's imaginary answers. Returns (rows [k, w, l], posteriors (K, n_tasks) with gold
    clamped, log-likelihood, MAP objective).
    """
    K, W = counts3.shape[0], counts3.shape[1]
    conf = counts3 + pseudo
    # A true class with no mass for this annotator (possible only with smoothing=0) gives a
    # uniform row rather than 0/0.
    np.maximum(conf, _TINY, out=conf)
    conf /= conf.sum(axis=2, keepdims=True)
    log_conf = np.log(conf)
    # E-step: log P(answers | class) summed over each task's answers, then priors, softmax.
    post_t, log_evidence = e_step(log_conf.reshape(K, W * K), np.log(class_priors), A)
    clamp_gold_t(post_t, a)
    log_lik = float(log_evidence.sum())
    return conf, post_t, log_lik, log_lik + float((pseudo * log_conf).sum())


def _prior_mean(kind: str, counts: np.ndarray, K: int, prior_accuracy: float) -> np.ndarray:
    """Return the (K, K) mean confusion the prior is centred on, [true k, answer l]."""
    if kind == "fixed":
        return prior_confusion(K, prior_accuracy)
    pooled = counts.sum(axis=1) + _TINY  # over annotators: [true k, answer l]
    return pooled / pooled.sum(axis=1, keepdims=True)


def dawid_skene(
    task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None,
    n_annotators=None, smoothing: float = DEFAULT_SMOOTHING, prior: str = "population",
    prior_accuracy: float = DEFAULT_PRIOR_ACCURACY, max_iter: int = 100, tol: float = 1e-5,
    start=None,
) -> InferenceResult:
    """Infer true labels and a confusion matrix per annotator with MAP Dawid-Skene EM.

    Every annotator's confusion matrix gets `smoothing * K` imaginary answers from the prior
    annotator (`prior="population"`: the population's average, re-estimated each iteration;
    `"fixed"`: right with `prior_accuracy`), spread over true classes by the class priors.
    `priors` fixes the class priors, else they are learned. `extra["prior_confusion"]` holds the
    final prior mean, what `task_posterior` can use for annotators the model has not seen.
    `start` (n_tasks, K) replaces the Wawa start, e.g. a previous fit's posteriors.
    """
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    K, W = a.K, a.n_annotators
    fixed_priors = check_priors(priors, K)
    strength = float(smoothing)
    if not strength >= 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    if prior not in PRIOR_KINDS:
        raise ValueError(f"prior must be one of {PRIOR_KINDS}, got {prior!r}")
    A, AT = answer_matrices(a.task, a.annotator, a.label, a.n_tasks, W, K)
    post_t = _initial_posteriors_t(a) if start is None else checked_start(start, a).T.copy()  # [class k, task t]
    counts = np.empty((K, W * K))  # [true k, (annotator w, answer l)]
    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        counts3, class_priors = expected_counts(AT, post_t, counts, fixed_priors)
        mean = _prior_mean(prior, counts3, K, prior_accuracy)
        pseudo = (strength * K) * class_priors[:, None] * mean  # [true k, answer l]
        conf, post_t, log_lik, objective = map_step(counts3, pseudo[:, None, :], class_priors, A, a)
        if _converged(objective, previous, tol):
            converged = True
            break
        previous = objective
    confusion = np.ascontiguousarray(conf.transpose(1, 0, 2))  # [annotator, true k, answer l]
    skill = np.einsum("wkk,k->w", confusion, class_priors)
    post = np.ascontiguousarray(post_t.T)
    return InferenceResult(
        method="ds", labels=post.argmax(axis=1), posteriors=post, skill=skill,
        confusion=confusion, priors=class_priors, n_iter=it, log_likelihood=log_lik,
        converged=converged, extra={"prior_confusion": mean},
    )


def one_coin_dawid_skene(
    task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None,
    n_annotators=None, smoothing: float = 2.0, prior_accuracy: float = DEFAULT_PRIOR_ACCURACY,
    max_iter: int = 100, tol: float = 1e-5, start=None,
) -> InferenceResult:
    """Infer true labels and one accuracy per annotator (errors spread evenly) with EM; `start` as in dawid_skene."""
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    K, W = a.K, a.n_annotators
    fixed_priors = check_priors(priors, K)
    n_answers = np.bincount(a.annotator, minlength=W).astype(np.float64)
    post = _initial_posteriors(a) if start is None else checked_start(start, a)
    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        hits = np.bincount(a.annotator, weights=post[a.task, a.label], minlength=W)
        accuracy = (hits + smoothing * prior_accuracy) / (n_answers + smoothing)
        accuracy = np.clip(accuracy, 1e-12, 1 - 1e-12)
        class_priors = fixed_priors if fixed_priors is not None else learned_priors(post)
        log_right, log_wrong = np.log(accuracy), np.log((1 - accuracy) / (K - 1))
        log_post = one_coin_log_lik(a.task, a.label, log_right[a.annotator],
                                    log_wrong[a.annotator], a.n_tasks, K)
        log_post += np.log(class_priors)
        post, log_evidence = softmax_rows(log_post)
        clamp_gold(post, a.gold_tasks, a.gold_labels)
        log_lik = float(log_evidence.sum())
        if _converged(log_lik, previous, tol):
            converged = True
            break
        previous = log_lik
    off = (1.0 - accuracy) / (K - 1)
    confusion = off[:, None, None] + np.eye(K) * (accuracy - off)[:, None, None]
    return InferenceResult(
        method="one_coin", labels=post.argmax(axis=1), posteriors=post, skill=accuracy,
        confusion=confusion, priors=class_priors, n_iter=it, log_likelihood=log_lik,
        converged=converged,
    )
