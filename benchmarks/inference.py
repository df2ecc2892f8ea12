"""Benchmark marketplace.inference: accuracy and calibration on every shared crowd, speed on a 1M synthetic.

Run from the repo root in a venv with the `bench` extra:  python benchmarks/inference.py [--quick]

Three tables:

1. Accuracy on each categorical dataset in ../shared/datasets (one row each): every method of ours
   (`auto`, the default, first), crowd-kit's six (measured here on the same answers), and the
   accuracies EBCC / BWA / IBCC's authors publish (PUBLISHED). Both libraries get the same answers:
   the dataset after our duplicate rule (last answer of each (task, annotator) pair kept). The
   targets: the default within 0.005 of the best figure on the row, and the default's mean over the
   datasets above every other column's mean. `p` says whether a row's gap could be chance: the exact
   McNemar test of the default against the row's best column on the gold tasks (only for a column
   measured here: published figures come without per-task labels).
2. Calibration: the expected calibration error (10 bins) of the default's top posterior, without
   gold and with a random 10% of each dataset's tasks given as the project's gold (clamped, used to
   calibrate; ECE and accuracy then on the other gold items), mean over `--calibration-seeds` seeds.
   `floor` is the ECE that exactly calibrated posteriors with the same confidences would read on
   those tasks (calibration.ece_floor): a few hundred tasks put it well above zero.
3. Speed and memory on the 1M-answer synthetic: our methods in a fresh subprocess each (so "peak
   MB" is that process's VmHWM: interpreter, numpy/scipy, building the data, encoding, the method),
   crowd-kit's fit_predict on a ready DataFrame. Our seconds include encoding the raw ids.
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
from marketplace.inference import DEFAULT_METHOD, METHODS, encode_answers, infer  # noqa: E402
from marketplace.inference.calibration import ece_floor, expected_calibration_error  # noqa: E402

OURS = (DEFAULT_METHOD,) + tuple(m for m in METHODS if m != DEFAULT_METHOD)
CROWD_KIT = ("mv", "wawa", "one_coin", "ds", "glad", "mace")
# yuan-li/truth-inference-at-scale (commit 621789b), notebooks code/test_ebcc.ipynb, test_bwa.ipynb,
# test_ibcc.ipynb: (EBCC, BWA, IBCC) accuracy as its authors report it.
PUBLISHED = {
    "D_Product": (0.9349, 0.9194, 0.9383), "D_PosSent": (0.961, 0.956, 0.960), "Dog": (0.8401, 0.8315, 0.8389),
    "MS": (0.7871, 0.7857, 0.790), "SP": (0.9152, 0.9170, 0.9150), "Web": (0.7686, 0.8225, 0.7508),
    "Trec": (0.7037, 0.6044, 0.7055), "ZC_in": (0.7809, 0.7637, 0.7696),
}
TARGET_GAP = 0.005
TARGET_ECE = 0.05
GOLD_SHARE = 0.10
SYNTHETIC = ("synthetic-1M", "synthetic-1M-str")
SYNTHETIC_METHODS = ("mv", "ds", DEFAULT_METHOD)
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
    return float(np.mean(list(hits(predicted, gold).values())))


def hits(predicted: dict, gold: dict) -> dict:
    """{gold task: whether its predicted label is the gold one}, over the gold tasks with a prediction."""
    return {k: predicted[k] == gold[k] for k in gold if k in predicted}


def mcnemar_p(ours: dict, theirs: dict) -> float:
    """Exact McNemar test (two-sided) that two labelings of the same gold tasks are equally accurate: only
    the tasks one gets right and the other wrong count (`hits` dicts; nan without such a task)."""
    from scipy.stats import binomtest

    shared = ours.keys() & theirs.keys()
    only_ours = sum(ours[k] and not theirs[k] for k in shared)
    only_theirs = sum(theirs[k] and not ours[k] for k in shared)
    if only_ours + only_theirs == 0:
        return float("nan")
    return float(binomtest(only_theirs, only_ours + only_theirs, 0.5).pvalue)


def run_ours(name: str, method: str) -> dict:
    """Encode and aggregate `name` with our `method`; return accuracy, ECE and seconds."""
    tasks, workers, labels, gold = problem(name)
    start = time.perf_counter()
    enc = encode_answers(tasks, workers, labels)
    result = infer(enc.task_idx, enc.annotator_idx, enc.label_idx, enc.K, method=method)
    seconds = time.perf_counter() - start
    predicted = dict(zip(enc.task_ids.tolist(), enc.decode_labels(result.labels).tolist()))
    coded = enc.encode_gold(gold)
    tasks_, truth = np.fromiter(coded, np.int64, len(coded)), np.fromiter(coded.values(), np.int64, len(coded))
    return {"acc": accuracy(predicted, gold), "s": seconds, "iter": result.n_iter,
            "ece": expected_calibration_error(result.posteriors[tasks_], truth), "hits": hits(predicted, gold)}


def calibration_run(name: str, seeds: int) -> dict:
    """The default with a random GOLD_SHARE of tasks as gold: accuracy and ECE on the other gold items."""
    tasks, workers, labels, gold = problem(name)
    enc = encode_answers(tasks, workers, labels)
    coded = enc.encode_gold(gold)
    gold_tasks = np.fromiter(coded, np.int64, len(coded))
    figures = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        given = rng.choice(enc.n_tasks, size=max(1, round(GOLD_SHARE * enc.n_tasks)), replace=False)
        known = {int(t): coded[int(t)] for t in given if int(t) in coded}
        result = infer(enc.task_idx, enc.annotator_idx, enc.label_idx, enc.K, gold=known)
        rest = gold_tasks[~np.isin(gold_tasks, given)]
        truth = np.array([coded[int(t)] for t in rest])
        cal = result.extra["calibration"]
        figures.append((float((result.labels[rest] == truth).mean()),
                        expected_calibration_error(result.posteriors[rest], truth), cal.correlation, cal.label_noise,
                        ece_floor(result.posteriors[rest].max(axis=1))))
    acc, ece, correlation, noise, floor = np.array(figures).T
    return {"acc": acc.mean(), "ece": ece.mean(), "ece_max": ece.max(), "rho": correlation.mean(), "noise": noise.mean(),
            "floor": floor.mean()}


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB (VmHWM: ru_maxrss carries the parent's over exec)."""
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
    from crowdkit.aggregation import GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa
    return {
        "mv": MajorityVote, "wawa": Wawa, "ds": lambda: DawidSkene(n_iter=100),
        "one_coin": lambda: OneCoinDawidSkene(n_iter=100),
        "glad": (lambda: GLAD(n_iter=GLAD_1M_ITER_CAP)) if capped else GLAD,
        "mace": MACE,
    }[method]()


def run_crowdkit(method: str, frame, gold: dict, capped: bool = False) -> dict:
    """Fit crowd-kit's `method` on `frame`; return accuracy and seconds."""
    model = crowdkit_model(method, capped)
    start = time.perf_counter()
    labels = model.fit_predict(frame)
    seconds = time.perf_counter() - start
    predicted = labels.to_dict()
    return {"acc": accuracy(predicted, gold), "s": seconds, "hits": hits(predicted, gold)}


def crowdkit_frame(tasks, workers, labels):
    """Build crowd-kit's DataFrame from the answers our duplicate rule keeps."""
    import pandas as pd

    frame = pd.DataFrame({"task": tasks, "worker": workers, "label": labels})
    return frame.drop_duplicates(["task", "worker"], keep="last").reset_index(drop=True)


def accuracy_table(names) -> tuple[str, dict]:
    """Table 1 and the per-dataset figures of the default."""
    columns = [f"{m}" for m in OURS] + [f"ck:{m}" for m in CROWD_KIT] + ["pub:EBCC", "pub:BWA", "pub:IBCC"]
    width = max(8, max(len(c) for c in columns) + 1)
    head = (f"{'dataset':<10}" + "".join(f"{c:>{width}}" for c in columns)
            + f"{'best':>{width}}{'gap':>8}{'p':>7}  verdict")
    lines, scores, ours_ece = [head, "-" * len(head)], {}, {}
    for name in names:
        tasks, workers, labels, gold = problem(name)
        frame = crowdkit_frame(tasks, workers, labels)
        row, correct = {}, {}  # correct: per gold task, for the columns measured here
        for method in OURS:
            found = run_ours(name, method)
            row[method], correct[method] = found["acc"], found["hits"]
            if method == DEFAULT_METHOD:
                ours_ece[name] = found
        for method in CROWD_KIT:
            found = run_crowdkit(method, frame, gold)
            row[f"ck:{method}"], correct[f"ck:{method}"] = found["acc"], found["hits"]
        for column, value in zip(("pub:EBCC", "pub:BWA", "pub:IBCC"), PUBLISHED.get(name, (np.nan,) * 3)):
            row[column] = value
        best_column = max((c for c in columns if np.isfinite(row[c])), key=lambda c: row[c])
        gap = row[DEFAULT_METHOD] - row[best_column]
        verdict = "PASS" if gap >= -TARGET_GAP - 1e-12 else f"FAIL (best: {best_column})"
        p = (mcnemar_p(correct[DEFAULT_METHOD], correct[best_column])
             if best_column in correct and best_column != DEFAULT_METHOD else float("nan"))
        lines.append(f"{name:<10}" + "".join(f"{row[c]:>{width}.4f}" for c in columns)
                     + f"{row[best_column]:>{width}.4f}{gap:>+8.4f}{p:>7.3f}  {verdict}")
        scores[name] = row
        print(lines[-1], flush=True)
    means = {c: np.mean([scores[n][c] for n in names if np.isfinite(scores[n][c])]) for c in columns}
    full = {c: all(np.isfinite(scores[n][c]) for n in names) for c in columns}
    lines.append(f"{'mean':<10}" + "".join(f"{means[c]:>{width}.4f}" for c in columns))
    lines.append("p: exact McNemar test, default vs the best column, on the gold tasks (a column measured here; "
                 "nan where the default is the best or the best is published)")
    rivals = [c for c in columns if c != DEFAULT_METHOD and full[c]]
    top = max(rivals, key=lambda c: means[c])
    ok = means[DEFAULT_METHOD] > means[top]
    lines.append(f"{'PASS' if ok else 'FAIL'} mean: default {means[DEFAULT_METHOD]:.4f} vs the best other column "
                 f"{top} {means[top]:.4f} (columns with a figure on every dataset; published figures lack S_Rel)")
    partial = [c for c in columns if not full[c]]
    for c in partial:
        shared = [n for n in names if np.isfinite(scores[n][c])]
        mine = np.mean([scores[n][DEFAULT_METHOD] for n in shared])
        lines.append(f"  on the {len(shared)} datasets {c} has: default {mine:.4f} vs {c} {means[c]:.4f}")
    return "\n".join(lines), ours_ece


def calibration_table(names, ours: dict, seeds: int) -> str:
    """Table 2: ECE without gold (from table 1's runs) and with 10% gold."""
    head = (f"{'dataset':<10} {'no gold: acc':>13} {'ECE':>6}   {'10% gold: acc':>13} {'ECE':>6} {'max':>6} "
            f"{'floor':>6} {'rho':>5} {'noise':>6}  verdict")
    lines = [head, "-" * len(head)]
    for name in names:
        cal = calibration_run(name, seeds)
        free = ours[name]
        verdict = "PASS" if cal["ece"] <= TARGET_ECE else "FAIL"
        lines.append(f"{name:<10} {free['acc']:>13.4f} {free['ece']:>6.3f}   {cal['acc']:>13.4f} {cal['ece']:>6.3f} "
                     f"{cal['ece_max']:>6.3f} {cal['floor']:>6.3f} {cal['rho']:>5.2f} {cal['noise']:>6.3f}  {verdict} "
                     f"(ECE <= {TARGET_ECE} with gold)")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def speed_table(quick: bool) -> str:
    """Table 3: the 1M synthetic, ours (each in a fresh subprocess) against crowd-kit."""
    head = (f"{'dataset':<17} {'method':<16} {'our acc':>8} {'ck acc':>8} {'our s':>8} {'ck s':>8} {'speedup':>8} "
            f"{'our peak RSS MB':>16}")
    lines, notes = [head, "-" * len(head)], []
    ck_ds_seconds = {}
    for name in SYNTHETIC:
        tasks, workers, labels, gold = problem(name)
        frame = crowdkit_frame(tasks, workers, labels)
        for method in SYNTHETIC_METHODS + (() if name.endswith("-str") else ("glad", "mace", "ibcc")):
            ours = ours_in_subprocess(name, method)
            ck_method = "ds" if method == DEFAULT_METHOD else method
            if method == "ibcc" or (quick and method in ("glad", "mace")):
                ck = {"acc": float("nan"), "s": float("nan")}
            elif method == DEFAULT_METHOD and name in ck_ds_seconds:
                ck = ck_ds_seconds[name]
            else:
                ck = run_crowdkit(ck_method, frame, gold, capped=method == "glad")
                if method == "glad":
                    notes.append(f"crowd-kit GLAD on {name} capped at {GLAD_1M_ITER_CAP} EM iterations")
            if ck_method == "ds":
                ck_ds_seconds[name] = ck
            label = f"{method}" + (" (vs ck ds)" if method == DEFAULT_METHOD else "")
            lines.append(f"{name:<17} {label:<16} {ours['acc']:>8.4f} {ck['acc']:>8.4f} {ours['s']:>8.2f} {ck['s']:>8.2f} "
                         f"{ck['s'] / ours['s']:>7.1f}x {ours['mb']:>16.0f}")
            print(lines[-1], flush=True)
    lines.append("targets: the default <= 2 s and >= 5x crowd-kit DS; our DS >= 15x crowd-kit DS; peak RSS <= 1,000 MB")
    lines.append("our seconds include encoding the raw ids (2 threads for the default); crowd-kit's are fit_predict "
                 "on a ready DataFrame")
    if quick:
        lines.append("--quick: crowd-kit GLAD and MACE on the synthetic skipped (nan)")
    return "\n".join(lines + notes)


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
    lines = ["N_Emotion (numeric), gold items:", f"{'method':<14} {'MAE':>7} {'RMSE':>7}"]
    for label, estimate in [("mean", numeric_mean(task, values).values),
                            ("median", numeric_median(task, values).values),
                            ("bias+variance", numeric_with_bias(task, annotator, values).values)]:
        err = estimate[tasks] - truth
        lines.append(f"{label:<14} {np.abs(err).mean():>7.3f} {np.sqrt((err**2).mean()):>7.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip crowd-kit GLAD and MACE on the 1M synthetic")
    parser.add_argument("--datasets", nargs="*", help="categorical datasets (default: every one found)")
    parser.add_argument("--calibration-seeds", type=int, default=5)
    parser.add_argument("--skip", nargs="*", default=[], choices=("accuracy", "calibration", "speed"))
    parser.add_argument("--worker", nargs=2, metavar=("DATASET", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        row = run_ours(*args.worker)
        row.pop("hits")
        row["mb"] = peak_rss_mb()
        print(json.dumps(row))
        return
    started = time.perf_counter()
    names = args.datasets or list(_datasets.categorical())
    print(f"Datasets: {', '.join(names)} (from {_datasets.datasets_dir()})\n")
    ours = {}
    if "accuracy" not in args.skip or "calibration" not in args.skip:
        print("1. Accuracy on gold items (default first; ck: crowd-kit 1.4 measured here; pub: as published)")
        text, ours = accuracy_table(names)
        print("\n" + text + "\n")
    if "calibration" not in args.skip:
        print(f"2. Calibration of the default (mean over {args.calibration_seeds} seeds of {GOLD_SHARE:.0%} gold)")
        print(calibration_table(names, ours, args.calibration_seeds) + "\n")
    if "speed" not in args.skip:
        print("3. Speed and memory on the 1M-answer synthetic")
        print(speed_table(args.quick) + "\n")
    if _datasets.available("N_Emotion"):
        print(numeric_table())
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
