"""Dawid-Skene with the prior strength chosen by cross-validated answer likelihood ("ds_auto")."""

import numpy as np
import pytest

from marketplace.inference import METHODS, dawid_skene, dawid_skene_auto, infer
from marketplace.inference.dawid_skene_auto import DEFAULT_GRID, answer_folds

from .conftest import make_crowd


def test_it_is_registered_as_a_method():
    assert METHODS["ds_auto"] is dawid_skene_auto
    assert infer([0, 1], [0, 0], [0, 1], 2, method="ds_auto").method == "ds_auto"


def test_it_chooses_a_finite_strength_from_the_grid_and_refits_with_it(crowd):
    t, a, lab, _ = crowd
    result = dawid_skene_auto(t, a, lab, 3)
    assert result.extra["smoothing"] in DEFAULT_GRID
    scores = np.array(result.extra["cv_log_lik"])
    assert scores.shape == (len(DEFAULT_GRID),) and np.isfinite(scores).all() and (scores < 0).all()
    assert result.extra["smoothing"] == DEFAULT_GRID[int(np.argmax(scores))]
    refit = dawid_skene(t, a, lab, 3, smoothing=result.extra["smoothing"])
    np.testing.assert_array_equal(result.posteriors, refit.posteriors)


def test_a_custom_grid_is_respected(crowd):
    t, a, lab, _ = crowd
    assert dawid_skene_auto(t, a, lab, 3, grid=(0.3, 3.0)).extra["smoothing"] in (0.3, 3.0)
    assert dawid_skene_auto(t, a, lab, 3, grid=(0.7,)).extra["smoothing"] == 0.7


def test_it_is_deterministic_and_ignores_the_order_of_answers(crowd):
    t, a, lab, _ = crowd
    first = dawid_skene_auto(t, a, lab, 3)
    again = dawid_skene_auto(t, a, lab, 3)
    rows = np.random.default_rng(1).permutation(t.size)
    shuffled = dawid_skene_auto(t[rows], a[rows], lab[rows], 3)
    assert first.extra["smoothing"] == again.extra["smoothing"]
    assert first.extra["cv_log_lik"] == again.extra["cv_log_lik"]
    np.testing.assert_array_equal(first.posteriors, again.posteriors)
    assert shuffled.extra["smoothing"] == first.extra["smoothing"]
    np.testing.assert_allclose(shuffled.extra["cv_log_lik"], first.extra["cv_log_lik"])
    np.testing.assert_allclose(shuffled.posteriors, first.posteriors, atol=1e-9)


def test_folds_spread_each_task_over_different_folds():
    t, a, _, _ = make_crowd(3, n_tasks=200)  # 5 answers per task
    fold = answer_folds(t, a, 200, 5)
    assert set(fold.tolist()) == set(range(5))
    per_task = np.bincount(t * 5 + fold, minlength=200 * 5).reshape(200, 5)
    assert (per_task == 1).all()


def test_few_answers_never_give_nan_and_fall_back_to_the_default_strength():
    tiny = dawid_skene_auto([0, 0, 1], [0, 1, 0], [1, 1, 0], 2)  # fewer answers than folds
    assert tiny.extra["smoothing"] == 1.0 and tiny.extra["cv_log_lik"] == [0.0] * len(DEFAULT_GRID)
    assert np.isfinite(tiny.posteriors).all() and tiny.labels.tolist() == [1, 0]
    # A fold whose held-out answers sit on tasks or annotators absent from its training folds.
    t = np.array([0, 1, 2, 3, 4, 5, 6])
    a = np.array([0, 1, 2, 3, 4, 5, 6])
    result = dawid_skene_auto(t, a, np.array([0, 1, 0, 1, 0, 1, 1]), 2)
    assert np.isfinite(result.extra["cv_log_lik"]).all() and np.isfinite(result.posteriors).all()
    np.testing.assert_allclose(result.posteriors.sum(axis=1), 1.0)


def test_a_clamped_gold_task_keeps_its_answer():
    t, a, lab, truth = make_crowd(4)
    gold_label = int((truth[0] + 1) % 3)
    result = dawid_skene_auto(t, a, lab, 3, gold={0: gold_label})
    assert result.labels[0] == gold_label and result.posteriors[0, gold_label] == 1.0
    # Gold pulls the confusion matrices towards it, as in plain DS at the same strength.
    lab = np.where(t == 0, 1, lab)
    free = dawid_skene_auto(t, a, lab, 3, grid=(1.0,))
    clamped = dawid_skene_auto(t, a, lab, 3, grid=(1.0,), gold={0: 2})
    assert (clamped.confusion[:, 2, 1] > free.confusion[:, 2, 1]).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [({"grid": ()}, "grid"), ({"grid": (1.0, 0.0)}, "grid"), ({"grid": (np.inf,)}, "grid"),
     ({"folds": 1}, "folds"), ({"folds": 2.5}, "folds")],
)
def test_bad_options_raise_a_value_error(crowd, kwargs, message):
    t, a, lab, _ = crowd
    with pytest.raises(ValueError, match=message):
        dawid_skene_auto(t, a, lab, 3, **kwargs)
