"""The forecast model's intervals hold their stated coverage on simulated projects."""
import numpy as np
import pytest

from marketplace.forecasts import model


def _simulated_project(rng, adaptive: bool):
    """A project part-way through: what the forecast sees, and the true hours its remaining answers take."""
    rate = rng.uniform(5, 500)  # answers an hour
    window = rng.uniform(0.5, 24)
    seen = int(rng.poisson(rate * window))
    tasks = int(rng.integers(50, 3000))
    if not adaptive:
        redundancy = int(rng.integers(1, 6))
        answered = rng.integers(0, redundancy, tasks)
        open_tasks = dict(zip(*np.unique(answered, return_counts=True)))
        remaining = model.remaining_answers({int(a): int(n) for a, n in open_tasks.items()}, fixed=redundancy)
        true_more = int((redundancy - answered).sum())
    else:
        low, high = 2, int(rng.integers(4, 9))
        stops = rng.dirichlet(np.ones(high - low + 1))  # where a task stops, unknown to the forecast
        final = lambda n: rng.choice(np.arange(low, high + 1), n, p=stops)  # noqa: E731
        closed = final(int(rng.integers(0, 400)))
        answered = rng.integers(0, high, tasks)
        open_final = np.array([_stop_past(rng, a, low, stops) for a in answered])  # open: it stops past `a`
        remaining = model.remaining_answers(
            {int(a): int(n) for a, n in zip(*np.unique(answered, return_counts=True))},
            closed_final={int(a): int(n) for a, n in zip(*np.unique(closed, return_counts=True))}, max_answers=high)
        true_more = int((open_final - answered).sum())
    truth = rng.gamma(true_more, 1 / rate) if true_more else 0.0
    return model.hours_to_finish(remaining, seen, window), truth


def _stop_past(rng, answered: int, low: int, stops: np.ndarray) -> int:
    counts = np.arange(low, low + len(stops))
    p = np.where(counts > answered, stops, 0.0)
    return int(rng.choice(counts, p=p / p.sum()))


@pytest.mark.parametrize("adaptive", [False, True])
def test_the_completion_interval_holds_the_truth_at_least_80_percent_of_the_time(adaptive):
    rng = np.random.default_rng(7)
    inside = total = 0
    for _ in range(300):
        spread, truth = _simulated_project(rng, adaptive)
        if spread is None:
            continue
        assert spread.low <= spread.expected <= spread.high
        inside += spread.low <= truth <= spread.high
        total += 1
    assert total >= 290
    assert inside / total >= 0.8  # the stated level is 0.9


def test_fixed_redundancy_counts_exactly_what_is_missing():
    remaining = model.remaining_answers({0: 10, 2: 5, 3: 1}, fixed=3)
    assert (remaining.mean, remaining.variance, remaining.tasks) == (10 * 3 + 5 * 1, 0.0, 16)
    assert model.answers_to_come(remaining) == model.Spread(35.0, 35.0, 35.0)


def test_the_policy_uses_closed_tasks_once_there_are_enough_of_them():
    few = model.remaining_answers({1: 100}, closed_final={3: 5}, max_answers=5)  # too few: 2..5 alike
    assert few.mean == pytest.approx(100 * (1 + 2 + 3 + 4) / 4)
    many = model.remaining_answers({1: 100}, closed_final={3: 30, 5: 10}, max_answers=5)
    assert many.mean == pytest.approx(100 * (2 * 0.75 + 4 * 0.25))
    own = 0.75 * 0.5**2 + 0.25 * 1.5**2  # each task's spread around the mean of 2.5 more
    assert many.variance == pytest.approx(100 * own + (100 * np.sqrt(own / 40)) ** 2)  # + the mean's error, shared


def test_no_answers_in_the_window_means_no_date_and_nothing_left_means_done():
    remaining = model.remaining_answers({0: 10}, fixed=1)
    assert model.hours_to_finish(remaining, 0, 24) is None
    assert model.hours_to_finish(model.remaining_answers({}, fixed=1), 0, 24) == model.Spread(0.0, 0.0, 0.0)
    assert model.hours_to_finish(remaining, 100, 10) == model.hours_to_finish(remaining, 100, 10)  # deterministic
    assert model.pace(100, 10).expected == pytest.approx(10.0, rel=0.05)
