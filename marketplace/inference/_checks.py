"""Validate integer-coded answers once, so every method can trust its inputs.

Each method takes `task_idx`, `annotator_idx`, `label_idx` (one row per answer) and `K`. The checks
here turn them into contiguous int64 arrays and raise `ValueError` naming the problem, instead of
letting a bad code surface later as an IndexError or a NaN deep inside an EM loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Answers:
    """Validated, integer-coded answers plus the problem's dimensions."""

    task: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    n_tasks: int
    n_annotators: int
    K: int
    gold_tasks: np.ndarray
    gold_labels: np.ndarray


def _as_codes(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.equal(np.mod(arr, 1), 0)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer codes (encode ids first), got {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} holds negative codes (min {arr.min()})")
    return arr


def check_gold(gold, K: int, n_tasks: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn a gold mapping {task_idx: label_idx} into two checked int arrays."""
    if gold is None or len(gold) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if not isinstance(gold, Mapping):
        raise ValueError("gold must be a mapping {task_idx: label_idx}")
    tasks = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
    labels = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))
    bad = (labels < 0) | (labels >= K)
    if bad.any():
        t, lab = tasks[bad][0], labels[bad][0]
        raise ValueError(f"gold label {lab} for task {t} is outside the label set 0..{K - 1}")
    bad = (tasks < 0) | (tasks >= n_tasks)
    if bad.any():
        raise ValueError(f"gold names task {tasks[bad][0]}, which is outside 0..{n_tasks - 1}")
    return tasks, labels


def check_answers(
    task_idx, annotator_idx, label_idx, K: int, *, gold=None,
    n_tasks: int | None = None, n_annotators: int | None = None,
) -> Answers:
    """Check coded answers and return them as int64 arrays with the problem's sizes."""
    if not isinstance(K, (int, np.integer)) or K < 2:
        raise ValueError(f"K (number of classes) must be an integer >= 2, got {K!r}")
    K = int(K)
    task = _as_codes(task_idx, "task_idx")
    annotator = _as_codes(annotator_idx, "annotator_idx")
    label = _as_codes(label_idx, "label_idx")
    if not (task.size == annotator.size == label.size):
        raise ValueError(
            "task_idx, annotator_idx and label_idx must have the same length, got "
            f"{task.size}, {annotator.size}, {label.size}"
        )
    if task.size == 0:
        raise ValueError("no answers: task_idx, annotator_idx and label_idx are empty")
    if label.max() >= K:
        raise ValueError(f"label_idx holds {label.max()}, outside the label set 0..{K - 1}")
    n_tasks = _size(task, n_tasks, "n_tasks", "task_idx")
    n_annotators = _size(annotator, n_annotators, "n_annotators", "annotator_idx")
    gold_tasks, gold_labels = check_gold(gold, K, n_tasks)
    return Answers(task, annotator, label, n_tasks, n_annotators, K, gold_tasks, gold_labels)


def _size(codes: np.ndarray, given: int | None, name: str, what: str) -> int:
    needed = int(codes.max()) + 1
    if given is None:
        return needed
    if given < needed:
        raise ValueError(f"{what} holds {needed - 1}, but {name} is {given}")
    return int(given)


def check_priors(priors, K: int) -> np.ndarray | None:
    """Check fixed class priors: K positive numbers, returned normalised."""
    if priors is None:
        return None
    p = np.asarray(priors, dtype=np.float64)
    if p.shape != (K,) or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValueError(f"priors must be {K} positive finite numbers, got {priors!r}")
    return p / p.sum()
