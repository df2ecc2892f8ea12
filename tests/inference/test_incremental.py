import numpy as np
import pytest

from marketplace.inference import dawid_skene, prior_confusion, task_posterior

from .conftest import make_crowd


def test_incremental_posterior_equals_the_batch_e_step():
    t, a, lab, _ = make_crowd(7, n_tasks=200, per_task=3)
    result = dawid_skene(t, a, lab, 3, gold={5: 1})
    for task in range(0, 200, 7):
        if task == 5:
            continue
        rows = t == task
        post = task_posterior(a[rows], lab[rows], result.confusion, result.priors)
        np.testing.assert_allclose(post, result.posteriors[task], atol=1e-10)


def test_unseen_annotators_use_the_default_accuracy():
    confusion = np.stack([np.eye(2) * 0.8 + 0.1])
    priors = np.array([0.5, 0.5])
    post = task_posterior([-1, 7], [1, 1], confusion, priors, default_accuracy=0.6)
    expected = priors * prior_confusion(2, 0.6)[:, 1] ** 2
    np.testing.assert_allclose(post, expected / expected.sum())


def test_no_answers_yet_returns_the_priors():
    post = task_posterior([], [], np.ones((1, 3, 3)) / 3, [0.2, 0.3, 0.5])
    np.testing.assert_allclose(post, [0.2, 0.3, 0.5])


def test_a_label_outside_the_set_is_rejected():
    with pytest.raises(ValueError, match="outside the label set"):
        task_posterior([0], [3], np.ones((1, 3, 3)) / 3, [1, 1, 1])


def test_unseen_annotators_can_use_the_population_prior():
    t, a, lab, _ = make_crowd(9, n_tasks=100, per_task=3)
    result = dawid_skene(t, a, lab, 3, n_annotators=6)  # annotator 5: no answers yet
    prior = result.extra["prior_confusion"]
    as_unseen = task_posterior([-1, 1], [2, 2], result.confusion, result.priors, unseen_confusion=prior)
    as_known = task_posterior([5, 1], [2, 2], result.confusion, result.priors)
    np.testing.assert_allclose(as_unseen, as_known, atol=1e-12)
