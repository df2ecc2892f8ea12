import numpy as np
import pytest

from marketplace.inference.calibration import Calibration, temper
from marketplace.inference.dawid_skene import dawid_skene
from marketplace.inference.incremental import task_posterior
from marketplace.inference.redundancy import Decision, RedundancyPolicy, confidence, decide

from .conftest import make_crowd

SETTINGS = {"min_answers": 3, "max_answers": 5, "target": 0.95}


@pytest.mark.parametrize("n, posterior, expected", [
    (2, [0.99, 0.01], Decision.MORE),        # confident but below min
    (3, [0.99, 0.01], Decision.CLOSE),       # min reached, confident
    (3, [0.95, 0.05], Decision.CLOSE),       # target exactly
    (3, [0.9499, 0.0501], Decision.MORE),    # just below target
    (4, [0.9499, 0.0501], Decision.MORE),
    (5, [0.9499, 0.0501], Decision.ESCALATE),  # max without confidence
    (5, [0.96, 0.04], Decision.CLOSE),       # max and confident: close, not escalate
    (7, [0.6, 0.4], Decision.ESCALATE),      # past max (max lowered later)
    (0, [0.5, 0.5], Decision.MORE),
])
def test_decisions_at_the_boundaries(n, posterior, expected):
    assert decide(posterior, n, **SETTINGS) is expected


def test_target_hit_by_float_arithmetic_counts_as_reached():
    post = np.array([0.7, 0.2, 0.1]) * 3 / 3
    assert decide(post, 2, min_answers=2, max_answers=4, target=0.7) is Decision.CLOSE


def test_min_equal_to_max():
    assert decide([0.99, 0.01], 1, min_answers=2, max_answers=2, target=0.9) is Decision.MORE
    assert decide([0.99, 0.01], 2, min_answers=2, max_answers=2, target=0.9) is Decision.CLOSE
    assert decide([0.6, 0.4], 2, min_answers=2, max_answers=2, target=0.9) is Decision.ESCALATE


def test_no_budget_left_escalates_instead_of_waiting():
    assert decide([0.6, 0.4], 3, **SETTINGS, budget=0) is Decision.ESCALATE
    assert decide([0.6, 0.4], 3, **SETTINGS, budget=1) is Decision.MORE
    # Budget does not stop a confident task from closing, nor force closing below min.
    assert decide([0.99, 0.01], 3, **SETTINGS, budget=0) is Decision.CLOSE
    assert decide([0.99, 0.01], 2, **SETTINGS, budget=0) is Decision.ESCALATE


@pytest.mark.parametrize("kwargs", [
    {"min_answers": 0, "max_answers": 3, "target": 0.9},
    {"min_answers": 3, "max_answers": 2, "target": 0.9},
    {"min_answers": 2, "max_answers": 3, "target": 0.0},
    {"min_answers": 2, "max_answers": 3, "target": 1.5},
    {"min_answers": 2.5, "max_answers": 3, "target": 0.9},
])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        decide([0.5, 0.5], 1, **kwargs)


def test_bad_posteriors_and_counts_are_rejected():
    with pytest.raises(ValueError):
        decide([], 1, **SETTINGS)
    with pytest.raises(ValueError):
        decide([np.nan, 1.0], 1, **SETTINGS)
    with pytest.raises(ValueError):
        decide([0.5, 0.5], -1, **SETTINGS)


def test_confidence_normalises():
    assert confidence([3, 1]) == pytest.approx(0.75)


def test_policy_object_validates_and_caps_max_by_available_answers():
    with pytest.raises(ValueError):
        RedundancyPolicy(min_answers=4, max_answers=3)
    with pytest.raises(ValueError):
        RedundancyPolicy(target_confidence=0.0)
    policy = RedundancyPolicy(min_answers=2, max_answers=10, target_confidence=0.9)
    assert policy.decide([0.6, 0.4], 3) is Decision.MORE
    assert policy.decide([0.6, 0.4], 3, available=3) is Decision.ESCALATE
    # A task with a single answer available can still close on it.
    assert policy.decide([0.95, 0.05], 1, available=1) is Decision.CLOSE


def test_tempering_scales_the_likelihood_not_the_priors():
    priors = np.array([0.8, 0.2])
    post = np.array([0.2, 0.8])  # likelihood ratio 16 for class 1 against the priors' 1:4
    np.testing.assert_allclose(temper(post, priors, 1.0), post)
    np.testing.assert_allclose(temper(post, priors, 1e-9), priors, atol=1e-6)
    half = temper(post, priors, 0.5)  # ratio 4 against 1:4 -> even
    np.testing.assert_allclose(half, [0.5, 0.5])
    with pytest.raises(ValueError):
        temper(post, priors, 0.0)


def _two_good_annotators():
    """Confusion matrices of annotators 0 and 1 (accuracy .9) and 2 (a coin), two classes."""
    good = np.array([[0.9, 0.1], [0.1, 0.9]])
    coin = np.full((2, 2), 0.5)
    return np.stack([good, good, coin]), np.array([0.5, 0.5])


def test_agreeing_good_annotators_close_and_disagreement_asks_for_more():
    confusion, priors = _two_good_annotators()
    settings = {"min_answers": 2, "max_answers": 4, "target": 0.95}
    one = task_posterior([0], [1], confusion, priors)
    assert decide(one, 1, **settings) is Decision.MORE  # 0.9: not confident, below min anyway
    agree = task_posterior([0, 1], [1, 1], confusion, priors)
    assert agree[1] == pytest.approx(81 / 82)
    assert decide(agree, 2, **settings) is Decision.CLOSE
    split = task_posterior([0, 1], [1, 0], confusion, priors)
    np.testing.assert_allclose(split, [0.5, 0.5])
    assert decide(split, 2, **settings) is Decision.MORE
    # A coin-flipping annotator's agreement adds nothing: still split at the maximum -> escalate.
    still = task_posterior([0, 1, 2, 2], [1, 0, 1, 1], confusion, priors)
    np.testing.assert_allclose(still, [0.5, 0.5])
    assert decide(still, 4, **settings) is Decision.ESCALATE


def test_newcomers_need_more_answers_than_known_good_annotators():
    confusion, priors = _two_good_annotators()
    settings = {"min_answers": 2, "max_answers": 5, "target": 0.95}
    known = task_posterior([0, 1], [1, 1], confusion, priors)
    newcomers = task_posterior([-1, 7], [1, 1], confusion, priors, default_accuracy=0.7)
    assert decide(known, 2, **settings) is Decision.CLOSE
    assert decide(newcomers, 2, **settings) is Decision.MORE  # (0.7/0.3)^2 -> 0.845
    three = task_posterior([-1, 7, 8], [1, 1, 1], confusion, priors, default_accuracy=0.7)
    assert decide(three, 3, **settings) is Decision.MORE  # 0.927
    four = task_posterior([-1, 7, 8, 9], [1, 1, 1, 1], confusion, priors, default_accuracy=0.7)
    assert decide(four, 4, **settings) is Decision.CLOSE  # 0.967


def test_policy_posterior_is_the_calibrated_task_posterior():
    confusion, priors = _two_good_annotators()
    policy = RedundancyPolicy(min_answers=2, max_answers=6, target_confidence=0.95)
    half = Calibration(temperature=0.5)
    full = task_posterior([0, 1], [1, 1], confusion, priors)
    np.testing.assert_allclose(policy.posterior([0, 1], [1, 1], confusion, priors), full)  # uncalibrated: as is
    judged = policy.posterior([0, 1], [1, 1], confusion, priors, calibration=half)
    np.testing.assert_allclose(judged, temper(full, priors, 0.5))  # (a fixed weight: any number of answers)
    assert judged[1] == pytest.approx(0.9)  # two agreeing .9 annotators count as one
    assert policy.decide(judged, 2) is Decision.MORE
    three = policy.posterior([0, 1, 0], [1, 1, 1], confusion, priors, calibration=half)
    assert policy.decide(three, 3) is Decision.CLOSE  # ratio 27 -> 0.964
    noisy = policy.posterior([0, 1, 0], [1, 1, 1], confusion, priors, calibration=Calibration(0.0, 0.1, temperature=0.5))
    assert noisy[1] == pytest.approx(0.9 * three[1] + 0.1 * 0.5)  # a tenth of reference labels unrelated
    correlated = Calibration(correlation=1.0)  # answers that always go together: all of them count as one
    np.testing.assert_allclose(policy.posterior([0, 1, 0], [1, 1, 1], confusion, priors, calibration=correlated),
                               task_posterior([0], [1], confusion, priors))


def test_policy_on_a_simulated_crowd_keeps_its_target_on_fewer_answers():
    """DS-learned matrices drive the policy: on a crowd that answers independently (so DS's own
    posteriors are calibrated) tasks closed at 0.95 are right at least 95% of the time, on far fewer answers."""
    task, annotator, label, truth = make_crowd(3, n_tasks=400, K=3,
                                               accuracies=(0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6))
    ds = dawid_skene(task, annotator, label, 3)
    policy = RedundancyPolicy(min_answers=2, max_answers=7, target_confidence=0.95)
    rng = np.random.default_rng(0)
    used, labels = [], []
    for t in range(400):
        rows = rng.permutation(np.flatnonzero(task == t))
        for n in range(1, rows.size + 1):
            post = policy.posterior(annotator[rows[:n]], label[rows[:n]], ds.confusion, ds.priors)
            decision = policy.decide(post, n, available=rows.size)
            if decision is not Decision.MORE:
                break
        used.append(n)
        labels.append(post.argmax())
    assert np.mean(np.array(labels) == truth) >= 0.95
    assert sum(used) <= 0.5 * task.size
    assert min(used) >= 2


def test_the_target_is_judged_on_the_evidence_not_on_the_reference_noise():
    # A calibration leaning on the class priors (as projects stored them before): the noise is drawn
    # from the priors, so each class has its own cap and its own bar.
    noisy = Calibration(correlation=0.0, label_noise=0.2, gold=50, anchor="prior")
    priors = np.array([0.75, 0.25])
    # Noise 0.2 caps class 0's confidence at 0.8 + 0.2 * 0.75 = 0.95, class 1's at 0.85: a target of
    # 0.9 judged on the calibrated figure could never be met for class 1, however many answers agree.
    np.testing.assert_allclose(noisy.threshold(0.9, priors), [0.8 * 0.9 + 0.2 * 0.75, 0.8 * 0.9 + 0.2 * 0.25])
    np.testing.assert_allclose(Calibration().threshold(0.9, priors), [0.9, 0.9])  # no noise: the target itself
    # Fitted now, the noise is any class alike: one cap, 0.8 + 0.2 / 2 = 0.9, and one bar.
    np.testing.assert_allclose(Calibration(label_noise=0.2).threshold(0.9, priors), [0.82, 0.82])
    evidence = np.array([0.05, 0.95])  # the answers say 0.95 for class 1
    calibrated = noisy.apply(evidence, priors, 3)
    assert calibrated.max() == pytest.approx(0.8 * 0.95 + 0.2 * 0.25) and calibrated.max() < 0.9
    settings = {"min_answers": 2, "max_answers": 5, "target": 0.9}
    assert decide(calibrated, 3, **settings, calibration=noisy, priors=priors) is Decision.CLOSE
    assert decide(calibrated, 3, **settings) is Decision.MORE  # judged as if it were noise-free: it asks on
    short = noisy.apply(np.array([0.15, 0.85]), priors, 3)  # the answers say 0.85: one more
    assert decide(short, 3, **settings, calibration=noisy, priors=priors) is Decision.MORE
    assert decide(short, 5, **settings, calibration=noisy, priors=priors) is Decision.ESCALATE
    policy = RedundancyPolicy(min_answers=2, max_answers=5, target_confidence=0.9)
    assert policy.decide(calibrated, 3, calibration=noisy, priors=priors) is Decision.CLOSE
    # Uniform priors when none are given.
    assert decide(noisy.apply(np.array([0.1, 0.9]), [0.5, 0.5], 3), 3, **settings, calibration=noisy) is Decision.CLOSE


def test_reaches_judges_each_row_by_its_top_label():
    noisy = Calibration(label_noise=0.2, anchor="prior")
    priors = np.array([0.75, 0.25])  # bars: 0.87 for class 0, 0.77 for class 1 at target 0.9
    rows = np.array([[0.88, 0.12], [0.86, 0.14], [0.22, 0.78], [0.24, 0.76]])
    np.testing.assert_array_equal(noisy.reaches(rows, 0.9, priors), [True, False, True, False])
    assert noisy.reaches(rows[0], 0.9, priors)  # one posterior
    np.testing.assert_array_equal(Calibration().reaches(rows, 0.86, priors), [True, True, False, False])
    # Noise any class alike: one bar, 0.82, for both labels.
    np.testing.assert_array_equal(Calibration(label_noise=0.2).reaches(rows, 0.9, priors), [True, True, False, False])
