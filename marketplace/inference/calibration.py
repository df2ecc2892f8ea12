"""Calibration: posteriors that mean what they say, learned from the project's own gold tasks.

Every model here treats a task's answers as independent given its class. They are not: a hard
item fools many annotators the same way, and an item whose reference label is debatable makes the
crowd "wrong" together. No model fitted to the answers alone can see how often that happens (a
unanimous crowd looks the same whether or not the reference agrees), so the answers alone cannot
calibrate a posterior; gold can. A calibration is two numbers with a generative reading:

- the correlation rho of answers on the same task: n answers carry the evidence of
  n / (1 + (n - 1) rho) independent ones (Kish's design effect), so the posterior is counted at
  weight T(n) = 1 / (1 + (n - 1) rho): p_T(k) ~ p(k)^T(n) (temperature scaling, Guo et al., ICML
  2017, with a temperature that grows with the answers). A second answer weighs almost fully, a
  tenth much less: one weight for every n cannot say that (fitted on Dog's ten-answer tasks it was
  0.2, and the redundancy policy, judging tasks after two or three answers, then asked for nearly
  every answer);
- the label noise e: a share e of reference labels is unrelated to the answers (any class alike),
  p_cal = (1 - e) p_T + e / K.

Neither moves the top label: a calibration says how often the label is right, it does not choose
another. The other form, `anchor="prior"`, leans on the class priors: p_T ~ prior (p / prior)^T
(a power likelihood: the class proportions are taken as known and only the answers' evidence is
weakened) with the noise drawn from the priors. It relabels the tasks whose evidence is weak as the
majority class. The results' calibration used it until it cost, with 10% gold, MS 0.6 point of
accuracy (0.8083 -> 0.8022) and the delivered labels of one Dog replay 0.8 point, while ZC_in, whose
minority-class labels are right half the time at any stated confidence, kept an ECE of 0.060 (0.042
with the uniform form). The redundancy policy's calibration (`incremental_calibration`) keeps it: it
only decides whether a task needs another answer, and judged in the uniform form the Dog replay
escalated twice as many tasks (a quarter of them at target 0.95) and spent 69% of the answers
instead of 60%.

Both numbers are fitted by maximum likelihood on gold tasks whose posteriors come from fits that
did not see their labels but learned from the rest of the gold (gold_folds.py). What the likelihood
scores depends on what the calibration is for:

- the redundancy policy judges one number, the top label's confidence, so its calibration scores
  "the label the posterior gives is right" (`target="top"`: top-label calibration, Gupta & Ramdas,
  ICLR 2022);
- the results publish the whole posterior, so theirs scores the probability the calibrated
  posterior gives the gold label (`target="label"`: the log score, a proper scoring rule, which
  temperature scaling fits too). It also learns from how the wrong tasks are wrong (the gold label
  as a close second, or far off), where the top label's only says right or wrong. With a few dozen
  gold tasks that is what matters: on MS (70 gold tasks, 10 classes, 5 seeds) the fitted
  correlation ranged 0.18-0.50 scoring the top label and 0.21-0.48 scoring the gold label, and the
  ECE read 0.058 (worst seed 0.089) against 0.052 (0.069); over the nine shared datasets, the
  worst seed of any read 0.069 instead of 0.089.

Flat priors on both numbers, so a handful of gold tasks, all right, leave the identity. Without
gold the calibration is the identity: a model's own confidence, usually too high where annotators
err together. `temperature` scales T(n) on top (1 when fitted; the app's stand-in before any gold,
see results/truth_model.py, is 0.5).

The redundancy policy judges the evidence with `judged_correlation`, the smallest correlation the
gold allows (the lower end of its 95% profile-likelihood interval; Wilks: the loss may rise by
chi2_1(0.95) / 2 = 1.92, each gold task counted once however many prefixes of it are scored), not
the best fit. Early on a project the fit is made from a few dozen gold
tasks whose posteriors come from young matrices, and it often says the answers go together (Dog,
one replay: 0.4-0.5 over the first half of the project, 0 at its end); judged with that, a task could
not reach the target whatever its answers, bought all of them and was escalated, for good (a third
of Dog's tasks at target 0.95). Closing is undone by the next recompute if the better model finds
the task short (results/policy.short_of_target); an escalation, and the answers bought on the way,
are not. The reported confidences keep the best fit.

`expected_calibration_error` is the measure the benchmarks report (10 equal-width bins of the top
posterior, weighted by their share of tasks). Measured on a few hundred tasks it is far from zero even
for posteriors that are exactly right: each bin's accuracy is a binomial draw around its confidence.
`ece_floor` is that sampling floor for a given set of confidences (labels drawn from the confidences
themselves), the least an ECE measured on them can be expected to read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize, minimize_scalar


ANCHORS = ("uniform", "prior")  # what a calibration's tempering and noise lean towards (the module docstring)
TARGETS = ("top", "label")  # what a fit's likelihood scores (the module docstring)


@dataclass(frozen=True)
class Calibration:
    """How a model's posteriors map to calibrated ones (the identity by default)."""

    correlation: float = 0.0
    label_noise: float = 0.0
    gold: int = 0  # gold tasks it was fitted on
    temperature: float = 1.0
    judged_correlation: float | None = None  # what the policy weighs evidence with (None: `correlation`)
    anchor: str = "uniform"  # what tempering and noise lean towards: "uniform", or "prior" (the class priors)

    def __post_init__(self) -> None:
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, got {self.anchor!r}")

    def base(self, priors) -> np.ndarray:
        """The distribution (K,) that tempering and noise lean towards: uniform, or the class `priors`."""
        pri = np.asarray(priors, dtype=np.float64)
        if self.anchor == "uniform":
            return np.full(pri.shape[-1], 1.0 / pri.shape[-1])
        return pri / pri.sum()

    def weight(self, answers) -> np.ndarray:
        """T(n): the weight of the evidence of `answers` answers (an int or an array of them)."""
        n = np.maximum(np.asarray(answers, dtype=np.float64), 1.0)
        return self.temperature / (1.0 + (n - 1.0) * self.correlation)

    def apply(self, posteriors, priors, answers) -> np.ndarray:
        """Calibrated `posteriors` ((n, K), or (K,)) of tasks holding `answers` answers each."""
        base = self.base(priors)
        post = temper(posteriors, base, self.weight(answers))
        if self.label_noise > 0:
            post = (1.0 - self.label_noise) * post + self.label_noise * base
        return post

    def threshold(self, target: float, priors) -> np.ndarray:
        """The calibrated confidence, per top class (K,), at which the answers' evidence reaches `target`.

        The label noise is no evidence: a share e of reference labels that no answer can predict
        caps a calibrated confidence at (1 - e) + e / K, and more answers cannot lift it. So the
        redundancy policy judges the evidence (p_T, the tempered posterior) against its target,
        which is the calibrated confidence (1 - e) target + e / K (with the prior as `anchor`,
        e prior(k)): a task whose answers say `target` is not sent to its last answer and
        escalated because the reference is noisy.
        """
        return (1.0 - self.label_noise) * float(target) + self.label_noise * self.base(priors)

    def reaches(self, posteriors, target: float, priors, answers=1) -> np.ndarray:
        """Whether calibrated `posteriors` ((n, K), or (K,)) of tasks holding `answers` answers reach
        `target` on the answers' evidence, weighed with `judged_correlation`: each top label's
        confidence against its `threshold`. A float computed to be exactly the bar may land one ulp
        below it, and counts as there."""
        post = self.judged(posteriors, priors, answers)
        top = post.argmax(axis=-1)
        confidence = np.take_along_axis(post, np.expand_dims(top, -1), -1)[..., 0]
        return confidence >= self.threshold(target, priors)[top] - 1e-12

    def judged(self, posteriors, priors, answers=1) -> np.ndarray:
        """Calibrated `posteriors` of tasks holding `answers` answers as the policy judges them: their
        evidence weighed with `judged_correlation` instead of `correlation` (the noise unchanged)."""
        post = np.asarray(posteriors, dtype=np.float64)
        rho = self.correlation if self.judged_correlation is None else self.judged_correlation
        if rho == self.correlation or self.label_noise >= 1.0 - 1e-6:
            return post
        base = self.base(priors)
        evidence = np.maximum(post - self.label_noise * base, 1e-300)  # (1 - e) p_T: the noise taken back out
        evidence = evidence / evidence.sum(axis=-1, keepdims=True)
        n = np.maximum(np.asarray(answers, dtype=np.float64), 1.0)
        again = temper(evidence, base, (1.0 + (n - 1.0) * self.correlation) / (1.0 + (n - 1.0) * rho))
        return (1.0 - self.label_noise) * again + self.label_noise * base

    def as_dict(self) -> dict:
        """The calibration as plain numbers (what a project stores)."""
        stored = {"correlation": round(self.correlation, 6), "label_noise": round(self.label_noise, 6),
                  "gold": self.gold, "temperature": round(self.temperature, 6), "anchor": self.anchor}
        if self.judged_correlation is not None:
            stored["judged_correlation"] = round(self.judged_correlation, 6)
        return stored

    @classmethod
    def from_dict(cls, stored: dict) -> "Calibration":
        """The inverse of as_dict; a calibration stored without an anchor was fitted leaning on the priors."""
        judged = stored.get("judged_correlation")
        return cls(float(stored.get("correlation", 0.0)), float(stored.get("label_noise", 0.0)),
                   int(stored.get("gold", 0)), float(stored.get("temperature", 1.0)),
                   None if judged is None else float(judged), str(stored.get("anchor", "prior")))


IDENTITY = Calibration()


def temper(posteriors, priors, weight) -> np.ndarray:
    """`posteriors` (n, K) or (K,) with their evidence over `priors` (K,) raised to `weight` (a number or (n,))."""
    post = np.asarray(posteriors, dtype=np.float64)
    pri = np.asarray(priors, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if not np.all(w > 0):
        raise ValueError(f"the evidence weight must be positive, got {weight}")
    if np.all(w == 1.0):
        return post / post.sum(axis=-1, keepdims=True)
    if w.ndim and post.ndim == 2:
        w = w[:, None]
    log_pri = np.log(np.maximum(pri / pri.sum(), 1e-300))
    with np.errstate(divide="ignore"):
        logits = w * (np.log(post) - log_pri) + log_pri
    logits -= logits.max(axis=-1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=-1, keepdims=True)


def fit_calibration(free_posteriors, gold_labels, priors, answers, gold: int | None = None,
                    judged: bool = False, anchor: str = "uniform", target: str = "top") -> Calibration:
    """The calibration under which gold tasks' labels are right as often as their confidence says.

    `free_posteriors` (n, K): posteriors of gold tasks from fits that did not see their labels, each from
    `answers[i]` answers (a task may appear several times, from different numbers of its answers;
    `gold` then says how many tasks there are, for the record). `judged`: also find the policy's
    `judged_correlation`; `anchor`: the form, "uniform" or "prior" (the module docstring).
    `target`: what the likelihood scores (the module docstring): "top", whether each top label is
    right, or "label", the probability the calibrated posterior gives each gold label.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    post = np.asarray(free_posteriors, dtype=np.float64)
    labels = np.asarray(gold_labels, dtype=np.int64)
    n = np.asarray(answers, dtype=np.float64)
    if labels.size == 0:
        return IDENTITY
    base = Calibration(anchor=anchor).base(priors)
    top = post.argmax(axis=1)
    right = (top == labels).astype(np.float64)
    rows = np.arange(labels.size)
    scored = top if target == "top" else labels

    def unpack(x):
        return float(1.0 / (1.0 + np.exp(-x[0]))), float(1.0 / (1.0 + np.exp(-x[1])))

    def nll(correlation, noise):
        tempered = temper(post, base, 1.0 / (1.0 + (n - 1.0) * correlation))
        p = (1.0 - noise) * tempered[rows, scored] + noise * base[scored]
        p = np.clip(p, 1e-12, 1.0 - 1e-12)
        if target == "label":
            return -float(np.log(p).sum())
        return -float((right * np.log(p) + (1.0 - right) * np.log1p(-p)).sum())

    def loss(x):
        return nll(*unpack(x))

    # The likelihood can have two modes (weak evidence and little noise, or full evidence and much
    # noise): a small grid of starts on the logit scales, the best end point kept.
    starts = [(rho, e) for rho in (0.01, 0.2, 0.6) for e in (0.01, 0.2)]
    ends = [minimize(loss, np.log(np.array(s) / (1.0 - np.array(s))), method="L-BFGS-B",
                     bounds=[(-20.0, 20.0)] * 2) for s in starts]
    best = min(ends, key=lambda r: r.fun)
    correlation, noise = unpack(best.x)
    low = None
    if judged:
        # The interval counts each gold task once: a task seen through several prefixes of its answers
        # is one task's evidence, and Wilks's threshold is for independent observations (below).
        per_task = min(1.0, (labels.size if gold is None else max(int(gold), 1)) / labels.size)
        low = lowest_correlation(lambda rho, e: per_task * nll(rho, e), correlation, per_task * best.fun)
    return Calibration(correlation, noise, int(labels.size if gold is None else gold), judged_correlation=low,
                       anchor=anchor)


# Half the 95% point of chi-square with one degree of freedom: how far the loss may rise over its
# minimum for a correlation to stay within the gold's 95% profile-likelihood interval (Wilks 1938).
# Wilks's threshold holds for independent observations. The policy's calibration scores every prefix
# of a gold task's answers (1, 2, ... of them), rows that share the task's answers and its label: a
# task with ten answers is not ten observations. Its loss is scaled by tasks / rows (each task
# counted once, the simplest adjustment of a composite likelihood: Varin, Reid & Firth 2011) before
# the interval is read. Counted ten times, 30-50 gold tasks bounded Dog's correlation away from zero
# through the middle of a project (0.12-0.24, where its 81 at the end allow 0); a task's ten answers,
# weighed at a third, could not reach the target, and at 0.95 the replay escalated 13.7% of the
# tasks after buying every answer they had, 4.8% with each task counted once
# (benchmarks/redundancy_replay.py, seeds 1-4).
PROFILE_RISE = 1.920729


def lowest_correlation(loss, fitted: float, minimum: float) -> float:
    """The lower end of the correlation's 95% profile-likelihood interval: the smallest rho whose best
    loss over the noise (loss(rho, e), both in (0, 1)) stays within PROFILE_RISE of `minimum`."""
    if fitted <= 1e-6:
        return fitted
    edge = 1e-9  # the logit scale's ends: 0 and 1 themselves are out of reach

    def over(rho):
        profile = minimize_scalar(lambda e: loss(rho, e), bounds=(edge, 1.0 - 1e-6), method="bounded",
                                  options={"xatol": 1e-6})
        return profile.fun - (minimum + PROFILE_RISE)

    if over(edge) <= 0:
        return 0.0
    return float(brentq(over, edge, fitted, xtol=1e-5))


def expected_calibration_error(posteriors, truth, bins: int = 10) -> float:
    """ECE of the top posterior against `truth` (class codes): sum over bins of share x |accuracy - confidence|."""
    post = np.asarray(posteriors, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.int64)
    if truth.size == 0:
        return 0.0
    confidence = post.max(axis=1)
    correct = (post.argmax(axis=1) == truth).astype(np.float64)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    gap = np.bincount(which, weights=correct - confidence, minlength=bins)
    return float(np.abs(gap).sum() / truth.size)


def ece_floor(confidences, bins: int = 10, draws: int = 200, seed: int = 0) -> float:
    """The mean ECE of exactly calibrated top posteriors `confidences` (n,): each task's label drawn right
    with the probability it states, `draws` times (a fixed seed: the same confidences give the same floor)."""
    confidence = np.asarray(confidences, dtype=np.float64)
    if confidence.size == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    right = rng.random((draws, confidence.size)) < confidence
    gaps = np.stack([np.bincount(which, weights=r - confidence, minlength=bins) for r in right])
    return float(np.abs(gaps).sum(axis=1).mean() / confidence.size)
