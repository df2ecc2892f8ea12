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
