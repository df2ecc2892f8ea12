"""When a project will finish and what it will cost, from its own answers so far (numpy only, nothing of the app).

Two uncertain quantities, both read from the project itself:
- The answers still to come. With fixed redundancy an open task with `a` answers needs exactly
  `answers_per_task - a` more. Under the redundancy policy a task stops between min_answers and
  max_answers, when its posterior is confident: an open task with `a` answers is taken to end like
  the project's closed tasks that went past `a` answers (their final counts are the sample); before
  MIN_CLOSED such tasks exist, any count from a + 1 to max_answers is taken as equally likely. The
  sum over many tasks is close to normal: each task's own spread adds up task by task, and the
  uncertainty of the mean itself (the sample's standard error, or, without a sample, a mean
  anywhere in the range) is shared by all tasks, so the interval starts wide and narrows as tasks close.
- The pace. Ordinary (non-gold) answers in the recent window are taken as Poisson arrivals at an
  unknown rate, with Jeffreys' prior: rate ~ Gamma(n + 1/2, window hours).
The time to the last answer is then Gamma(R, rate): both uncertainties are drawn together
(DRAWS draws from a fixed seed, so a forecast is deterministic) and the LEVEL interval is read from
the draws' quantiles. Costs follow the remaining answers (gold answers come in at the project's
gold rate and are paid like the others).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.9  # the intervals' coverage: earliest and latest are its 5% and 95% quantiles
DRAWS = 4000
SEED = 0
MIN_CLOSED = 20  # closed tasks past `a` answers before their counts stand for an open task's


@dataclass(frozen=True)
class Spread:
    """A forecast quantity: its median and the LEVEL interval around it."""

    expected: float
    low: float
    high: float


@dataclass(frozen=True)
class Remaining:
    mean: float
    variance: float
    tasks: int


def remaining_answers(open_tasks: dict[int, int], *, fixed: int | None = None,
                      closed_final: dict[int, int] | None = None, max_answers: int | None = None) -> Remaining:
    """Answers the open tasks still need. `open_tasks`: {answers so far: tasks}.

    `fixed`: the redundancy when there is no policy. Otherwise `closed_final` ({final answers: tasks}
    of the closed tasks) and `max_answers` describe where tasks stop.
    """
    mean = variance = shared = 0.0
    finals = np.array(sorted(closed_final or {}), dtype=float)
    weights = np.array([closed_final[int(k)] for k in finals], dtype=float) if closed_final else np.zeros(0)
    for answered, tasks in open_tasks.items():
        if fixed is not None:
            mean += tasks * max(fixed - answered, 0)
            continue
        past = finals > answered
        sample = weights[past].sum()
        if sample >= MIN_CLOSED:
            more, p = finals[past] - answered, weights[past] / sample
        else:
            top = max(int(max_answers or answered + 1), answered + 1)
            more = np.arange(1, top - answered + 1, dtype=float)
            p = np.full(len(more), 1 / len(more))
        m = float(p @ more)
        spread = float(p @ (more - m) ** 2)
        mean += tasks * m
        variance += tasks * spread
        # How well the mean itself is known: its standard error from the sample, or, without one, a
        # mean anywhere in the range. One error for every task (they share it), so it adds up linearly.
        shared += tasks * (np.sqrt(spread / sample) if sample >= MIN_CLOSED else (more[-1] - more[0]) / np.sqrt(12))
    return Remaining(mean, variance + shared ** 2, sum(open_tasks.values()))


def pace(answers: int, hours: float) -> Spread | None:
    """Answers per hour: the posterior median and LEVEL interval; None without a window to read it from."""
    if hours <= 0:
        return None
    tail = (1 - LEVEL) / 2
    draws = _rates(answers, hours, np.random.default_rng(SEED))
    return Spread(*(float(q) for q in np.quantile(draws, [0.5, tail, 1 - tail])))


def _rates(answers: int, hours: float, rng) -> np.ndarray:
    return rng.gamma(answers + 0.5, 1 / hours, DRAWS)


def hours_to_finish(remaining: Remaining, answers: int, hours: float) -> Spread | None:
    """Hours until the last answer; None when nothing was answered in the window (no pace to go by)."""
    if remaining.mean <= 0:
        return Spread(0.0, 0.0, 0.0)
    if answers == 0 or hours <= 0:
        return None
    rng = np.random.default_rng(SEED)
    rates = _rates(answers, hours, rng)
    needed = _needed(remaining, rng)
    times = np.where(needed > 0, rng.gamma(np.maximum(needed, 1), 1 / rates), 0.0)
    tail = (1 - LEVEL) / 2
    return Spread(*(float(q) for q in np.quantile(times, [0.5, tail, 1 - tail])))


def answers_to_come(remaining: Remaining) -> Spread:
    """The remaining answers' median and LEVEL interval (whole answers)."""
    tail = (1 - LEVEL) / 2
    needed = _needed(remaining, np.random.default_rng(SEED))
    return Spread(*(float(q) for q in np.quantile(needed, [0.5, tail, 1 - tail])))


def _needed(remaining: Remaining, rng) -> np.ndarray:
    draws = rng.normal(remaining.mean, np.sqrt(remaining.variance), DRAWS)
    return np.maximum(np.rint(draws), 0.0)
