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
