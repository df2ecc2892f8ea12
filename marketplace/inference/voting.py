"""Majority vote, trust-weighted vote and Wawa.

crowd-kit has all three, but through pandas group-bys; here each is one `np.bincount` over the
answers, which is what the app's submit path and the EM initialisations need.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_answers
from ._core import clamp_gold, normalise_rows, vote_matrix
from .result import InferenceResult


def _from_scores(method, scores, a, skill, **extra) -> InferenceResult:
    post = normalise_rows(scores)
    clamp_gold(post, a.gold_tasks, a.gold_labels)
    # np.argmax returns the first maximum: ties go to the lowest class index.
    labels = post.argmax(axis=1)
    return InferenceResult(method=method, labels=labels, posteriors=post, skill=skill, extra=extra)


def _agreement_with(labels, a) -> np.ndarray:
    hits = (labels[a.task] == a.label).astype(np.float64)
    n = np.bincount(a.annotator, minlength=a.n_annotators)
    agree = np.bincount(a.annotator, weights=hits, minlength=a.n_annotators)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, agree / np.maximum(n, 1), 0.0)


def majority_vote(task_idx, annotator_idx, label_idx, K, *, gold=None, n_tasks=None,
                  n_annotators=None) -> InferenceResult:
    """Label each task by its most frequent answer; ties go to the lowest class index."""
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    result = _from_scores("mv", vote_matrix(a.task, a.label, a.n_tasks, a.K), a, None)
    return _with_skill(result, _agreement_with(result.labels, a))


def weighted_vote(task_idx, annotator_idx, label_idx, K, weights, *, gold=None, n_tasks=None,
                  n_annotators=None) -> InferenceResult:
    """Label each task by the answer with the largest total annotator weight."""
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (a.n_annotators,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be {a.n_annotators} finite non-negative numbers")
    scores = vote_matrix(a.task, a.label, a.n_tasks, a.K, weights=w[a.annotator])
    return _from_scores("weighted_vote", scores, a, w)


def wawa(task_idx, annotator_idx, label_idx, K, *, gold=None, n_tasks=None,
         n_annotators=None) -> InferenceResult:
    """Weight each annotator by agreement with the majority vote, then vote again."""
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    mv = _from_scores("mv", vote_matrix(a.task, a.label, a.n_tasks, a.K), a, None)
    skill = _agreement_with(mv.labels, a)
    scores = vote_matrix(a.task, a.label, a.n_tasks, a.K, weights=skill[a.annotator])
    # A task whose annotators all have zero skill keeps its majority vote rather than class 0.
    scores += 1e-12 * mv.posteriors
    return _from_scores("wawa", scores, a, skill)


def _with_skill(result: InferenceResult, skill: np.ndarray) -> InferenceResult:
    from dataclasses import replace

    return replace(result, skill=skill)
