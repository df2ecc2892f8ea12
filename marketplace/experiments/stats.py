"""Which arm of an A/B experiment labels best, judged on gold accuracy (numpy/scipy only, nothing of the app).

An arm's score is `correct` of `seen` gold answers.
- Intervals: Wilson's score interval for one arm, and Newcombe's hybrid score interval (his method 10)
  for the difference of two arms. Unlike the textbook p ± z·se they stay inside [0, 1] and keep close to
  their stated coverage at the small counts and near-perfect accuracies that gold answers give
  (Newcombe 1998, Statistics in Medicine 17:873-890).
- Tests: Fisher's exact test for each pair. It is exact at any count, so it never calls more than its
  share of equal pairs different. Holm's step-down adjustment over all pairs then keeps the chance of
  any false "significant" in the whole experiment at ALPHA or below, whatever the correlation between
  pairs, and it is never less powerful than Bonferroni. scipy has no Holm (statsmodels has one, but it
  is too large a dependency for ten lines).
- The intervals are per pair at LEVEL and are not adjusted. The verdict rests on the adjusted tests
  alone, so an interval may leave out 0 for a pair that the verdict does not call significant.
The error rate holds for one look at a fixed sample. Checking the verdict after every answer and
stopping at the first "winner" raises it (optional stopping). MIN_GOLD reduces that effect but does
not remove it, so fix the number of gold answers per arm before starting.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtri

LEVEL = 0.95  # confidence level of the intervals
ALPHA = 0.05  # family-wise error rate of the verdict (Holm over all pairs)
# Fisher's test is valid at any size, so this floor is not about validity. It keeps verdicts off samples
# where one gold answer moves an arm by more than 3 points, and it is the usual n >= 30 rule of thumb for
# the normal approximation behind the Wilson and Newcombe intervals (n·p and n·(1-p) of at least 5 hold
# there up to 83% accuracy).
MIN_GOLD = 30

Counts = tuple[int, int]  # (correct, seen)


def wilson(correct: int, seen: int, level: float = LEVEL) -> tuple[float, float] | None:
    """Wilson score interval for an arm's accuracy; None when it has no gold answers."""
    _check(correct, seen)
    if seen == 0:
        return None
    z2 = float(ndtri(0.5 + level / 2)) ** 2
    p = correct / seen
    centre = (p + z2 / (2 * seen)) / (1 + z2 / seen)
    half = math.sqrt(z2 * (p * (1 - p) / seen + z2 / (4 * seen**2))) / (1 + z2 / seen)
    # At 0 correct (or all correct) the bound is exactly 0 (or 1). Rounding would leave it slightly off.
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == seen else min(1.0, centre + half)
    return low, high


def difference_interval(a: Counts, b: Counts, level: float = LEVEL) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for arm a's accuracy minus arm b's."""
    interval_a, interval_b = wilson(*a, level), wilson(*b, level)
    if interval_a is None or interval_b is None:
        raise ValueError("both arms need gold answers before their accuracies can be compared")
    (low_a, high_a), (low_b, high_b) = interval_a, interval_b
    p_a, p_b = a[0] / a[1], b[0] / b[1]
    difference = p_a - p_b
    return difference - math.hypot(p_a - low_a, high_b - p_b), difference + math.hypot(high_a - p_a, p_b - low_b)


def compare(a: Counts, b: Counts) -> float:
    """Two-sided p-value that arms a and b differ in accuracy (Fisher's exact test); 1.0 if either has no gold."""
    _check(*a)
    _check(*b)
    if a[1] == 0 or b[1] == 0:
        return 1.0
    # Imported here: scipy.stats costs about 0.5 s of CPU and 20 MB to import, which every web worker would pay at boot
    # for the one endpoint that compares an experiment's arms.
    from scipy.stats import fisher_exact

    table = [[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]]
    return float(fisher_exact(table).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given; a hypothesis is rejected where one is < alpha."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))  # the k-th smallest is tested at alpha/(m-k)
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def verdict(arms: list[tuple[str, int, int]], alpha: float = ALPHA, min_gold: int = MIN_GOLD) -> dict:
    """Whether one arm is more accurate than every other, with every pair's comparison. arms: (name, correct, seen)."""
    if len(arms) < 2:
        raise ValueError("a verdict needs at least two arms")
    names = [name for name, _, _ in arms]
    if len(set(names)) != len(names):
        raise ValueError("arm names must be unique")
    pairs = list(itertools.combinations(arms, 2))
    p_values = [compare(a[1:], b[1:]) for a, b in pairs]
    short = [(name, seen) for name, _, seen in arms if seen < min_gold]
    comparisons = [_comparison(a, b, p, adjusted, significant=not short and adjusted < alpha)
                   for (a, b), p, adjusted in zip(pairs, p_values, holm(p_values))]
    winner = None
    if short:
        status, message = "collecting", _collecting_message(short, min_gold)
    else:
        best = max(arms, key=_accuracy)  # on a tie, the first; Fisher then gives p = 1 and no winner
        # best is the higher arm of each of its pairs, so a significant pair means that best is better.
        if all(c["significant"] for c in comparisons if best[0] in (c["arm"], c["versus"])):
            winner = best[0]
            status, message = "winner", _winner_message(best, arms, alpha)
        else:
            status, message = "no_difference", _no_difference_message(comparisons, alpha)
    return {"status": status, "winner": winner, "message": message, "alpha": alpha, "comparisons": comparisons}


def _check(correct: int, seen: int) -> None:
    if not 0 <= correct <= seen:
        raise ValueError(f"need 0 <= correct <= seen, got {correct} correct of {seen}")


def _accuracy(arm: tuple[str, int, int]) -> float:
    _, correct, seen = arm
    return correct / seen if seen else 0.0


def _comparison(a: tuple[str, int, int], b: tuple[str, int, int], p_value: float, adjusted: float,
                significant: bool) -> dict:
    both_seen = a[2] > 0 and b[2] > 0
    return {
        "arm": a[0],
        "versus": b[0],
        "difference": _accuracy(a) - _accuracy(b) if both_seen else None,
        "interval": list(difference_interval(a[1:], b[1:])) if both_seen else None,
        "p_value": p_value,
        "adjusted_p_value": adjusted,
        "significant": bool(significant),
    }


def _percent(value: float) -> str:
    return f"{value * 100:g}%"


def _collecting_message(short: list[tuple[str, int]], min_gold: int) -> str:
    counts = ", ".join(f"{name} has {seen}" for name, seen in short)
    return f"Still collecting gold answers: {counts} of the {min_gold} each arm needs before a verdict."


def _winner_message(best: tuple[str, int, int], arms: list[tuple[str, int, int]], alpha: float) -> str:
    runner_up = max(_accuracy(arm) for arm in arms if arm[0] != best[0])
    return (f"{best[0]} is more accurate on gold answers than every other arm ({_accuracy(best):.0%} against at "
            f"most {runner_up:.0%}), at a {_percent(alpha)} family-wise error rate.")


def _no_difference_message(comparisons: list[dict], alpha: float) -> str:
    if any(c["significant"] for c in comparisons):
        return (f"Some arms differ at the {_percent(alpha)} level, but no arm is more accurate than every other; "
                f"see the comparisons.")
    return (f"The gold answers do not show a difference between the arms at the {_percent(alpha)} level, "
            f"which does not mean that the arms are equally accurate.")
