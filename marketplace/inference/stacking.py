"""The default method: candidate models blended by how well they predict answers they never saw.

No single model wins on every crowd. Full confusion matrices (Dawid-Skene, IBCC) win where
annotators answer a lot and err in class-specific ways; one accuracy per annotator (one-coin) or a
competence and a spamming habit (MACE) win where most annotators answer a few tasks of many
classes, and MACE with one confusion matrix for the crowd's competent answers (mace_cm.py) where
the crowd also errs alike (a graded scale's grades); worker-correlation subtypes (EBCC) win where
annotators err together on the same tasks.
Community Dawid-Skene (community.py) wins where the crowd has kinds of annotator (careful, hurried,
one step off on a scale) and most annotators answer too little to be judged alone.
Which case a crowd is can be read from the answers alone: hold some answers out, fit every
candidate on the rest, and score each held-out answer by the probability the fitted model gave it,

    p_m(answer l of annotator w on task t) = sum_k q_m(t = k | other answers) P_m(w answers l | k),

the model's posterior of the task from its other answers times the annotator's fitted row (an
annotator without other answers answers as the population's average), that posterior first raised
to the candidate's dispersion tau (fitted on the same held-out answers, `dispersion`): the models
take a task's answers as independent, real answers scatter more around a task than that, and by a
different amount under each model, which would otherwise outweigh which class each model believes
(before it, Web's blend scored 0.8304 where its best candidate alone scored 0.8556; after, 0.8451).
The blend weights are those of the mixture of the candidates' predictive distributions that scores
the held-out answers best (stacking, Yao, Vehtari, Simpson & Gelman, Bayesian Analysis 2018;
Wolpert 1992): a candidate that adds nothing gets weight 0, and when two capture different parts of
the crowd both keep some. Every candidate is then refitted on all answers and the task posteriors are
blended with those weights. The folds are drawn from a fixed seed: the method is deterministic.

Budget. Five folds are scored (every answer held out once) until 50,000 answers have been held
out: beyond that the criterion is precise enough, and a million-answer crowd is scored on one
fold. The candidates cost very different amounts (EBCC's restarts and subtypes make it ~40 DS
fits); they are taken cheapest first while the search's work stays within SEARCH_BUDGET, so a
very large crowd is blended from the cheap ones (with hundreds of answers per annotator the
models differ least there). Both limits are about time, not accuracy: every shared dataset but
S_Rel and Trec gets every candidate (those two go without EBCC; Trec's budget held 55.6 DS-fit
units, and the seven others cost 63 since mace_cm joined: its accuracy is the same either way).
The search's work is the fold fits and the refit on all answers. With gold, the blended candidates
are also fitted once per fold of the gold (gold_folds.py), outside the budget: gold
does not change which candidates are tried.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from . import bcc
from ._checks import Answers, check_answers, check_priors
from .calibration import IDENTITY
from .community import community_dawid_skene
from .dawid_skene import dawid_skene, one_coin_dawid_skene, prior_confusion
from .dawid_skene_auto import answer_folds
from .gold_folds import calibrations, gold_folds, held_out_starts
from .mace import mace
from .mace_cm import mace_cm
from .result import InferenceResult

FOLDS = 5
HELD_OUT_ENOUGH = 50_000
SEED = 0
CANDIDATES = ("ds", "ds_strong", "cds_strong", "ibcc", "ebcc", "mace", "mace_cm", "one_coin")
# What one fit costs, in Dawid-Skene fits of the same answers (measured here on the shared
# datasets and the 1M synthetic; EBCC is 10 subtypes x 5 restarts; community DS takes more EM
# iterations than DS: 2x on the 1M synthetic with 3 communities; mace_cm 3-4x on the datasets, 8x on the 1M).
RELATIVE_COST = {"ds": 1.0, "ds_strong": 1.0, "one_coin": 1.0, "cds_strong": 2.0, "mace": 6.0, "mace_cm": 6.0,
                 "ibcc": 6.0, "ebcc": 40.0}
# Answers x classes x DS-fits the search may spend: about eight DS fits of a million 5-class
# answers, ~2 s here. Cheaper candidates are taken first.
SEARCH_BUDGET = 4e7
STRONG_SMOOTHING = 4.0  # ds_strong and cds_strong: the strongest prior of ds_auto's grid
THREADS = min(2, os.cpu_count() or 1)
MIN_WEIGHT = 1e-3  # a candidate below this share is dropped from the blend (and not refitted)
# `dispersion`: tau is fitted on at most this many held-out answers (one number: its standard error is
# already tiny), over this range of log tau (tau from 1/100 to 100, far past any fitted here).
DISPERSION_SAMPLE = 20_000
DISPERSION_LOG_BOUNDS = (-4.6, 4.6)


@dataclass(frozen=True)
class Fitted:
    """What the blend needs of one candidate fitted on some answers."""

    result: InferenceResult
    joint: np.ndarray  # (T, K, M): q(class, subtype) of every task
    rows: np.ndarray  # (W, K, M, K): P(answer l | class k, subtype m) for every annotator
    newcomer: np.ndarray  # (K, M, K): the same for an annotator without answers here

    def predictive(self, task, annotator, label, seen) -> tuple[np.ndarray, np.ndarray]:
        """What the fit predicts answers (task, annotator, label) from: the tasks' joint q(class, subtype)
        (n, K, M) and each answer's probability under every (class, subtype) (n, K, M); `seen[w]`: w had
        training answers."""
        rows = np.where(seen[annotator][:, None, None], self.rows[annotator, :, :, label],
                        np.moveaxis(self.newcomer[:, :, label], -1, 0))
        return self.joint[task], rows


def _point(result: InferenceResult, seen: np.ndarray) -> Fitted:
    """A point-estimate model (one confusion matrix per annotator) as a Fitted."""
    conf = result.confusion
    newcomer = conf[seen].mean(axis=0) if seen.any() else prior_confusion(result.K)
    return Fitted(result, result.posteriors[:, :, None], conf[:, :, None, :], newcomer[:, None, :])


def _bayes(method: str, f: bcc.BccFit, **extra) -> Fitted:
    """A variational fit (rows are Dirichlet posteriors) as a Fitted."""
    rows = f.rows / f.rows.sum(axis=-1, keepdims=True)
    prior = f.beta / f.beta.sum(axis=1, keepdims=True)
    M = f.joint.shape[2]
    return Fitted(bcc.to_result(method, f, **extra), f.joint, rows, np.repeat(prior[:, None, :], M, axis=1))


# The point-estimate candidates: (method, options).
_POINT_MODELS = {"ds": (dawid_skene, {}), "ds_strong": (dawid_skene, {"smoothing": STRONG_SMOOTHING}),
                 "cds_strong": (community_dawid_skene, {"smoothing": STRONG_SMOOTHING}), "mace": (mace, {}),
                 "mace_cm": (mace_cm, {}), "one_coin": (one_coin_dawid_skene, {})}


def fit_candidate(name: str, a: Answers, priors: np.ndarray | None = None, start: np.ndarray | None = None) -> Fitted:
    """Fit candidate `name` on checked answers `a` (gold clamped); `priors` fixes the class proportions;
    `start` (n_tasks, K) replaces the method's usual start."""
    gold = dict(zip(a.gold_tasks.tolist(), a.gold_labels.tolist()))
    common = {"gold": gold, "n_tasks": a.n_tasks, "n_annotators": a.n_annotators, "priors": priors, "start": start}
    if name in _POINT_MODELS:
        method, options = _POINT_MODELS[name]
        return _point(method(a.task, a.annotator, a.label, a.K, **options, **common),
                      np.bincount(a.annotator, minlength=a.n_annotators) > 0)
    if name == "ibcc":
        return _bayes("ibcc", bcc.fit(a, priors=priors, start=start))
    if name == "ebcc":
        return _bayes("ebcc", bcc.best_of_restarts(a, priors=priors, start=start))
    raise ValueError(f"unknown candidate {name!r}; choose from {CANDIDATES}")


def affordable(names, a: Answers, fits: int) -> tuple[str, ...]:
    """The candidates the search can afford, cheapest first, each needing `fits` fits of these answers.

    A fit's work grows with the answers x classes (the passes over answers) and with the annotators
    x classes^2 (the confusion rows every iteration updates): a crowd of few answers but many
    annotators and classes is not cheap.
    """
    unit = (a.task.size + a.n_annotators * a.K) * a.K * fits
    chosen, spent = [], 0.0
    for name in sorted(names, key=lambda n: (RELATIVE_COST[n], names.index(n))):
        if chosen and spent + unit * RELATIVE_COST[name] > SEARCH_BUDGET:
            continue
        chosen.append(name)
        spent += unit * RELATIVE_COST[name]
    return tuple(n for n in names if n in chosen)


def _subset(a: Answers, keep: np.ndarray) -> Answers:
    return Answers(a.task[keep], a.annotator[keep], a.label[keep], a.n_tasks, a.n_annotators, a.K,
                   a.gold_tasks, a.gold_labels)


def scored_folds(a: Answers, folds: int, seed: int) -> tuple[np.ndarray, int]:
    """Each answer's fold, and how many folds to score: all, or enough to hold out HELD_OUT_ENOUGH answers."""
    fold = answer_folds(a.task, a.annotator, a.n_tasks, folds, seed)
    held = np.cumsum(np.bincount(fold, minlength=folds))
    return fold, int(min(folds, np.searchsorted(held, HELD_OUT_ENOUGH) + 1))


def heldout_densities(names, a: Answers, fold: np.ndarray, n_scored: int, pool: Executor, priors=None):
    """(P, dispersions): P[n, m], the probability candidate m, fitted without the fold of scored answer n
    (rows: the scored answers fold by fold), gives it, its task posterior tempered by the candidate's
    dispersion (`dispersion`)."""
    jobs = {}
    for f in range(n_scored):
        train = _subset(a, fold != f)
        for name in names:
            jobs[f, name] = pool.submit(fit_candidate, name, train, priors)
    tests = [np.flatnonzero(fold == f) for f in range(n_scored)]
    seen = [np.bincount(a.annotator[fold != f], minlength=a.n_annotators) > 0 for f in range(n_scored)]
    scored = sum(t.size for t in tests)
    # The dispersion's sample, spread over the folds (not every fold's arrays at once) in (task, annotator,
    # label) order: like the folds, it does not depend on the order the answers came in.
    ordered = [t[np.lexsort((a.label[t], a.annotator[t], a.task[t]))] for t in tests]
    sampled = [t[_spread(t.size, -(-DISPERSION_SAMPLE * t.size // max(scored, 1)))] for t in ordered]

    def predictive(name, f, which):
        return jobs[f, name].result().predictive(a.task[which], a.annotator[which], a.label[which], seen[f])

    P = np.zeros((scored, len(names)))  # rows: the scored answers fold by fold
    dispersions = {}
    for m, name in enumerate(names):
        sample = [predictive(name, f, which) for f, which in enumerate(sampled)]
        dispersions[name] = dispersion(*(np.concatenate([part[i] for part in sample]) for i in (0, 1)))
        P[:, m] = np.concatenate([tempered_density(*predictive(name, f, t), dispersions[name])
                                  for f, t in enumerate(tests)])
    return P, dispersions


def _spread(n: int, k: int) -> np.ndarray:
    """min(n, k) positions of 0..n-1, evenly spread (all of them when k >= n)."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).astype(np.int64)) if n and k else np.zeros(0, np.int64)


def tempered_density(joint: np.ndarray, rows: np.ndarray, tau: float) -> np.ndarray:
    """Each answer's probability sum_km q_tau(k, m) rows(k, m), with q_tau ~ q^tau: joint (n, K, M), rows (n, K, M)."""
    with np.errstate(divide="ignore"):
        return _tempered(np.log(joint), rows, tau)


def _tempered(log_joint: np.ndarray, rows: np.ndarray, tau: float) -> np.ndarray:
    logits = tau * log_joint
    logits -= logits.max(axis=(1, 2), keepdims=True)
    q = np.exp(logits)
    return np.einsum("nkm,nkm->n", q, rows) / q.sum(axis=(1, 2))


def dispersion(joint: np.ndarray, rows: np.ndarray) -> float:
    """The power tau on a candidate's task posteriors under which they predict held-out answers best.

    The candidates take a task's answers as independent given its class, so its other answers say as
    much about the next one as about the truth; on real crowds they say less (a hard item's answers
    scatter), by an amount that depends on the model (tau 0.26-1.2 between candidates on MS). Scored
    untempered, the stacking weighs that mismatch as much as which class each model believes, and a
    candidate sharp where its ranking is wrong can outscore a better one. So each candidate is scored
    with its task posterior raised to the tau (maximum likelihood on at most DISPERSION_SAMPLE held-out
    answers) that predicts its held-out answers best. tau is a property of how answers scatter around
    a task, not of the truth: the blend keeps the candidates' own posteriors; gold calibrates them.
    """
    pick = _spread(joint.shape[0], DISPERSION_SAMPLE)
    if pick.size == 0:
        return 1.0
    with np.errstate(divide="ignore"):
        log_joint = np.log(joint[pick])
    r = rows[pick]

    def loss(log_tau):
        return -float(np.log(np.maximum(_tempered(log_joint, r, float(np.exp(log_tau))), 1e-300)).sum())

    found = minimize_scalar(loss, bounds=DISPERSION_LOG_BOUNDS, method="bounded", options={"xatol": 1e-3})
    return float(np.exp(found.x)) if loss(found.x) < loss(0.0) else 1.0


def stacking_weights(P: np.ndarray) -> np.ndarray:
    """Weights on the simplex maximising sum_n log sum_m w_m P[n, m] (a concave problem; SLSQP).

    Started from the EM step of equal weights; the answer is unique wherever the candidates'
    predictions are not collinear, and the solver is deterministic. Should SLSQP fail, the EM
    fixed point for mixture weights (slower, never worse than its start) takes over.
    """
    P = np.maximum(P, 1e-300)
    M = P.shape[1]
    if M == 1:
        return np.ones(1)
    scale = 1.0 / P.shape[0]

    def loss(w):
        mix = P @ w
        return -scale * np.log(mix).sum(), -scale * (P / mix[:, None]).sum(axis=0)

    start = np.full(M, 1.0 / M)
    start = start * (P / (P @ start)[:, None]).mean(axis=0)
    found = minimize(loss, start, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * M,
                     constraints=({"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(M)},),
                     options={"ftol": 1e-12, "maxiter": 200})
    w = np.clip(found.x, 0.0, None)
    if found.success and np.isfinite(w).all() and w.sum() > 0 and loss(w / w.sum())[0] <= loss(start)[0] + 1e-12:
        return w / w.sum()
    w = start
    for _ in range(500):
        w = w * (P / (P @ w)[:, None]).mean(axis=0)
    return w / w.sum()


def auto(task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None, n_annotators=None,
         candidates=CANDIDATES, folds: int = FOLDS, seed: int = SEED, threads: int = THREADS) -> InferenceResult:
    """Blend the candidate models by stacking on held-out answers; refit them on all answers.

    With `gold`, the blend's posteriors are calibrated on it (see calibration.py); `priors` fixes
    the class proportions of every candidate. Fits run on `threads` threads (numpy and scipy
    release the GIL in the passes over answers); the result does not depend on their number.
    """
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    fixed = check_priors(priors, a.K)
    candidates = tuple(dict.fromkeys(candidates))
    if not candidates or any(n not in RELATIVE_COST for n in candidates):
        raise ValueError(f"candidates must be a non-empty subset of {CANDIDATES}, got {candidates!r}")
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    fold, n_scored = scored_folds(a, folds, seed) if a.task.size >= folds else (None, 0)
    names = affordable(candidates, a, fits=n_scored + 1)
    with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        if len(names) > 1 and n_scored:
            P, dispersions = heldout_densities(names, a, fold, n_scored, pool, fixed)
            weights, scores = stacking_weights(P), np.log(np.maximum(P, 1e-300)).sum(axis=0)
        else:
            weights, scores, dispersions = np.ones(len(names)) / len(names), np.zeros(len(names)), {}
        weights = np.where(weights >= MIN_WEIGHT, weights, 0.0)
        share = {name: float(w) for name, w in zip(names, weights / weights.sum()) if w > 0}
        # Refitted from their usual start, not from the fold fits: EM's optimum depends on where it
        # starts, and the blended models should be the methods themselves (measured: a warm start
        # from the fold-0 fit cost 1 point on S_Rel and 1.6 on Web). With gold, each is also fitted
        # once per fold of the gold with that fold's labels unseen (started from the fit on all
        # answers): the calibrations learn from those (gold_folds.py).
        folds = gold_folds(a)  # none without an answered gold task: nothing to calibrate on
        jobs = {name: pool.submit(fit_candidate, name, a, fixed) for name in share}
        fitted = {name: job.result() for name, job in jobs.items()}
        crossed = []
        for tasks, labels, part in folds:
            starts = held_out_starts({name: fitted[name].result.posteriors for name in share}, part, tasks)
            crossed.append((tasks, labels, {name: pool.submit(fit_candidate, name, part, fixed, starts[name])
                                            for name in share}))
        crossed = [(tasks, labels, {name: job.result().result for name, job in fits.items()})
                   for tasks, labels, fits in crossed]
    return _blend(a, share, fitted, crossed, extra={"heldout_log_lik": dict(zip(names, scores.tolist())),
                                                    "dispersion": dispersions})


def _blend(a: Answers, share: dict, fitted: dict, crossed: list, extra: dict) -> InferenceResult:
    """The weighted blend of the refitted candidates, calibrated on the gold when there is some.

    Two calibrations are learned from the answered gold tasks, on fits that did not see their labels
    (gold_folds.py): `calibration`, for the blend's own posteriors, from `crossed` (one fit per fold of
    the gold, the other folds' gold clamped); `incremental_calibration`, for what the submit path
    computes between recomputes (the E-step of one task with the blend's averaged confusion matrices,
    sharper than the blend wherever a subtype model leads it), from the same fits' averaged
    matrices. The first never changes a task's label and scores the whole posterior it publishes; the
    second, which only decides whether a task needs another answer, scores the top label's confidence
    and leans on the class priors (calibration.py).
    """
    post = sum(share[n] * f.result.posteriors for n, f in fitted.items())
    confusion = sum(share[n] * f.result.confusion for n, f in fitted.items())
    class_priors = sum(share[n] * f.result.priors for n, f in fitted.items())
    calibration = incremental = IDENTITY
    if crossed:
        calibration, incremental = calibrations(a, share, {n: f.result for n, f in fitted.items()}, crossed)
        post = calibration.apply(post, class_priors, np.bincount(a.task, minlength=a.n_tasks))
    if a.gold_tasks.size:
        post[a.gold_tasks] = 0.0
        post[a.gold_tasks, a.gold_labels] = 1.0
    return InferenceResult(
        method="auto", labels=post.argmax(axis=1), posteriors=post,
        skill=np.einsum("wkk,k->w", confusion, class_priors), confusion=confusion, priors=class_priors,
        n_iter=max(f.result.n_iter for f in fitted.values()),
        converged=all(f.result.converged for f in fitted.values()),
        extra={"chosen": max(share, key=share.get), "weights": share, "calibration": calibration,
               "incremental_calibration": incremental,
               "models": {n: f.result for n, f in fitted.items()}, **extra},
    )
