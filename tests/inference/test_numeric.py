import numpy as np
import pytest

from marketplace.inference import (numeric_mean, numeric_median, numeric_with_bias,
                                   weighted_mean, weighted_median)


def test_mean_and_median_per_task():
    t, x = [0, 0, 0, 1, 1], [1.0, 2.0, 10.0, 4.0, 6.0]
    np.testing.assert_allclose(numeric_mean(t, x).values, [13 / 3, 5.0])
    np.testing.assert_allclose(numeric_median(t, x).values, [2.0, 4.0])


def test_weighted_versions_follow_the_trusted_answer():
    t, x, w = [0, 0, 0], [1.0, 2.0, 9.0], [1.0, 1.0, 10.0]
    assert weighted_median(t, x, w)[0] == 9.0
    assert weighted_mean(t, x, w)[0] == pytest.approx(93 / 12)


def test_bias_model_removes_a_constant_offset():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 100, 400)
    t = np.repeat(np.arange(400), 4)
    a = np.tile(np.arange(4), 400)
    offsets = np.array([0.0, 0.0, 0.0, 15.0])
    noise = np.array([1.0, 1.0, 1.0, 1.0])[a] * rng.normal(size=t.size)
    x = truth[t] + offsets[a] + noise
    fit = numeric_with_bias(t, a, x)
    assert fit.bias[3] - fit.bias[:3].mean() == pytest.approx(15.0, abs=0.5)
    assert np.abs(fit.values - truth).mean() < np.abs(numeric_mean(t, x).values - truth).mean()


def test_single_answer_gives_that_answer():
    fit = numeric_with_bias([0], [0], [3.0])
    assert np.isfinite(fit.values).all() and fit.values[0] == pytest.approx(3.0)


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="no answers"):
        numeric_mean([], [])
