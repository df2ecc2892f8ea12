"""The money shot: how few answers the posterior-driven redundancy policy needs for DS's accuracy.

For each categorical shared dataset, every task's real answers are replayed in a random order and
the policy (`marketplace.inference.redundancy`) decides after each one whether the task needs
another. The replay simulates the live system, with no peeking at answers not yet consumed:

- tasks arrive in a random order; `OPEN_TASKS` of them are open at a time and each next answer
  goes to a random open task (answers of different tasks interleave, as annotators lease them);
- after each answer the task's posterior comes from `task_posterior` with the confusion matrices,
  class priors and population-average annotator (for annotators the model has not seen yet) of
  the LAST Dawid-Skene recompute; the recompute runs on all answers consumed so far once
  `max(RECOMPUTE_MIN, RECOMPUTE_SHARE * answers the last one read)` new answers have arrived
  (the app's trigger, `marketplace.results.recompute.queue_if_due`, with marketplace/results/cadence.py's constants;
  the app also recomputes every few minutes, which the replay, having no clock, leaves out);
  before the first one every annotator is a 0.7-accurate newcomer and the class priors are uniform;
- a task closes with its posterior's label; at its maximum (the answers the dataset has for it)
  without confidence it is escalated, counted, and kept with its current posterior's label.

Compared, on the gold items, with the answers each spends (share of the dataset's answers):
(a) Dawid-Skene on all answers; (b) the first k answers of each task (replay order) + majority
vote, k = round(answers used by (c) / tasks); (c) the policy at several targets; with `--ceiling`,
(d) the same policy judging every task with the confusion matrices and priors of (a), i.e. as if
every annotator were known from all their answers before the first one arrives. (d) is not
attainable (it peeks at answers the live system has not seen); it shows how much of (c)'s gap is
the stopping rule and how much is learning the annotators from sparse data. The same policy
settings and simulation constants serve every dataset: nothing is tuned per dataset. No gold is
used in the main table; `--gold-share 0.05` clamps a random 5% of gold items in every recompute
and scores on the other 95% (reported separately).

Run from the repository root: `.venv/bin/python benchmarks/redundancy_replay.py` (a few minutes
on 2 cores; `--seeds`, `--datasets`, `--jobs` to change).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import _datasets

from marketplace.inference.dawid_skene import dawid_skene
from marketplace.inference.encoding import encode_answers
from marketplace.inference.redundancy import (
    DEFAULT_EVIDENCE_WEIGHT,
    Decision,
    RedundancyPolicy,
    discount_evidence,
)
from marketplace.inference.voting import majority_vote
from marketplace.results.cadence import RECOMPUTE_MIN_NEW_ANSWERS, RECOMPUTE_NEW_SHARE

TARGETS = (0.9, 0.95, 0.97)
MIN_ANSWERS = 2
OPEN_TASKS = 100          # tasks open at a time in the simulated live system
RECOMPUTE_MIN = RECOMPUTE_MIN_NEW_ANSWERS  # a recompute waits for at least this many new answers...
RECOMPUTE_SHARE = RECOMPUTE_NEW_SHARE       # ...and for this share of the answers the last one read
DEFAULT_ACCURACY = 0.7    # a newcomer before the first recompute
SEEDS = (1, 2, 3, 4, 5)
# Issue 5's target: on these datasets reach (a)'s accuracy within 0.5 points on <= 60% of answers.
TARGET_DATASETS = ("D_PosSent", "Dog")
TARGET_GAP, TARGET_BUDGET = 0.005, 0.60


@dataclass(frozen=True)
class Problem:
    name: str
    task: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    K: int
    n_tasks: int
    n_annotators: int
    gold_tasks: np.ndarray
    gold_labels: np.ndarray


def load_problem(name: str) -> Problem:
    raw = _datasets.load(name)
    enc = encode_answers(raw.items, raw.workers, raw.labels)
    gold = enc.encode_gold(raw.gold)
    return Problem(name, enc.task_idx, enc.annotator_idx, enc.label_idx, enc.K, enc.n_tasks,
                   enc.n_annotators, np.fromiter(gold.keys(), np.int64, len(gold)),
                   np.fromiter(gold.values(), np.int64, len(gold)))


def replay_order(p: Problem, rng) -> tuple[np.ndarray, np.ndarray]:
    """Return answer indices grouped by task, each task's in a random order, and task offsets."""
    order = np.lexsort((rng.random(p.task.size), p.task))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(p.task, minlength=p.n_tasks))])
    return order, offsets


def run_policy(p: Problem, policy: RedundancyPolicy, seed: int, clamp: dict, known=None) -> dict:
    """Replay `p` under `policy`; return labels, answers used per task and run statistics.

    `known` (a Dawid-Skene result on all answers) makes it the ceiling run: every decision uses
    its confusion matrices and priors, nothing is recomputed or reopened on the way, and one DS
    on the answers consumed gives the delivered labels at the end.
    """
    rng = np.random.default_rng(seed)
    order, offsets = replay_order(p, rng)
    available = np.diff(offsets)
    used = np.zeros(p.n_tasks, dtype=np.int64)
    at_close = np.full(p.n_tasks, -1, dtype=np.int64)  # the label when the task (last) closed
    closed = np.zeros(p.n_tasks, dtype=bool)
    delivered = at_close
    escalated = np.zeros(p.n_tasks, dtype=bool)
    consumed = np.empty(p.task.size, dtype=np.int64)  # answer indices, in consumption order
    n_consumed = last_recompute = n_recomputes = n_reopened = 0
    K = p.K
    confusion = np.empty((0, K, K))  # no annotator known before the first recompute
    priors = np.full(K, 1.0 / K)
    unseen = None                    # -> task_posterior's default-accuracy newcomer
    arrivals = list(rng.permutation(p.n_tasks)[::-1])
    open_tasks: list[int] = []

    if known is not None:
        confusion, priors = known.confusion, known.priors

    def recompute() -> int:
        """Refresh the model from the consumed answers; reopen closed tasks now below target."""
        nonlocal confusion, priors, unseen, last_recompute, n_recomputes, n_reopened, delivered
        idx = consumed[:n_consumed]
        ds = dawid_skene(p.task[idx], p.annotator[idx], p.label[idx], K, gold=clamp,
                         n_tasks=p.n_tasks, n_annotators=p.n_annotators)
        last_recompute, n_recomputes, delivered = n_consumed, n_recomputes + 1, ds.labels
        if known is not None:
            return 0
        confusion, priors, unseen = ds.confusion, ds.priors, ds.extra["prior_confusion"]
        # The recompute re-judges closed tasks with the same (discounted) posterior the submit
        # path uses; one that fell below target and still has answers to ask for reopens.
        judged = discount_evidence(ds.posteriors[closed], priors, policy.evidence_weight).max(axis=1)
        again = np.flatnonzero(closed)[(judged < policy.target_confidence - 1e-12)
                                       & (used[closed] < available[closed])]
        closed[again] = False
        open_tasks.extend(again.tolist())
        n_reopened += again.size
        return again.size

    while True:
        while arrivals and len(open_tasks) < OPEN_TASKS:
            open_tasks.append(int(arrivals.pop()))
        if not open_tasks:
            # Every task closed: the debounced cron recompute still runs once the project is
            # idle, and may reopen tasks; the replay ends when it reopens none.
            if recompute() == 0:
                break
            continue
        slot = int(rng.integers(len(open_tasks)))
        t = open_tasks[slot]
        start = offsets[t]
        consumed[n_consumed] = order[start + used[t]]
        used[t] += 1
        n_consumed += 1
        mine = order[start:start + used[t]]
        post = policy.posterior(p.annotator[mine], p.label[mine], confusion, priors,
                                unseen_confusion=unseen, default_accuracy=DEFAULT_ACCURACY)
        decision = policy.decide(post, int(used[t]), available=int(available[t]))
        if decision is not Decision.MORE:
            at_close[t] = int(post.argmax())
            closed[t] = True
            escalated[t] = decision is Decision.ESCALATE
            open_tasks[slot] = open_tasks[-1]
            open_tasks.pop()
        if known is None and n_consumed - last_recompute >= max(RECOMPUTE_MIN, RECOMPUTE_SHARE * last_recompute):
            recompute()
    return {"labels": delivered, "at_close": at_close, "used": used, "escalated": escalated,
            "order": order, "offsets": offsets, "recomputes": n_recomputes, "reopened": n_reopened}


def first_k_majority(p: Problem, order, offsets, k: int, clamp: dict) -> tuple[np.ndarray, int]:
    """Return majority-vote labels from the first k answers of each task and answers used."""
    rank = np.empty(p.task.size, dtype=np.int64)
    rank[order] = np.arange(p.task.size) - np.repeat(offsets[:-1], np.diff(offsets))
    keep = rank < k
    mv = majority_vote(p.task[keep], p.annotator[keep], p.label[keep], p.K, gold=clamp,
                       n_tasks=p.n_tasks, n_annotators=p.n_annotators)
    return mv.labels, int(keep.sum())


def gold_split(p: Problem, share: float, seed: int) -> tuple[dict, np.ndarray]:
    """Return ({task: label} of a random `share` of gold items to clamp, mask of scored gold)."""
    if share <= 0:
        return {}, np.ones(p.gold_tasks.size, dtype=bool)
    rng = np.random.default_rng(10_000 + seed)
    n = round(share * p.gold_tasks.size)
    chosen = rng.choice(p.gold_tasks.size, n, replace=False)
    scored = np.ones(p.gold_tasks.size, dtype=bool)
    scored[chosen] = False
    return dict(zip(p.gold_tasks[chosen].tolist(), p.gold_labels[chosen].tolist())), scored


def evaluate(name: str, seeds, gold_share: float, targets, weight: float, ceiling: bool = False) -> dict:
    """Run (a), (b), (c) for one dataset over `seeds`; return per-seed figures."""
    p = load_problem(name)
    total = p.task.size
    out = {"name": name, "tasks": p.n_tasks, "answers": total, "K": p.K, "rows": {}}
    rows = out["rows"]

    def acc(labels, scored):
        return float(np.mean(labels[p.gold_tasks[scored]] == p.gold_labels[scored]))

    def add(key, accuracy, used, **extra):
        rows.setdefault(key, []).append({"acc": accuracy, "share": used / total, **extra})

    for seed in seeds:
        clamp, scored = gold_split(p, gold_share, seed)
        ds = dawid_skene(p.task, p.annotator, p.label, p.K, gold=clamp, n_tasks=p.n_tasks,
                         n_annotators=p.n_annotators)
        add("a", acc(ds.labels, scored), total)
        for target in targets:
            policy = RedundancyPolicy(min_answers=MIN_ANSWERS, max_answers=int(np.iinfo(np.int32).max),
                                      target_confidence=target, evidence_weight=weight)
            r = run_policy(p, policy, seed, clamp)
            spent = int(r["used"].sum())
            add(("c", target), acc(r["labels"], scored), spent,
                escalated=float(r["escalated"].mean()), at_close=acc(r["at_close"], scored),
                recomputes=r["recomputes"], reopened=r["reopened"] / p.n_tasks)
            k = max(1, round(spent / p.n_tasks))
            mv_labels, mv_used = first_k_majority(p, r["order"], r["offsets"], k, clamp)
            add(("b", target), acc(mv_labels, scored), mv_used, k=k)
            if ceiling:
                d = run_policy(p, policy, seed, clamp, known=ds)
                add(("d", target), acc(d["labels"], scored), int(d["used"].sum()),
                    escalated=float(d["escalated"].mean()), at_close=acc(d["at_close"], scored),
                    recomputes=d["recomputes"], reopened=0.0)
    return out


def ms(values, scale=100.0, digits=1) -> str:
    v = np.asarray(values, dtype=np.float64) * scale
    return f"{v.mean():.{digits}f}±{v.std(ddof=1) if v.size > 1 else 0.0:.{digits}f}"


def verdict(name: str, target: float, a_rows, c_rows) -> str:
    """Return the PASS/FAIL line of the issue's target, with the standard error of the seeds' mean gap.

    The gap's seed-to-seed spread is several tenths of a point, so with the default 5 seeds a
    verdict near the limit can flip between runs; `--seeds 20` settles it.
    """
    gaps = np.array([a["acc"] - c["acc"] for a, c in zip(a_rows, c_rows)])
    gap, c_share = gaps.mean(), np.mean([r["share"] for r in c_rows])
    se = gaps.std(ddof=1) / np.sqrt(gaps.size) if gaps.size > 1 else 0.0
    ok = gap <= TARGET_GAP + 1e-12 and c_share <= TARGET_BUDGET
    c_acc = np.mean([r["acc"] for r in c_rows])
    return (f"{'PASS' if ok else 'FAIL'} {name} target {target:g}: accuracy {100 * c_acc:.2f}% vs (a) "
            f"{100 * np.mean([r['acc'] for r in a_rows]):.2f}% (gap {100 * gap:+.2f}±{100 * se:.2f} pt over "
            f"{gaps.size} seeds, limit 0.5), answers {100 * c_share:.1f}% (limit 60%)")


def table(results, seeds, gold_share: float, targets, weight: float) -> str:
    """Return the plain-text table and the PASS/FAIL lines."""
    head = (f"{'dataset':<10} {'method':<28} {'accuracy %':>11} {'answers %':>10} {'per task':>9} "
            f"{'escalated %':>12} {'reopened %':>11} {'at close %':>11}")
    lines = [head, "-" * len(head)]
    verdicts = []
    for res in results:
        rows, name = res["rows"], res["name"]
        per_task = res["answers"] / res["tasks"]

        def line(label, rs, esc="", reo="", fin="", name=name, per_task=per_task):
            share = [r["share"] for r in rs]
            lines.append(f"{name:<10} {label:<28} {ms([r['acc'] for r in rs]):>11} {ms(share):>10} "
                         f"{np.mean(share) * per_task:>9.2f} {esc:>12} {reo:>11} {fin:>11}")

        line("(a) all answers + DS", rows["a"])
        for target in targets:
            c = rows[("c", target)]
            ks = sorted({r["k"] for r in rows[("b", target)]})
            line(f"(b) first k={'/'.join(map(str, ks))} + MV", rows[("b", target)])
            line(f"(c) policy target {target:g}", c, esc=ms([r["escalated"] for r in c]),
                 reo=ms([r["reopened"] for r in c]), fin=ms([r["at_close"] for r in c]))
            if ("d", target) in rows:
                d = rows[("d", target)]
                line(f"(d) ceiling target {target:g}", d, esc=ms([r["escalated"] for r in d]),
                     fin=ms([r["at_close"] for r in d]))
            if name in TARGET_DATASETS:
                verdicts.append(verdict(name, target, rows["a"], c))
        lines.append("")
    gold = (f"{100 * gold_share:g}% of gold items clamped in every DS, scored on the rest"
            if gold_share > 0 else "no gold used")
    intro = (f"Redundancy replay: {len(seeds)} seeds (mean±sd), {gold}; policy min_answers="
             f"{MIN_ANSWERS}, max = every answer the task has, targets {', '.join(map(str, targets))}, "
             f"evidence weight {weight:g}; "
             f"{OPEN_TASKS} tasks open at a time, DS recompute every max({RECOMPUTE_MIN}, "
             f"{RECOMPUTE_SHARE:.0%} of the answers the last one read) new answers.")
    notes = ("accuracy on gold items; answers % of the dataset's answers; (b) k = round(answers of (c) / tasks), "
             "first k of each task in the replay order; (c) accuracy = the labels the project's last "
             "DS recompute delivers, 'at close %' = the submit path's label when the task closed; "
             "(d) = (c) deciding with (a)'s model, nothing reopened: a ceiling no live system reaches; its "
             "accuracy is DS on the answers it consumed, its 'at close %' (a)'s model's own labels. The app "
             "checks the recompute trigger every 100 answers, the replay after each.")
    return "\n".join([intro, notes, ""] + lines + verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(_datasets.CATEGORICAL))
    parser.add_argument("--seeds", type=int, default=len(SEEDS))
    parser.add_argument("--gold-share", type=float, default=0.0)
    parser.add_argument("--targets", type=float, nargs="*", default=list(TARGETS))
    parser.add_argument("--evidence-weight", type=float, default=DEFAULT_EVIDENCE_WEIGHT)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--ceiling", action="store_true",
                        help="add (d): the policy judging with the all-answers DS model (unattainable ceiling)")
    args = parser.parse_args()
    names = [n for n in args.datasets if _datasets.available(n)]
    missing = sorted(set(args.datasets) - set(names))
    if missing:
        print(f"skipped (not found in {_datasets.datasets_dir()}): {', '.join(missing)}")
    seeds = list(range(1, args.seeds + 1))
    started = time.perf_counter()
    # Largest first so the two workers finish together.
    names.sort(key=lambda n: -os.path.getsize(_datasets.datasets_dir() / n / "labels.csv"))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {n: pool.submit(evaluate, n, seeds, args.gold_share, args.targets, args.evidence_weight,
                                  args.ceiling) for n in names}
        by_name = {n: f.result() for n, f in futures.items()}
    order = [n for n in _datasets.CATEGORICAL if n in by_name] + [n for n in names if n not in _datasets.CATEGORICAL]
    print(table([by_name[n] for n in order], seeds, args.gold_share, args.targets, args.evidence_weight))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
