"""Fixtures for the truth-inference tests: synthetic crowds and the shared datasets loader."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))


def make_crowd(seed: int, n_tasks: int = 300, K: int = 3, accuracies=(0.9, 0.8, 0.75, 0.7, 0.6),
               per_task: int | None = None):
    """Simulate answers from annotators with given accuracies (errors uniform)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n_tasks)
    W = len(accuracies)
    per_task = per_task or W
    tasks, annotators, labels = [], [], []
    for w, acc in enumerate(accuracies):
        chosen = np.flatnonzero(rng.random(n_tasks) < per_task / W) if per_task < W else np.arange(n_tasks)
        right = rng.random(chosen.size) < acc
        wrong = (truth[chosen] + rng.integers(1, K, chosen.size)) % K
        tasks.append(chosen)
        annotators.append(np.full(chosen.size, w))
        labels.append(np.where(right, truth[chosen], wrong))
    return np.concatenate(tasks), np.concatenate(annotators), np.concatenate(labels), truth


@pytest.fixture
def crowd():
    return make_crowd(0)


def planted_crowd(kind: str, seed: int = 0, n_tasks: int = 400, K: int = 3):
    """A synthetic crowd of a given kind with its planted truth: (task, annotator, label, truth, K).

    dense: 8 annotators answer every task; sparse: 60 annotators, 3 answers a task (about 20 each);
    spammers: sparse, a third of the annotators answer at random; adversarial: dense, two annotators
    swap the classes around (always the next class) -- their answers carry the truth for a model
    that learns confusion matrices; correlated: dense, on a fifth of the tasks ("hard") a group of
    three annotators gives the same wrong class; skewed: sparse with class shares 0.8 / 0.15 / 0.05.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([0.8, 0.15, 0.05]) if kind == "skewed" else np.full(K, 1.0 / K)
    truth = rng.choice(K, size=n_tasks, p=shares)
    dense = kind in ("dense", "adversarial", "correlated")
    W = 8 if dense else 60
    accuracy = rng.uniform(0.6, 0.9, W)
    if dense:
        task = np.repeat(np.arange(n_tasks), W)
        annotator = np.tile(np.arange(W), n_tasks)
    else:
        task = np.repeat(np.arange(n_tasks), 3)
        annotator = np.concatenate([rng.choice(W, 3, replace=False) for _ in range(n_tasks)])
    right = rng.random(task.size) < accuracy[annotator]
    wrong = (truth[task] + rng.integers(1, K, task.size)) % K
    label = np.where(right, truth[task], wrong)
    if kind == "spammers":
        spam = np.isin(annotator, np.arange(W // 3))
        label[spam] = rng.integers(0, K, spam.sum())
    if kind == "adversarial":
        flip = np.isin(annotator, [0, 1])
        label[flip] = (truth[task[flip]] + 1) % K  # always the next class: perfectly informative
    if kind == "correlated":
        hard = rng.random(n_tasks) < 0.2
        decoy = (truth + 1) % K
        group = np.isin(annotator, [0, 1, 2]) & hard[task]
        label[group] = decoy[task[group]]
    return task, annotator, label, truth, K


def hard_items_crowd(seed: int, n_tasks: int = 600, K: int = 3, W: int = 8, hard_share: float = 0.3):
    """8 annotators on every task; on a `hard_share` of the tasks everyone is a coin flip between
    the truth and one shared decoy class: errors that go together, which no model of independent
    answers expects (its posteriors there are overconfident). Returns (task, annotator, label, truth, K)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n_tasks)
    hard = rng.random(n_tasks) < hard_share
    decoy = (truth + rng.integers(1, K, n_tasks)) % K
    task, annotator = np.repeat(np.arange(n_tasks), W), np.tile(np.arange(W), n_tasks)
    accuracy = np.where(hard[task], 0.5, rng.uniform(0.75, 0.95, W)[annotator])
    right = rng.random(task.size) < accuracy
    other = (truth[task] + rng.integers(1, K, task.size)) % K
    label = np.where(right, truth[task], np.where(hard[task], decoy[task], other))
    return task, annotator, label, truth, K


def swapped_crowd(seed: int, n_tasks: int = 600, K: int = 3, W: int = 10, swappers: float = 0.7, per_task: int = 5):
    """Most annotators (`swappers`) answer class 1 for class 0 and 0 for 1 (a client showing the two
    labels in the other order), each otherwise right 75-95% of the time; the others are not swapped.
    Returns (task, annotator, label, truth, K)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n_tasks)
    task = np.repeat(np.arange(n_tasks), per_task)
    annotator = np.concatenate([rng.choice(W, per_task, replace=False) for _ in range(n_tasks)])
    swaps = np.arange(W) < round(swappers * W)
    seen = truth[task]
    meant = np.where(swaps[annotator] & (seen < 2), 1 - seen, seen)
    right = rng.random(task.size) < rng.uniform(0.75, 0.95, W)[annotator]
    other = (meant + rng.integers(1, K, task.size)) % K
    return task, annotator, np.where(right, meant, other), truth, K
