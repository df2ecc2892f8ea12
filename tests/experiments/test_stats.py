"""The experiment statistics give the published intervals, name a truly better arm and rarely a false one."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.experiments import stats

counts = st.integers(1, 500).flatmap(lambda seen: st.tuples(st.integers(0, seen), st.just(seen)))


def _winners(accuracies: list[float], gold: int, runs: int, seed: int) -> dict:
    """How often each arm (or None) wins over simulated crowds whose arms have these true accuracies."""
    rng = np.random.default_rng(seed)
    names = [f"arm {i}" for i in range(len(accuracies))]
    wins: dict = {}
    for _ in range(runs):
        correct = rng.binomial(gold, accuracies)
        winner = stats.verdict([(name, int(c), gold) for name, c in zip(names, correct)])["winner"]
        wins[winner] = wins.get(winner, 0) + 1
    return wins


def test_wilson_matches_known_intervals():
    assert stats.wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert stats.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert stats.wilson(0, 10)[0] == 0.0
    assert stats.wilson(10, 10)[1] == 1.0
    assert stats.wilson(8, 10, level=0.99)[0] < stats.wilson(8, 10)[0]


def test_wilson_has_no_interval_without_gold_answers():
    assert stats.wilson(0, 0) is None


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError):
        stats.wilson(11, 10)
    with pytest.raises(ValueError):
        stats.compare((-1, 10), (5, 10))


@given(counts)
def test_wilson_holds_the_observed_accuracy_inside_zero_and_one(arm):
    low, high = stats.wilson(*arm)
    assert 0.0 <= low <= arm[0] / arm[1] <= high <= 1.0


def test_newcombe_matches_his_worked_examples():
    # Newcombe (1998) Table II, method 10
    assert stats.difference_interval((56, 70), (48, 80)) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert stats.difference_interval((9, 10), (3, 10)) == pytest.approx((0.1705, 0.8090), abs=1e-4)
    assert stats.difference_interval((5, 56), (0, 29)) == pytest.approx((-0.0381, 0.1926), abs=1e-4)
    assert stats.difference_interval((10, 10), (0, 20)) == pytest.approx((0.6791, 1.0), abs=1e-4)


@given(counts, counts)
def test_newcombe_holds_the_observed_difference_and_mirrors(a, b):
    low, high = stats.difference_interval(a, b)
    assert -1.0 <= low <= a[0] / a[1] - b[0] / b[1] <= high <= 1.0
    assert stats.difference_interval(b, a) == pytest.approx((-high, -low))


def test_newcombe_needs_gold_answers_in_both_arms():
    with pytest.raises(ValueError):
        stats.difference_interval((5, 10), (0, 0))


def test_fisher_p_value_is_the_known_one_and_symmetric():
    assert stats.compare((3, 4), (1, 4)) == pytest.approx(0.4857, abs=1e-4)  # Fisher's tea-tasting table
    assert stats.compare((1, 4), (3, 4)) == stats.compare((3, 4), (1, 4))
    assert stats.compare((20, 60), (35, 50)) == pytest.approx(stats.compare((40, 60), (15, 50)))  # wrong for right


def test_fisher_p_value_is_one_without_gold_answers():
    assert stats.compare((0, 0), (30, 40)) == 1.0


def test_holm_matches_a_hand_computed_example():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values):
    adjusted = stats.holm(p_values)
    assert all(p <= q <= 1.0 for p, q in zip(p_values, adjusted))
    in_order_of_raw = [q for _, q in sorted(zip(p_values, adjusted))]
    assert in_order_of_raw == sorted(in_order_of_raw)


def test_verdict_lists_every_pair_in_arm_order_with_holm_adjusted_p_values():
    result = stats.verdict([("A", 210, 300), ("B", 255, 300), ("C", 200, 300)])
    assert [(c["arm"], c["versus"]) for c in result["comparisons"]] == [("A", "B"), ("A", "C"), ("B", "C")]
    raw = [c["p_value"] for c in result["comparisons"]]
    assert [c["adjusted_p_value"] for c in result["comparisons"]] == pytest.approx(stats.holm(raw))
    first = result["comparisons"][0]
    assert first["difference"] == pytest.approx(210 / 300 - 255 / 300)
    assert first["interval"] == pytest.approx(list(stats.difference_interval((210, 300), (255, 300))))
    assert result["alpha"] == stats.ALPHA


def test_three_arms_with_one_better_name_it_the_winner():
    result = stats.verdict([("A", 210, 300), ("B", 255, 300), ("C", 200, 300)])
    assert result["status"] == "winner"
    assert result["winner"] == "B"
    assert result["message"].startswith("B is more accurate")


def test_an_arm_that_beats_only_some_others_is_no_winner():
    result = stats.verdict([("A", 200, 300), ("B", 260, 300), ("C", 250, 300)])
    assert result["status"] == "no_difference"
    assert result["winner"] is None
    assert any(c["significant"] for c in result["comparisons"])


def test_close_arms_show_no_difference_without_claiming_they_are_equal():
    result = stats.verdict([("A", 240, 300), ("B", 243, 300)])
    assert result["status"] == "no_difference"
    assert result["winner"] is None
    assert not any(c["significant"] for c in result["comparisons"])
    assert "do not show a difference" in result["message"]
    assert "does not mean" in result["message"]


def test_too_little_gold_keeps_collecting_however_large_the_gap():
    result = stats.verdict([("A", 29, 29), ("B", 2, 40), ("C", 0, 0)])
    assert result["status"] == "collecting"
    assert result["winner"] is None
    assert not any(c["significant"] for c in result["comparisons"])
    assert result["comparisons"][0]["p_value"] < 1e-6
    assert "A has 29" in result["message"] and "C has 0" in result["message"] and "B has" not in result["message"]
    assert result["comparisons"][1]["difference"] is None and result["comparisons"][1]["interval"] is None


def test_a_verdict_needs_two_distinctly_named_arms():
    with pytest.raises(ValueError):
        stats.verdict([("A", 200, 300)])
    with pytest.raises(ValueError):
        stats.verdict([("A", 200, 300), ("A", 250, 300)])


def test_a_truly_better_arm_wins_almost_always():
    wins = _winners([0.70, 0.85], gold=300, runs=200, seed=1)
    assert wins.get("arm 1", 0) >= 0.95 * 200
    assert "arm 0" not in wins


def test_one_better_arm_among_three_wins_almost_always():
    wins = _winners([0.70, 0.85, 0.70], gold=300, runs=200, seed=2)
    assert wins.get("arm 1", 0) >= 0.95 * 200


@pytest.mark.parametrize("arms", [2, 3])
def test_equal_arms_rarely_produce_a_winner(arms):
    runs = 400
    wins = _winners([0.8] * arms, gold=300, runs=runs, seed=3)
    false_winners = runs - wins.get(None, 0)
    # alpha, plus three binomial standard deviations of slack for the simulation's own noise
    assert false_winners <= stats.ALPHA * runs + 3 * math.sqrt(runs * stats.ALPHA * (1 - stats.ALPHA))
