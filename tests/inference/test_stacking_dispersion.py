"""The stacking's dispersion: each candidate's held-out answers scored with its task posterior tempered."""

import numpy as np
import pytest

from marketplace.inference import infer, stacking
from marketplace.inference.stacking import dispersion, stacking_weights, tempered_density

from .conftest import planted_crowd

K = 3
CONFUSION = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])  # every annotator alike


def _power(post, tau):
    out = post ** tau
    return out / out.sum(axis=1, keepdims=True)


def _answers(rng, truth_post):
    """One held-out answer per task, drawn from what the task's true posterior predicts of it."""
    predictive = truth_post @ CONFUSION
    return (rng.random(len(predictive))[:, None] > np.cumsum(predictive, axis=1)).sum(axis=1)


def _rows(labels):
    return CONFUSION[:, labels].T[:, :, None]  # (n, K, 1): P(this answer | class)


@pytest.mark.parametrize("planted", [0.4, 1.0, 2.5])
def test_the_dispersion_recovers_how_far_posteriors_overstate_the_next_answer(planted):
    rng = np.random.default_rng(3)
    truth_post = rng.dirichlet(np.ones(K), size=30_000)
    labels = _answers(rng, truth_post)
    # The candidate states the truth raised to 1 / planted: tempering it back by `planted` is what predicts best.
    stated = _power(truth_post, 1.0 / planted)
    tau = dispersion(stated[:, :, None], _rows(labels))
    assert tau == pytest.approx(planted, rel=0.1)


def test_a_sharp_candidate_with_the_right_ranking_beats_a_soft_one_that_is_wrong_on_some_tasks():
    # Candidate A ranks every task's classes as the truth does but states them too sharply (an
    # independence model on answers that scatter); candidate B states the truth's own confidence but
    # has a sixth of the tasks' classes in the wrong order. Scored as they are, B's honest sharpness
    # wins the blend; scored with each one's dispersion, A's ranking does.
    rng = np.random.default_rng(5)
    n = 20_000
    truth_post = rng.dirichlet(np.full(K, 0.7), size=n)
    labels = _answers(rng, truth_post)
    rows = _rows(labels)
    a = _power(truth_post, 6.0)
    b = truth_post.copy()
    wrong = rng.random(n) < 1 / 6
    b[wrong] = b[wrong][:, [1, 2, 0]]
    joints = [a[:, :, None], b[:, :, None]]

    as_they_are = stacking_weights(np.column_stack([tempered_density(j, rows, 1.0) for j in joints]))
    tempered = stacking_weights(np.column_stack([tempered_density(j, rows, dispersion(j, rows)) for j in joints]))

    assert as_they_are[1] > 0.5
    assert tempered[0] > 0.9
    assert dispersion(joints[0], rows) == pytest.approx(1 / 6, rel=0.1)


def test_tempering_keeps_the_subtypes_joint_and_the_identity_changes_nothing():
    rng = np.random.default_rng(1)
    joint = rng.dirichlet(np.ones(K * 2), size=50).reshape(50, K, 2)
    rows = rng.random((50, K, 2))
    assert np.allclose(tempered_density(joint, rows, 1.0), np.einsum("nkm,nkm->n", joint, rows))
    flat = tempered_density(joint, rows, 1e-9)  # tau -> 0: every (class, subtype) alike
    assert np.allclose(flat, rows.mean(axis=(1, 2)))
    # A one-hot posterior (a gold task) stays one-hot under any tau.
    gold = np.zeros((1, K, 1))
    gold[0, 1, 0] = 1.0
    assert tempered_density(gold, np.ones((1, K, 1)) * CONFUSION[:, 2][None, :, None], 0.3)[0] == pytest.approx(0.1)


def test_the_blend_does_not_depend_on_the_order_the_answers_came_in(monkeypatch):
    # With more scored answers than the dispersion's sample, the sample is taken in a fixed order.
    monkeypatch.setattr(stacking, "DISPERSION_SAMPLE", 300)
    t, a, lab, _, k = planted_crowd("sparse", 4, n_tasks=300)
    order = np.random.default_rng(0).permutation(t.size)
    runs = [infer(t[o], a[o], lab[o], k, method="auto", candidates=("ds", "one_coin", "mace"))
            for o in (np.arange(t.size), order)]
    assert runs[0].extra["dispersion"].keys() == runs[1].extra["dispersion"].keys()
    for name, tau in runs[0].extra["dispersion"].items():
        assert runs[1].extra["dispersion"][name] == pytest.approx(tau, rel=1e-9)
        assert tau != 1.0  # fitted, not the fallback: a sparse crowd's answers scatter
    assert runs[1].extra["weights"] == pytest.approx(runs[0].extra["weights"], abs=1e-9)
    assert np.allclose(runs[0].posteriors, runs[1].posteriors)
