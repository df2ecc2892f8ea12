"""IBCC, EBCC and the stacked default on planted crowds: truth recovered, deterministic, gold clamped."""

import numpy as np
import pytest

from marketplace.inference import bcc, infer
from marketplace.inference.stacking import CANDIDATES

from .conftest import make_crowd, planted_crowd

KINDS = ("dense", "sparse", "spammers", "adversarial", "correlated", "skewed")
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def scores():
    """Accuracy of each method on each planted crowd and seed (fitted once for the module)."""
    found = {}
    for kind in KINDS:
        for seed in SEEDS:
            t, a, lab, truth, K = planted_crowd(kind, seed)
            for method in ("mv", "ds", "ibcc", "ebcc", "auto"):
                found[kind, seed, method] = float((infer(t, a, lab, K, method=method).labels == truth).mean())
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_every_bayesian_method_recovers_the_truth_of_a_dense_crowd(scores, seed):
    for method in ("ibcc", "ebcc", "auto"):
        assert scores["dense", seed, method] >= 0.97


@pytest.mark.parametrize("seed", SEEDS)
def test_a_pooled_prior_keeps_sparse_annotators_from_being_overtrusted(scores, seed):
    # 60 annotators with ~20 answers each: plain DS judges each on its own and loses to the vote.
    for method in ("ibcc", "auto"):
        assert scores["sparse", seed, method] >= scores["sparse", seed, "mv"] - 0.02
        assert scores["sparse", seed, method] >= scores["sparse", seed, "ds"] + 0.02


@pytest.mark.parametrize("seed", SEEDS)
def test_spammers_are_outvoted(scores, seed):
    assert scores["spammers", seed, "auto"] >= scores["spammers", seed, "mv"] + 0.02
    assert scores["spammers", seed, "ebcc"] >= scores["spammers", seed, "mv"]


@pytest.mark.parametrize("seed", SEEDS)
def test_adversarial_annotators_answers_are_turned_into_evidence(scores, seed):
    # Two annotators always answer the next class: a confusion matrix reads them perfectly.
    assert scores["adversarial", seed, "mv"] < 0.9
    for method in ("ibcc", "ebcc", "auto"):
        assert scores["adversarial", seed, method] >= 0.99


@pytest.mark.parametrize("seed", SEEDS)
def test_correlated_errors_are_explained_by_subtypes(scores, seed):
    # Three annotators give the same wrong class on a fifth of the tasks: EBCC's shared subtypes
    # explain that instead of counting it three times.
    assert scores["correlated", seed, "ebcc"] >= scores["correlated", seed, "ibcc"] - 0.005
    assert scores["correlated", seed, "ebcc"] >= scores["correlated", seed, "mv"] - 0.01
    assert scores["correlated", seed, "auto"] >= scores["correlated", seed, "mv"] - 0.005


@pytest.mark.parametrize("seed", SEEDS)
def test_skewed_classes_are_not_pulled_to_the_majority(scores, seed):
    for method in ("ibcc", "auto"):
        assert scores["skewed", seed, method] >= scores["skewed", seed, "mv"] - 0.01
        assert scores["skewed", seed, method] >= scores["skewed", seed, "ds"] + 0.05


@pytest.mark.parametrize("method", ["ibcc", "ebcc", "auto"])
def test_output_is_deterministic(method):
    t, a, lab, _, K = planted_crowd("sparse", 3, n_tasks=200)
    first, second = infer(t, a, lab, K, method=method), infer(t, a, lab, K, method=method)
    np.testing.assert_array_equal(first.posteriors, second.posteriors)
    np.testing.assert_array_equal(first.confusion, second.confusion)


@pytest.mark.parametrize("method", ["ibcc", "ebcc", "auto"])
def test_gold_is_clamped_and_teaches_the_annotators_matrices(method):
    t, a, lab, truth, K = planted_crowd("dense", 4, n_tasks=150)
    lab = np.where(a == 5, (truth[t] + 1) % K, lab)  # annotator 5 is always wrong, the same way
    gold = {int(i): int(truth[i]) for i in range(40)}
    free = infer(t, a, lab, K, method=method)
    taught = infer(t, a, lab, K, method=method, gold=gold)
    assert np.all(taught.posteriors[:40].max(axis=1) == 1.0)
    assert np.all(taught.labels[:40] == truth[:40])
    assert taught.confusion[5, 0, 1] > 0.7  # learned: says 1 when it is 0
    if method != "auto":  # (the blend's weights move with the gold too)
        assert taught.confusion[5, 0, 1] >= free.confusion[5, 0, 1] - 1e-9


def test_ebcc_keeps_the_restart_with_the_best_elbo():
    t, a, lab, _, K = planted_crowd("correlated", 5, n_tasks=150)
    result = infer(t, a, lab, K, method="ebcc", restarts=4)
    assert len(result.extra["elbos"]) == 4
    assert result.extra["elbo"] == max(result.extra["elbos"])


def test_ibcc_pools_the_prior_strength_across_annotators():
    # The learned prior is a Dirichlet per true class whose mean favours the right answer; an
    # annotator with two answers is judged mostly by it, one with hundreds by their own answers.
    t, a, lab, truth = make_crowd(6, n_tasks=300, K=3, accuracies=(0.9, 0.85, 0.8, 0.75, 0.7))
    t = np.concatenate([t, [0, 1]])
    a = np.concatenate([a, [5, 5]])
    lab = np.concatenate([lab, [(truth[0] + 1) % 3, (truth[1] + 1) % 3]])  # a newcomer, wrong twice
    result = infer(t, a, lab, 3, method="ibcc")
    prior = result.extra["prior"]
    assert np.all(np.argmax(prior, axis=1) == np.arange(3))
    assert result.skill[5] > 0.4  # two wrong answers do not make an annotator worthless yet
    assert result.skill[0] > result.skill[5]


def test_auto_reports_its_blend():
    t, a, lab, _, K = planted_crowd("spammers", 6, n_tasks=200)
    result = infer(t, a, lab, K, method="auto")
    weights = result.extra["weights"]
    assert set(weights) <= set(CANDIDATES) and sum(weights.values()) == pytest.approx(1.0)
    assert result.extra["chosen"] == max(weights, key=weights.get)
    assert set(result.extra["heldout_log_lik"]) <= set(CANDIDATES)
    # Each scored candidate's dispersion, the power its held-out answers were scored with.
    assert set(result.extra["dispersion"]) == set(result.extra["heldout_log_lik"])
    assert all(0.0 < tau < 100.0 for tau in result.extra["dispersion"].values())


def test_fixed_class_priors_are_kept():
    t, a, lab, _, K = planted_crowd("sparse", 7, n_tasks=150)
    for method in ("ibcc", "ebcc", "auto"):
        result = infer(t, a, lab, K, method=method, priors=[0.5, 0.3, 0.2])
        np.testing.assert_allclose(result.priors, [0.5, 0.3, 0.2])


def test_subtype_and_restart_counts_are_checked():
    with pytest.raises(ValueError, match="subtypes"):
        bcc.ebcc([0], [0], [0], 2, subtypes=0)
    with pytest.raises(ValueError, match="restarts"):
        bcc.ebcc([0], [0], [0], 2, restarts=0)


def test_ebcc_stops_cleanly_whenever_max_iter_cuts_it_short():
    # Subtypes emptied on the way are dropped: whatever the iteration it stops at, the fit is whole.
    rng = np.random.default_rng(0)
    a = bcc.check_answers(rng.integers(0, 50, 300), rng.integers(0, 10, 300), rng.integers(0, 2, 300), 2)
    for max_iter in range(1, 25):
        f = bcc.fit(a, subtypes=10, pooled=False, seed=1, max_iter=max_iter)
        assert f.joint.shape == (50, 2, 10) and f.rows.shape == (10, 2, 10, 2)
        np.testing.assert_allclose(f.joint.sum(axis=(1, 2)), 1.0)
