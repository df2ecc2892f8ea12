"""The replay benchmark's simulation: budgets per task, the ceiling run and the target verdict."""

import numpy as np
import pytest
import redundancy_replay as replay

from marketplace.inference.dawid_skene import dawid_skene
from marketplace.inference.redundancy import Decision, RedundancyPolicy
from marketplace.results import truth_model

from .conftest import make_crowd


@pytest.fixture(scope="module")
def problem():
    task, annotator, label, truth = make_crowd(5, n_tasks=600, K=3,
                                               accuracies=(0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.55))
    gold = np.arange(600)
    return replay.Problem("crowd", task, annotator, label, 3, 600, 8, gold, truth[gold])


def _accuracy(problem, labels):
    return float(np.mean(labels[problem.gold_tasks] == problem.gold_labels))


def test_policy_replay_spends_within_each_tasks_answers_and_keeps_its_target(problem):
    policy = RedundancyPolicy(min_answers=2, max_answers=10**6, target_confidence=0.95)
    run = replay.run_policy(problem, policy, seed=1, gold={})
    available = np.bincount(problem.task, minlength=problem.n_tasks)
    assert np.all(run["used"] >= 2) and np.all(run["used"] <= available)
    assert run["used"].sum() < 0.75 * problem.task.size
    assert run["recomputes"] > 1
    # This crowd answers independently, so the models' posteriors are calibrated without gold: a
    # target of 0.95 delivers labels right at least 95% of the time.
    assert _accuracy(problem, run["labels"]) >= policy.target_confidence


def test_ceiling_run_decides_with_the_known_model_and_never_reopens(problem):
    policy = RedundancyPolicy(min_answers=2, max_answers=10**6, target_confidence=0.95)
    known = dawid_skene(problem.task, problem.annotator, problem.label, 3)
    run = replay.run_policy(problem, policy, seed=1, gold={}, known=known)
    assert run["reopened"] == 0
    assert run["recomputes"] == 1  # only the one that gives the delivered labels at the end
    # Each task stopped exactly where the known model's posterior first allowed it, with its label
    # (a model that saw no gold: the evidence at half weight, as the app counts it).
    order, offsets = run["order"], run["offsets"]
    half = truth_model.UNCALIBRATED
    for t in range(problem.n_tasks):
        mine = order[offsets[t]:offsets[t] + run["used"][t]]
        post = policy.posterior(problem.annotator[mine], problem.label[mine], known.confusion, known.priors,
                                calibration=half)
        available = offsets[t + 1] - offsets[t]
        assert policy.decide(post, mine.size, available=available) is not Decision.MORE
        assert run["at_close"][t] == post.argmax()
        before = policy.posterior(problem.annotator[mine[:-1]], problem.label[mine[:-1]], known.confusion, known.priors,
                                  calibration=half)
        assert policy.decide(before, mine.size - 1, available=available) is Decision.MORE
    assert _accuracy(problem, run["labels"]) >= _accuracy(problem, known.labels) - 0.02


@pytest.mark.parametrize("gaps, share, expected", [
    ([0.004, 0.006, 0.005], 0.55, "PASS"),   # mean gap exactly the limit
    ([0.004, 0.006, 0.008], 0.55, "FAIL"),   # mean gap over the limit
    ([0.0, 0.0, 0.0], 0.61, "FAIL"),         # over the answer budget
])
def test_verdict_judges_the_mean_gap_and_the_budget(gaps, share, expected):
    a = [{"acc": 0.84, "share": 1.0} for _ in gaps]
    c = [{"acc": 0.84 - g, "share": share} for g in gaps]
    line = replay.verdict("Dog", 0.95, a, c)
    assert line.startswith(expected)
    assert f"over {len(gaps)} seeds" in line


def test_hidden_gold_is_answered_in_full_never_decided_and_scores_its_annotators(problem):
    policy = RedundancyPolicy(min_answers=2, max_answers=10**6, target_confidence=0.95)
    gold = {t: int(k) for t, k in zip(problem.gold_tasks[:60].tolist(), problem.gold_labels[:60].tolist())}
    run = replay.run_policy(problem, policy, seed=2, gold=gold)
    available = np.bincount(problem.task, minlength=problem.n_tasks)
    hidden = np.array(list(gold))
    assert np.all(run["used"][hidden] == available[hidden])  # all their answers spent (and counted)
    assert np.all(run["at_close"][hidden] == -1)  # the policy never decides a gold task
    assert replay.hidden_gold(problem, 0.1, seed=3) == replay.hidden_gold(problem, 0.1, seed=3)
    assert len(replay.hidden_gold(problem, 0.1, seed=3)) == 60


def test_an_annotator_the_model_does_not_know_is_judged_by_their_gold_record(problem):
    live = replay.LiveModel(problem)
    newcomer = live.column(0, 1)  # no model, no gold yet: right with 0.7
    assert newcomer[1] == pytest.approx(0.7)
    live.seen[0], live.correct[0] = 20, 19
    assert live.column(0, 1)[1] == pytest.approx(20 / 22)  # Beta(1, 1) posterior mean of 19 right of 20
