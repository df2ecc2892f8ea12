"""The truth model of a project: which inference method its last recompute ran, and its calibration.

The recompute fits `inference.DEFAULT_METHOD` (the stacked blend of models, calibrated on the
project's gold tasks) and stores what it chose on the project; the submit path's per-task
posterior then uses the same blended confusion matrices and the same calibration, and every result
names the model it came from (`auto:<the candidate with the largest weight>`).

Until gold has calibrated a project (before its first recompute, or with no gold at all), the app
counts the answers' evidence at half weight (UNCALIBRATED): the models' own posteriors are
overconfident wherever annotators err together (without gold, ECE 0.12-0.19 on S_Rel, Dog, MS and
Trec), and closing a task too early costs more than asking for one more answer. Half weight is what
the app used before calibration existed; one gold-calibrated recompute replaces it. The submit path
halves the evidence over the class priors (the form its fitted calibration has); the results halve
the whole posterior, which keeps every label the model gives (inference/calibration.py).
"""
import numpy as np

from marketplace import inference
from marketplace.inference.calibration import IDENTITY, Calibration

BEFORE_ANY_RECOMPUTE = "dawid_skene"  # per-answer posteriors from gold accuracy or reputation
UNCALIBRATED = Calibration(temperature=0.5, anchor="prior")  # the submit path's stand-in
UNCALIBRATED_RESULTS = Calibration(temperature=0.5)  # the results': the same weight, no label moved


def fit(task_idx, annotator_idx, label_idx, K: int, *, gold: dict, n_tasks: int, n_annotators: int):
    """Run the default inference method on a project's answers, gold clamped (and calibrating)."""
    return inference.infer(task_idx, annotator_idx, label_idx, K, method=inference.DEFAULT_METHOD, gold=gold,
                           n_tasks=n_tasks, n_annotators=n_annotators)


def method_label(result) -> str:
    """The method a result names: `auto:<leading candidate>` for the blend, else the method itself."""
    chosen = result.extra.get("chosen")
    return f"{result.method}:{chosen}" if chosen else result.method


def applied_calibration(result, kind: str = "calibration") -> Calibration:
    """The calibration the app applies: the one the fit's gold taught it, else that kind's stand-in.

    `kind`: "calibration" for the fit's own posteriors, "incremental_calibration" for the submit
    path's one-task E-step with the fit's (blended) matrices.
    """
    learned = result.extra.get(kind, IDENTITY)
    if learned.gold:
        return learned
    return UNCALIBRATED if kind == "incremental_calibration" else UNCALIBRATED_RESULTS


def posteriors_of(result, answers: np.ndarray) -> np.ndarray:
    """A fit's task posteriors as the app stores them (the default calibrates itself only on gold).

    `answers`: how many answers each task has.
    """
    if result.extra.get("calibration", IDENTITY).gold:
        return result.posteriors
    return UNCALIBRATED_RESULTS.apply(result.posteriors, result.priors, answers)


def describe(result) -> dict:
    """What a project (and its recompute run) stores of the model a recompute chose."""
    weights = result.extra.get("weights") or {result.method: 1.0}
    return {"method": method_label(result), "weights": {name: round(float(w), 4) for name, w in weights.items()},
            "calibration": applied_calibration(result).as_dict(),
            "incremental_calibration": applied_calibration(result, "incremental_calibration").as_dict()}


def calibration_of(project) -> Calibration:
    """The calibration of the submit path's posteriors: the last recompute's, or UNCALIBRATED before one."""
    stored = (project.truth_model or {}).get("incremental_calibration")
    return Calibration.from_dict(stored) if stored else UNCALIBRATED


def method_of(project) -> str:
    """The method per-answer results name: the last recompute's model, or the prior-based E-step before one."""
    return (project.truth_model or {}).get("method") or BEFORE_ANY_RECOMPUTE


def calibrated(project, posteriors: np.ndarray, priors: np.ndarray, answers) -> np.ndarray:
    """Per-answer posteriors (of tasks holding `answers` answers) mapped by the project's calibration."""
    return calibration_of(project).apply(posteriors, priors, answers)
