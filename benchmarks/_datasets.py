"""Locate and load the shared crowdsourcing datasets (labels.csv, gold.csv) without pandas.

Datasets live outside the repo: `$MARKETPLACE_DATASETS` if set, else `../shared/datasets`
relative to the repository root.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
CATEGORICAL = ("D_Product", "D_PosSent", "S_Rel", "Dog")
NUMERIC = ("N_Emotion",)


def datasets_dir() -> Path:
    """Return the folder holding one sub-folder per dataset."""
    env = os.environ.get("MARKETPLACE_DATASETS")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets"


def available(name: str) -> bool:
    """Tell whether dataset `name` is present."""
    return (datasets_dir() / name / "labels.csv").is_file()


@dataclass(frozen=True)
class RawDataset:
    """Answers as three string columns, and gold as {item: label} strings."""

    name: str
    items: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    gold: dict


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[1:]


def load(name: str) -> RawDataset:
    """Read labels.csv and gold.csv of dataset `name` as strings."""
    folder = datasets_dir() / name
    rows = _read(folder / "labels.csv")
    cols = list(zip(*rows))
    items, workers, labels = (np.array(c, dtype=object) for c in cols)
    gold = {item: label for item, label in _read(folder / "gold.csv")}
    return RawDataset(name, items, workers, labels, gold)


def synthetic(seed: int = 20240601, n_tasks: int = 200_000, n_annotators: int = 5_000, K: int = 5,
              per_task: int = 5, spammer_share: float = 0.10):
    """Build the synthetic problem: random confusion matrices, 10% spammers, 5 answers per task.

    Returns (task, annotator, label, truth) int arrays; every task gets distinct annotators.
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n_tasks)
    accuracy = rng.uniform(0.45, 0.95, n_annotators)
    noise = rng.dirichlet(np.ones(K), size=(n_annotators, K))
    confusion = noise * (1.0 - accuracy)[:, None, None] + np.eye(K) * accuracy[:, None, None]
    spammers = rng.random(n_annotators) < spammer_share
    # A spammer answers from one fixed distribution whatever the truth is.
    confusion[spammers] = rng.dirichlet(np.ones(K), size=int(spammers.sum()))[:, None, :]
    first = rng.integers(0, n_annotators, n_tasks)
    step = rng.integers(1, n_annotators // per_task, n_tasks)
    annotator = ((first[:, None] + step[:, None] * np.arange(per_task)) % n_annotators).ravel()
    task = np.repeat(np.arange(n_tasks), per_task)
    cum = np.cumsum(confusion, axis=2)[annotator, truth[task]]
    u = rng.random(task.size)[:, None]
    label = np.minimum((u > cum).sum(axis=1), K - 1)
    return task, annotator, label, truth
