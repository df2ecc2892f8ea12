"""Accuracy floors on the shared crowdsourcing datasets (crowd-kit 1.4.2 defaults, and our own measured figures).

Run wherever `../shared/datasets` (or $MARKETPLACE_DATASETS) exists, as it does in CI.
"""

import functools
import os

import numpy as np
import pytest

import _datasets
from marketplace.inference import DEFAULT_METHOD, encode_answers, infer, numeric_mean, numeric_with_bias

TOLERANCE = 0.002
FLOORS = [
    ("D_Product", "ds", 0.9397), ("D_Product", "glad", 0.9284), ("D_Product", "mace", 0.9290),
    ("D_Product", "mv", 0.8966), ("D_PosSent", "ds", 0.9600), ("D_PosSent", "wawa", 0.9510),
    ("Dog", "ds", 0.8426), ("Dog", "glad", 0.8340),
    # crowd-kit's .6173 / .5666 count S_Rel's 1,570 duplicate answers twice; on the answers our
    # keep-the-last rule leaves, crowd-kit scores DS .6137 and Wawa .5648. Our Wawa gets .5587:
    # short of crowd-kit's, because majority-vote ties (frequent on 4-class S_Rel) go to the
    # lowest class index here. The Wawa floor below is our own measured value, not crowd-kit's.
    ("S_Rel", "ds", 0.6137), ("S_Rel", "wawa", 0.5587),
]
# The default and the Bayesian models on every shared crowd: their own measured accuracy
# (benchmarks/inference.py prints them beside crowd-kit's and the published ones).
MEASURED = {
    #            auto    ibcc    ebcc    cds     mace_cm
    "D_Product": (0.9379, 0.9373, 0.9383, 0.9388, 0.9382),
    "D_PosSent": (0.9620, 0.9600, 0.9620, 0.9600, 0.9600),
    "S_Rel": (0.6184, 0.6054, 0.5836, 0.6101, 0.6260),
    "Dog": (0.8414, 0.8389, 0.8389, 0.8414, 0.8141),
    "MS": (0.8014, 0.7600, 0.7886, 0.7743, 0.8014),
    "SP": (0.9158, 0.9148, 0.9154, 0.9152, 0.9158),
    "Trec": (0.7099, 0.7073, 0.7051, 0.7051, 0.7042),
    "Web": (0.8560, 0.8108, 0.7482, 0.8451, 0.8481),
    "ZC_in": (0.7819, 0.7613, 0.7799, 0.7593, 0.7613),
}
FLOORS += [(name, method, floor) for name, floors in MEASURED.items()
           for method, floor in zip(("auto", "ibcc", "ebcc", "cds", "mace_cm"), floors)]


def _require(name):
    if not _datasets.available(name):
        message = f"dataset {name} not found under {_datasets.datasets_dir()}"
        if os.environ.get("MARKETPLACE_REQUIRE_SERVICES") == "1":  # CI has ../shared/datasets: never skip there
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return _datasets.load(name)


@functools.lru_cache(maxsize=None)
def _accuracy(name, method):
    raw = _require(name)
    enc = encode_answers(raw.items, raw.workers, raw.labels)
    gold = enc.encode_gold(raw.gold)
    result = infer(enc.task_idx, enc.annotator_idx, enc.label_idx, enc.K, method=method)
    tasks = np.fromiter(gold.keys(), dtype=np.int64)
    labels = np.fromiter(gold.values(), dtype=np.int64)
    return float((result.labels[tasks] == labels).mean())


@pytest.mark.parametrize("name, method, floor", FLOORS)
def test_accuracy_floor(name, method, floor):
    assert _accuracy(name, method) >= floor - TOLERANCE


def test_the_default_is_the_most_accurate_of_our_models_on_average():
    names = list(MEASURED)
    others = ("ds", "ibcc", "cds")
    means = {method: np.mean([_accuracy(name, method) for name in names]) for method in (DEFAULT_METHOD, *others)}
    assert means[DEFAULT_METHOD] > max(means[method] for method in others), means


def test_numeric_bias_model_stays_close_to_the_mean_on_n_emotion():
    # Measured: mean MAE 12.02, bias/variance model 12.77; a regression would show up as a jump.
    raw = _require("N_Emotion")
    enc = encode_answers(raw.items, raw.workers, raw.labels.astype(float))
    values = enc.label_ids.astype(float)[enc.label_idx]
    gold = {enc.task_ids.tolist().index(k): float(v) for k, v in list(raw.gold.items())}
    tasks = np.fromiter(gold.keys(), dtype=np.int64)
    truth = np.fromiter(gold.values(), dtype=np.float64)
    mean_mae = np.abs(numeric_mean(enc.task_idx, values).values[tasks] - truth).mean()
    fit = numeric_with_bias(enc.task_idx, enc.annotator_idx, values)
    assert np.abs(fit.values[tasks] - truth).mean() <= 1.1 * mean_mae
