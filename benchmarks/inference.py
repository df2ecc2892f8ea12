"""Benchmark marketplace.inference against crowd-kit on the shared datasets and a 1M synthetic.

Run from the repo root in a venv with the `bench` extra:  python benchmarks/inference.py [--quick]

Both libraries get the same answers: the datasets after our duplicate rule (last answer of each
(task, annotator) pair kept), the synthetic as generated. Our methods run one per fresh
subprocess, so "peak MB" is that process's peak RSS (VmHWM): interpreter + numpy/scipy + building the
data + encoding + the method. Our seconds include encoding the raw ids; crowd-kit's seconds are
its fit_predict on a ready DataFrame.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import _datasets  # noqa: E402
from marketplace.inference import encode_answers, infer  # noqa: E402

METHODS = ("mv", "wawa", "one_coin", "ds", "glad", "mace")
SYNTHETIC = ("synthetic-1M", "synthetic-1M-str")
GLAD_1M_ITER_CAP = 5


def problem(name: str):
    """Return raw (tasks, workers, labels) ids and a gold {task id: label id} for `name`."""
    if name.startswith("synthetic"):
        task, annotator, label, truth = _datasets.synthetic()
        gold = dict(zip(range(truth.size), truth.tolist()))
        if name.endswith("-str"):
            task = np.array([f"task-{i}" for i in task.tolist()], dtype=object)
            annotator = np.array([f"worker-{i}" for i in annotator.tolist()], dtype=object)
            label = np.array([f"class-{i}" for i in label.tolist()], dtype=object)
            gold = {f"task-{t}": f"class-{k}" for t, k in gold.items()}
        return task, annotator, label, gold
    raw = _datasets.load(name)
    return raw.items, raw.workers, raw.labels, raw.gold


def accuracy(predicted: dict, gold: dict) -> float:
    """Return the share of gold tasks whose predicted label equals the gold label."""
    keys = [k for k in gold if k in predicted]
    return float(np.mean([predicted[k] == gold[k] for k in keys]))


def run_ours(name: str, method: str) -> dict:
    """Encode and aggregate `name` with our `method`; return accuracy and seconds."""
    tasks, workers, labels, gold = problem(name)
    start = time.perf_counter()
    enc = encode_answers(tasks, workers, labels)
    result = infer(enc.task_idx, enc.annotator_idx, enc.label_idx, enc.K, method=method)
    seconds = time.perf_counter() - start
    predicted = dict(zip(enc.task_ids.tolist(), enc.decode_labels(result.labels).tolist()))
    return {"acc": accuracy(predicted, gold), "s": seconds, "iter": result.n_iter}


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB.

    VmHWM belongs to the address space exec created; ru_maxrss is not used on Linux because it
    carries over the parent's peak across fork + exec, which here is the crowd-kit process.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours_in_subprocess(name: str, method: str) -> dict:
    """Run `run_ours` in a fresh interpreter and add its peak RSS in MB."""
    out = subprocess.run([sys.executable, __file__, "--worker", name, method],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def crowdkit_model(method: str, capped: bool):
    from crowdkit.aggregation import (GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene,
                                      Wawa)
    return {
        "mv": MajorityVote, "wawa": Wawa, "ds": lambda: DawidSkene(n_iter=100),
        "one_coin": lambda: OneCoinDawidSkene(n_iter=100),
        "glad": (lambda: GLAD(n_iter=GLAD_1M_ITER_CAP)) if capped else GLAD,
        "mace": MACE,
    }[method]()


def run_crowdkit(name: str, method: str, frame, gold: dict, capped: bool) -> dict:
    """Fit crowd-kit's `method` on `frame`; return accuracy and seconds."""
    model = crowdkit_model(method, capped)
    start = time.perf_counter()
    labels = model.fit_predict(frame)
    seconds = time.perf_counter() - start
    return {"acc": accuracy(labels.to_dict(), gold), "s": seconds}


def crowdkit_frame(tasks, workers, labels):
    """Build crowd-kit's DataFrame from the answers our duplicate rule keeps."""
    import pandas as pd

    enc = encode_answers(tasks, workers, labels)
    keep_all = enc.n_duplicates == 0
    frame = pd.DataFrame({"task": tasks, "worker": workers, "label": labels})
    if not keep_all:
        frame = frame.drop_duplicates(["task", "worker"], keep="last")
    return frame.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip crowd-kit GLAD and MACE on the 1M synthetic (minutes each)")
    parser.add_argument("--worker", nargs=2, metavar=("DATASET", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        row = run_ours(*args.worker)
        row["mb"] = peak_rss_mb()
        print(json.dumps(row))
        return
    names = [n for n in _datasets.CATEGORICAL if _datasets.available(n)] + list(SYNTHETIC)
    header = (f"{'dataset':<17} {'method':<9} {'our acc':>8} {'ck acc':>8} {'our s':>8} "
              f"{'ck s':>8} {'speedup':>8} {'our peak RSS MB*':>16}")
    print(header)
    print("-" * len(header))
    notes = []
    for name in names:
        tasks, workers, labels, gold = problem(name)
        frame = crowdkit_frame(tasks, workers, labels)
        for method in METHODS:
            if name == "synthetic-1M-str" and method not in ("mv", "ds"):
                continue
            ours = ours_in_subprocess(name, method)
            big = name.startswith("synthetic")
            if big and args.quick and method in ("glad", "mace"):
                ck = {"acc": float("nan"), "s": float("nan")}
            else:
                ck = run_crowdkit(name, method, frame, gold, capped=big and method == "glad")
                if big and method == "glad":
                    notes.append(f"crowd-kit GLAD on {name} capped at {GLAD_1M_ITER_CAP} EM "
                                 "iterations (its default 100 would take far longer)")
            print(f"{name:<17} {method:<9} {ours['acc']:>8.4f} {ck['acc']:>8.4f} {ours['s']:>8.2f} "
                  f"{ck['s']:>8.2f} {ck['s'] / ours['s']:>7.1f}x {ours['mb']:>16.0f}", flush=True)
    print("* peak RSS = VmHWM of a fresh subprocess running only our method: interpreter, "
          "numpy/scipy, building the data, encoding ids and the method")
    print("  Our seconds include encoding raw ids; crowd-kit's are fit_predict on a ready DataFrame.")
    if args.quick:
        print("  --quick: crowd-kit GLAD and MACE on the synthetic skipped (nan)")
    for note in notes:
        print("  " + note)
    if _datasets.available("N_Emotion"):
        print(numeric_table())


def numeric_table() -> str:
    """Return MAE / RMSE of our numeric aggregators on N_Emotion's gold items."""
    from marketplace.inference import encode_ids, numeric_mean, numeric_median, numeric_with_bias

    raw = _datasets.load("N_Emotion")
    task, task_ids = encode_ids(raw.items)
    annotator, _ = encode_ids(raw.workers)
    values = raw.labels.astype(float)
    position = {k: i for i, k in enumerate(task_ids.tolist())}
    tasks = np.array([position[k] for k in raw.gold if k in position])
    truth = np.array([float(v) for k, v in raw.gold.items() if k in position])
    lines = ["", "N_Emotion (numeric), gold items:", f"{'method':<14} {'MAE':>7} {'RMSE':>7}"]
    for label, estimate in [("mean", numeric_mean(task, values).values),
                            ("median", numeric_median(task, values).values),
                            ("bias+variance", numeric_with_bias(task, annotator, values).values)]:
        err = estimate[tasks] - truth
        lines.append(f"{label:<14} {np.abs(err).mean():>7.3f} {np.sqrt((err**2).mean()):>7.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
