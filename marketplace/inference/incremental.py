"""Posterior of one task from current confusion matrices: what the submit path calls per answer.

It is the Dawid-Skene E-step restricted to one task, O(answers on that task): an annotator the
model has not seen yet (index -1 or >= W) answers as `unseen_confusion` says (pass DS's
`result.extra["prior_confusion"]`, the population's average annotator), else as one right with
`default_accuracy` and wrong uniformly otherwise.
"""

from __future__ import annotations

import numpy as np

from .dawid_skene import DEFAULT_PRIOR_ACCURACY, prior_confusion


def task_posterior(annotator_idx, label_idx, confusion, priors,
                   default_accuracy: float = DEFAULT_PRIOR_ACCURACY,
                   unseen_confusion=None) -> np.ndarray:
    """Return P(true class | this task's answers) as a (K,) array summing to one."""
    conf = np.asarray(confusion, dtype=np.float64)
    if conf.ndim != 3 or conf.shape[1] != conf.shape[2]:
        raise ValueError(f"confusion must have shape (W, K, K), got {conf.shape}")
    W, K = conf.shape[0], conf.shape[1]
    log_post = np.log(_checked_priors(priors, K))
    annotators = np.asarray(annotator_idx, dtype=np.int64).ravel()
    labels = np.asarray(label_idx, dtype=np.int64).ravel()
    if annotators.size != labels.size:
        raise ValueError("annotator_idx and label_idx must have the same length")
    if labels.size == 0:
        return np.exp(log_post)
    if labels.min() < 0 or labels.max() >= K:
        raise ValueError(f"label_idx holds a label outside the label set 0..{K - 1}")
    seen = (annotators >= 0) & (annotators < W)
    # P(answer l | true class k) for each answer: a column of the annotator's confusion matrix.
    columns = np.empty((labels.size, K))
    columns[seen] = conf[annotators[seen], :, labels[seen]]
    if not seen.all():
        newcomer = (prior_confusion(K, default_accuracy) if unseen_confusion is None
                    else np.asarray(unseen_confusion, dtype=np.float64))
        if newcomer.shape != (K, K):
            raise ValueError(f"unseen_confusion must have shape ({K}, {K}), got {newcomer.shape}")
        columns[~seen] = newcomer[:, labels[~seen]].T
    log_post = log_post + np.log(np.maximum(columns, 1e-300)).sum(axis=0)
    log_post -= log_post.max()
    post = np.exp(log_post)
    return post / post.sum()


def _checked_priors(priors, K: int) -> np.ndarray:
    p = np.asarray(priors, dtype=np.float64)
    if p.shape != (K,) or np.any(p <= 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"priors must be {K} positive finite numbers")
    return p / p.sum()


def task_posteriors(task_idx, annotator_idx, label_idx, confusion, priors, n_tasks: int) -> np.ndarray:
    """`task_posterior` for many tasks at once, (n_tasks, K): the E-step with these matrices and priors."""
    return normalised(task_log_posteriors(task_idx, annotator_idx, label_idx, confusion, priors, n_tasks))


def task_log_posteriors(task_idx, annotator_idx, label_idx, confusion, priors, n_tasks: int) -> np.ndarray:
    """The log of `task_posteriors` up to a constant per task (n_tasks, K): one (n_tasks, K) array in all."""
    conf = np.asarray(confusion, dtype=np.float64)
    K = conf.shape[1]
    task = np.asarray(task_idx, dtype=np.int64)
    annotator, label = np.asarray(annotator_idx, dtype=np.int64), np.asarray(label_idx, dtype=np.int64)
    log_conf = np.log(np.maximum(conf, 1e-300))  # (W, K, K): one class's column per answer at a time, not (answers, K)
    logits = np.tile(np.log(_checked_priors(priors, K)), (n_tasks, 1))
    for k in range(K):
        logits[:, k] += np.bincount(task, weights=log_conf[annotator, k, label], minlength=n_tasks)
    return logits


def normalised(logits: np.ndarray) -> np.ndarray:
    """Posteriors (rows summing to one) from log-posteriors known up to a constant per row."""
    post = np.exp(logits - logits.max(axis=1, keepdims=True))
    return post / post.sum(axis=1, keepdims=True)
