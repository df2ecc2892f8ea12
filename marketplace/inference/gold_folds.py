"""The default's calibrations, learned from the gold by cross-fitting.

A calibration (calibration.py) maps the posteriors of the model the results publish: a fit with
all the gold clamped, whose annotators' matrices learned from every gold label. It is learned from
gold tasks' posteriors, which must come from a fit that did not see their labels (a fit that saw
them states them with certainty; S_Rel's ECE read 0.08 instead of 0.03 calibrated on those). A
fit blind to every gold label is the wrong stand-in too: its matrices learned from no gold, so its
posteriors are less often right than the published ones, the calibration learns a correlation
between answers that is partly the missing gold (the 20-seed means of the fitted correlation, 10%
gold: MS 0.28 blind against 0.20 cross-fitted, ZC_in 0.34 against 0.21), and it then understates
the published confidences where the evidence is middling.

So the calibrations are cross-fitted (as cross-validated calibration is generally, and
double machine learning: Chernozhukov et al. 2018): the answered gold tasks are split into
GOLD_FOLDS random parts, each blended candidate is fitted once per part with every other part's
gold clamped, and each gold task's posterior is read off the fit that held it out. Every such fit
has learned from four fifths of the gold, the published one from all of it (with fewer than five
answered gold tasks, one part per task). Five parts, as many as the search's folds (stacking.py),
cost five fits per blended candidate; two parts calibrated the shared datasets as well (on
20 seeds of MS, Dog and ZC_in, within 0.003 of five), but a fit that learned from half the gold
stands further from the published one (below).

Each part's fit starts where the published fit ended, its held-out tasks restarted from the Wawa
vote of their answers (`held_out_starts`). EM climbs to the optimum nearest its start, and where a
crowd can be read two ways the gold is what chose the published reading: started from the Wawa
vote, fits with four fifths of the gold could land between the two. Where 7 annotators in 10 swap
two classes, fits with 48 of 60 gold tasks clamped read 71% of the tasks right where the published
fit read 98%, and the calibration stated 0.89 for labels right 98% of the time (ECE 0.095); started
from the published fit, they stay with its reading (ECE 0.004-0.022 on four such crowds). The start
carries the held-out labels' pull on the other tasks, but on 48 planted crowds (sparse, with
spammers, skewed, with hard items; 100 gold tasks of 1,000) the ECE was the same as from the Wawa
start (within 0.0012 on each kind, and 0.008 below the blind fit's with spammers).

The submit path's calibration (`incremental_calibration`) learns from the same fold fits: each
fold's held-out gold tasks are judged by the one-task E-step with the blend of that fold's matrices
(`prefix_posteriors`), as the app judges a task with the published matrices. It used to learn from
fits blind to all the gold, one more fit per blended candidate. Cross-fitted, the redundancy
replay did not move (benchmarks/redundancy_replay.py, Dog, 4 seeds, targets 0.97-0.99: the same
accuracy and answers to 0.1 point; over 20 seeds, Dog at 0.97 and D_PosSent at 0.99 within 0.02
point): the policy judges with the smallest correlation the gold allows, which stayed where it was
(0 on Dog with 10% gold either way). The fitted figures moved where the blind fits read the gold
worst (10% gold, one seed: ZC_in's label noise 0.49 blind, 0.29 cross-fitted), and the blind fits'
cost went: with 10% gold the default took 0-14% less CPU (ZC_in 8.0 s to 6.9 s, D_Product 15.1 to 13.7).

What the calibrations are then fitted to (the blend's posteriors, scored on the gold label; the
submit path's one-task E-step after each prefix of a task's answers, scored on the top label)
is `_blend`'s (stacking.py) and calibration.py's to say.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._checks import Answers
from .calibration import Calibration, fit_calibration
from .dawid_skene import initial_posteriors
from .incremental import task_posteriors
from .result import InferenceResult

GOLD_FOLDS = 5
SEED = 0


def gold_folds(a: Answers, folds: int = GOLD_FOLDS, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray, Answers]]:
    """The answered gold tasks split into `folds` random parts (a fixed seed, whatever order the gold came in):
    per part with any tasks, (its tasks, their labels, the answers with every other gold task clamped)."""
    answered = np.flatnonzero(np.bincount(a.task, minlength=a.n_tasks)[a.gold_tasks] > 0)
    answered = answered[np.argsort(a.gold_tasks[answered], kind="stable")]
    part = np.empty(answered.size, dtype=np.int64)
    part[np.random.default_rng(seed).permutation(answered.size)] = np.arange(answered.size) % folds
    out = []
    for f in range(folds):
        held = answered[part == f]
        if held.size:
            rest = np.ones(a.gold_tasks.size, dtype=bool)
            rest[held] = False
            out.append((a.gold_tasks[held], a.gold_labels[held],
                        replace(a, gold_tasks=a.gold_tasks[rest], gold_labels=a.gold_labels[rest])))
    return out


def held_out_starts(published: dict, part: Answers, tasks: np.ndarray) -> dict:
    """Where each candidate's fit of a fold starts: its published fit's posteriors (`published[name]`,
    (n_tasks, K)), the fold's held-out gold `tasks` restarted from the Wawa vote of their answers, as if
    no gold had named them."""
    restart = initial_posteriors(part)[tasks]
    starts = {}
    for name, posteriors in published.items():
        starts[name] = np.array(posteriors, dtype=np.float64)
        starts[name][tasks] = restart
    return starts


def calibrations(a: Answers, share: dict, fitted: dict,
                 crossed: list[tuple[np.ndarray, np.ndarray, dict]]) -> tuple[Calibration, Calibration]:
    """(calibration, incremental_calibration) learned on the answered gold tasks. `fitted[name]`: candidate
    `name` fitted on all the answers; `crossed`: per fold of `gold_folds(a)`, (its held-out tasks, their
    labels, {name: the candidate fitted on the fold's answers from `held_out_starts`}) (all InferenceResults);
    `share`: the blend's weights. Both calibrations learn from the fold fits: the results' from the blend
    of their posteriors, the submit path's from the one-task E-step with the blend of their matrices
    (each fold's on its own held-out tasks). Fits short of some gold first have their classes named as
    the full fit names them (`aligned`)."""
    counts = np.bincount(a.task, minlength=a.n_tasks)
    class_priors = sum(share[n] * fitted[n].priors for n in share)
    free, steps = [], []
    for held, held_labels, fits in crossed:
        fold = {n: aligned(fits[n], fitted[n], a.gold_tasks) for n in share}
        free.append(sum(share[n] * fold[n].posteriors[held] for n in share))
        steps.append(prefix_posteriors(a, held, held_labels, sum(share[n] * fold[n].confusion for n in share),
                                       sum(share[n] * fold[n].priors for n in share)))
    tasks = np.concatenate([f[0] for f in crossed])
    labels = np.concatenate([f[1] for f in crossed])
    calibration = fit_calibration(np.vstack(free), labels, class_priors, counts[tasks], target="label")
    step, step_labels, step_answers = (np.concatenate(parts) for parts in zip(*steps))
    incremental = fit_calibration(step, step_labels, class_priors, step_answers, gold=tasks.size, judged=True,
                                  anchor="prior")
    return calibration, incremental


def aligned(partial: InferenceResult, clamped: InferenceResult, gold_tasks: np.ndarray) -> InferenceResult:
    """`partial` (a fit without some of the gold) with its classes named as in `clamped` (the same
    model with all of it).

    Answers alone name a model's classes only up to a permutation: where most annotators swap two
    classes (a client that shows the labels in another order), a fit without the gold reads the swap
    as the truth, with confidence; one with part of it can land between the readings. Gold names the
    classes; the partial fit's class j is taken to be the clamped fit's class that its posteriors
    share the most tasks with (the tasks outside the gold, one class each: an assignment problem). Where no renaming shares more than the identity,
    `partial` comes back as it is. Renamed are what the calibration reads of it (posteriors, labels,
    confusion rows, priors); `skill` and `extra` are left as the partial fit had them.
    """
    outside = np.ones(partial.posteriors.shape[0], dtype=bool)
    outside[gold_tasks] = False
    shared = partial.posteriors[outside].T @ clamped.posteriors[outside]  # (K, K): partial class j with clamped class k
    _, named = linear_sum_assignment(shared, maximize=True)
    if shared[np.arange(named.size), named].sum() <= np.trace(shared) * (1.0 + 1e-9):
        return partial
    order = np.argsort(named)  # clamped class k is partial class order[k]
    posteriors = partial.posteriors[:, order]
    return replace(partial, labels=posteriors.argmax(axis=1), posteriors=posteriors,
                   confusion=None if partial.confusion is None else partial.confusion[:, order, :],
                   priors=None if partial.priors is None else partial.priors[order])


def prefix_posteriors(a: Answers, tasks, labels, confusion, priors):
    """The one-task E-step's posteriors of gold `tasks` after each of their first 1, 2, ... answers.

    The submit path judges a task after every answer, so its calibration learns from every prefix;
    the answers are taken in the order given (for the app, submission order).
    """
    mine = np.flatnonzero(np.isin(a.task, tasks))
    order = mine[np.argsort(a.task[mine], kind="stable")]
    # The gold tasks renumbered 0..n-1: each step's E-step spans them, not every task of the project.
    by_task = np.argsort(tasks)
    local = np.searchsorted(tasks[by_task], a.task[order])
    truth = np.asarray(labels)[by_task]
    rank = np.arange(order.size) - np.searchsorted(local, local)  # 0 for a task's first answer, 1 for its second...
    out, out_labels, out_answers = [], [], []
    for k in range(1, int(rank.max()) + 2):
        keep = rank < k
        post = task_posteriors(local[keep], a.annotator[order[keep]], a.label[order[keep]], confusion, priors,
                               tasks.size)
        reached = np.unique(local[rank == k - 1])  # tasks with at least k answers
        out.append(post[reached])
        out_labels.append(truth[reached])
        out_answers.append(np.full(reached.size, k))
    return np.vstack(out), np.concatenate(out_labels), np.concatenate(out_answers)
