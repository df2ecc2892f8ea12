"""Bayesian classifier combination by variational Bayes: IBCC, and EBCC's worker-correlation subtypes.

IBCC (Kim & Ghahramani, AISTATS 2012): a task's true class z ~ Cat(tau), tau ~ Dir(1); annotator
w's answer given z = k ~ Cat(pi_wk), pi_wk ~ Dir(beta_k). Unlike Dawid-Skene's point estimates, the
posterior keeps each annotator's uncertainty: an answer counts through E[log pi], which for an
annotator with few answers stays close to the prior. Here beta is pooled (see `_vb.py`): learned
from every annotator's answers by type-II maximum likelihood, so the crowd itself says how far a
sparse annotator should be trusted.

EBCC (Li, Rubinstein & Cohn, ICML 2019) adds M latent subtypes per class: a task is of class k and
subtype m ~ Cat(rho_k), rho_k ~ Dir(a_rho / M), and an annotator answers from pi_wkm ~ Dir(beta_k).
Annotators who answer the same task share its subtype, so errors that go together (a breed that
looks like another, an ambiguous document) are explained by the subtype instead of being counted
as independent evidence. Its bound has local optima: several restarts from fixed seeds, the one
with the highest evidence lower bound (ELBO) kept. With M = 1 it is IBCC.

Both are solved on the sparse task x (annotator, answer) incidence matrix: an iteration is two
sparse x dense products (expected counts, then the E-step), no loop over answers. Gold tasks are
clamped to their known class in every E-step, so they also shape the annotators' matrices.
`result.extra` carries the ELBO, the learned prior and the fit itself (the confusion rows'
Dirichlet parameters, the class x subtype posteriors), which the default method blends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _vb
from ._checks import Answers, check_answers, check_priors
from ._core import answer_matrices, softmax_columns
from .dawid_skene import checked_start, initial_posteriors
from .result import InferenceResult

PRIOR_DIAGONAL, PRIOR_OFF_DIAGONAL = 4.0, 1.0  # EBCC's a_v, b_v: the starting prior (and the fixed one)
SUBTYPE_CONCENTRATION = 0.1  # EBCC's a_pi: few subtypes used unless the answers call for more
DEFAULT_SUBTYPES = 10
DEFAULT_RESTARTS = 5
PRIOR_SETTLED = 1e-4  # the pooled prior stops being re-estimated once a step moves it less than this


@dataclass(frozen=True)
class BccFit:
    """The variational posterior of one fit."""

    joint: np.ndarray  # (T, K, M) q(class k, subtype m) of every task
    rows: np.ndarray  # (W, K, M, K) Dirichlet parameters of every confusion row: [w, k, m, answer l]
    beta: np.ndarray  # (K, K) the prior of a row given true class k
    classes: np.ndarray  # (K,) Dirichlet parameters of the class proportions
    elbo: float
    n_iter: int
    converged: bool

    @property
    def posteriors(self) -> np.ndarray:
        """q(true class) of every task, (T, K)."""
        return self.joint.sum(axis=2)

    def mean_confusion(self) -> np.ndarray:
        """E[pi_wk] marginalised over subtypes by their overall share, (W, K, K)."""
        mean = self.rows / self.rows.sum(axis=-1, keepdims=True)
        share = self.joint.sum(axis=0)
        totals = share.sum(axis=1, keepdims=True)
        # A class no task is in (possible with gold on every task): its subtypes count alike.
        share = np.where(totals > 0, share / np.where(totals > 0, totals, 1.0), 1.0 / share.shape[1])
        return np.einsum("wkml,km->wkl", mean, share)


def fit(a: Answers, *, subtypes: int = 1, pooled: bool = True, seed: int = 0, max_iter: int = 300,
        tol: float = 1e-6, start: np.ndarray | None = None, priors: np.ndarray | None = None) -> BccFit:
    """Fit IBCC (subtypes = 1) or EBCC by coordinate ascent on the ELBO, from `start` (T, K) or Wawa.

    `priors` (K,) fixes the class proportions instead of learning them (tau ~ Dir(1)).

    Arrays are kept as (virtual class c, ...), c a (class, subtype) pair, so every pass over tasks
    is contiguous. A subtype whose tasks' total mass falls below EMPTY_SUBTYPE is dropped: under
    the sparse prior on subtype shares it would stay empty, and each one costs two passes over
    the answers per iteration.
    """
    K, W, T, M = a.K, a.n_annotators, a.n_tasks, int(subtypes)
    A, AT = answer_matrices(a.task, a.annotator, a.label, T, W, K)
    post = initial_posteriors(a) if start is None else checked_start(start, a)
    klass, slot = np.repeat(np.arange(K), M), np.tile(np.arange(M), K)
    if M > 1:  # break the subtypes' symmetry: a random split of each class's mass (EBCC's start)
        split = np.random.default_rng(seed).dirichlet(np.ones(M), size=(T, K))
        joint = np.ascontiguousarray((post[:, :, None] * split).reshape(T, K * M).T)
    else:
        joint = np.ascontiguousarray(post.T)
    anchor = _vb.diagonal_prior(K, PRIOR_DIAGONAL, PRIOR_OFF_DIAGONAL)  # EBCC's prior; the pooled one's hyperprior
    beta = anchor.copy()
    share_prior = SUBTYPE_CONCENTRATION / M
    learning_prior = pooled
    previous, converged, it = -np.inf, False, 0
    for it in range(1, max_iter + 1):
        if M > 1 and it > 1:
            klass, slot, joint = _drop_empty(klass, slot, joint)
        C = klass.size
        counts = np.empty((C, W * K))
        for c in range(C):  # expected counts [c, (w, answer l)]
            counts[c] = AT @ joint[c]
        counts = counts.reshape(C, W, K)
        if learning_prior:  # generalised EM: a few steps per iteration, until the prior settles
            settled = beta.copy()
            for k in range(K):
                beta[k] = _vb.pooled_prior(beta[k], counts[klass == k].reshape(-1, K), anchor[k],
                                           iterations=20 if it == 1 else 2)
            learning_prior = np.abs(beta - settled).max() > PRIOR_SETTLED * beta.max()
        prior_rows = beta[klass][:, None, :]  # [c, 1, l]
        rows = counts + prior_rows
        mass = joint.sum(axis=1)
        classes = 1.0 + np.bincount(klass, weights=mass, minlength=K) if priors is None else priors
        shares = np.full((K, M), share_prior)
        shares[klass, slot] += mass
        log_rows, row_kl = _vb.expected_log_and_kl(rows, prior_rows)
        shift = (_vb.expected_log(classes) if priors is None else np.log(priors))[klass]
        if M > 1:
            shift = shift + _vb.expected_log(shares)[klass, slot]
        logits = np.empty((C, T))
        for c in range(C):
            logits[c] = A @ log_rows[c].ravel()
        logits += shift[:, None]
        if a.gold_tasks.size:
            logits[:, a.gold_tasks] = np.where(klass[:, None] == a.gold_labels[None, :], logits[:, a.gold_tasks], -np.inf)
        joint, log_norm = softmax_columns(logits)
        elbo = float(log_norm.sum()) - row_kl
        if priors is None:
            elbo -= _vb.dirichlet_kl(classes, np.ones(K))
        if M > 1:
            elbo -= _vb.dirichlet_kl(shares, np.full((K, M), share_prior))
        if abs(elbo - previous) <= tol * abs(elbo):
            converged = True
            break
        previous = elbo
    return _assemble(klass, slot, joint, rows, K, M, W, T, beta, classes, elbo, it, converged)


EMPTY_SUBTYPE = 1e-3  # in tasks: a subtype holding less than this is dropped


def _drop_empty(klass, slot, joint):
    """Drop subtypes (never a class's last) holding less than EMPTY_SUBTYPE tasks' worth of mass."""
    mass = joint.sum(axis=1)
    keep = mass >= EMPTY_SUBTYPE
    for k in np.unique(klass[~keep]):
        mine = klass == k
        if not keep[mine].any():
            keep[np.flatnonzero(mine)[np.argmax(mass[mine])]] = True
    if keep.all():
        return klass, slot, joint
    joint = joint[keep]
    joint /= np.maximum(joint.sum(axis=0), 1e-300)
    return klass[keep], slot[keep], np.ascontiguousarray(joint)


def _assemble(klass, slot, joint, rows, K, M, W, T, beta, classes, elbo, it, converged) -> BccFit:
    """Full (.., K, M, ..) arrays from the surviving virtual classes; dropped subtypes are empty."""
    full_joint = np.zeros((T, K, M))
    full_joint[:, klass, slot] = joint.T
    full_rows = np.broadcast_to(beta[None, :, None, :], (W, K, M, K)).copy()
    full_rows[:, klass, slot] = rows.transpose(1, 0, 2)
    return BccFit(joint=full_joint, rows=full_rows, beta=beta, classes=classes,
                  elbo=elbo, n_iter=it, converged=converged)


def to_result(method: str, f: BccFit, **extra) -> InferenceResult:
    """Package a fit as an InferenceResult (confusion = posterior mean, marginalised over subtypes)."""
    post = f.posteriors
    confusion = f.mean_confusion()
    priors = f.classes / f.classes.sum()  # the mean of q(tau), or the fixed priors
    skill = np.einsum("wkk,k->w", confusion, priors)
    return InferenceResult(
        method=method, labels=post.argmax(axis=1), posteriors=post, skill=skill, confusion=confusion,
        priors=priors, n_iter=f.n_iter, log_likelihood=f.elbo, converged=f.converged,
        extra={"elbo": f.elbo, "prior": f.beta, "fit": f, **extra},
    )


def ibcc(task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None, n_annotators=None,
         pooled: bool = True, max_iter: int = 300, tol: float = 1e-6) -> InferenceResult:
    """Infer true labels with IBCC by variational Bayes; the confusion prior pooled across annotators."""
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    return to_result("ibcc", fit(a, pooled=pooled, max_iter=max_iter, tol=tol, priors=check_priors(priors, a.K)))


def ebcc(task_idx, annotator_idx, label_idx, K, *, gold=None, priors=None, n_tasks=None, n_annotators=None,
         subtypes: int = DEFAULT_SUBTYPES, restarts: int = DEFAULT_RESTARTS, pooled: bool = False,
         max_iter: int = 300, tol: float = 1e-6) -> InferenceResult:
    """Infer true labels with EBCC's correlated-annotator subtypes; the restart with the best ELBO wins.

    The prior of every subtype's confusion row is EBCC's own (4 on the right answer, 1 elsewhere)
    unless `pooled`: it is what ties a subtype to its class. Pooled, nothing does, and a subtype
    can drift to look like another class (measured: ZC_in fell from .78 to .63, Web from .75 to .71).
    """
    a = check_answers(task_idx, annotator_idx, label_idx, K, gold=gold, n_tasks=n_tasks,
                      n_annotators=n_annotators)
    if int(subtypes) != subtypes or subtypes < 1:
        raise ValueError(f"subtypes must be a positive integer, got {subtypes!r}")
    if int(restarts) != restarts or restarts < 1:
        raise ValueError(f"restarts must be a positive integer, got {restarts!r}")
    best, elbos = best_of_restarts(a, subtypes=int(subtypes), restarts=int(restarts), pooled=pooled,
                                   priors=check_priors(priors, a.K), max_iter=max_iter, tol=tol, with_elbos=True)
    return to_result("ebcc", best, elbos=elbos)


def best_of_restarts(a: Answers, *, subtypes: int = DEFAULT_SUBTYPES, restarts: int = DEFAULT_RESTARTS,
                     pooled: bool = False, priors=None, max_iter: int = 300, tol: float = 1e-6, with_elbos=False,
                     start=None):
    """EBCC fitted from seeds 0..restarts-1 (the same start, Wawa or `start`, other subtype splits); the best
    ELBO wins."""
    start = initial_posteriors(a) if start is None else start
    fits = [fit(a, subtypes=subtypes, pooled=pooled, seed=seed, start=start, max_iter=max_iter, tol=tol, priors=priors)
            for seed in range(restarts)]
    best = max(fits, key=lambda f: f.elbo)  # first maximum: ties go to the lower seed
    return (best, [f.elbo for f in fits]) if with_elbos else best
