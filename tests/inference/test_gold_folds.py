"""Both calibrations are learned from fits that held each gold task out and learned from the rest."""

import numpy as np

from marketplace.inference import stacking
from marketplace.inference._checks import check_answers
from marketplace.inference.calibration import expected_calibration_error
from marketplace.inference.dawid_skene import initial_posteriors
from marketplace.inference.gold_folds import GOLD_FOLDS, gold_folds, held_out_starts

from .conftest import planted_crowd


def _answers(gold_order):
    t, a, lab, truth, K = planted_crowd("sparse", seed=3, n_tasks=200)
    answered = np.unique(t)[:40]
    silent = 200 + np.arange(3)  # gold tasks nobody answered
    tasks = np.concatenate([answered, silent])[gold_order(43)]
    gold = {int(i): int(truth[i]) if i < 200 else 0 for i in tasks}
    return check_answers(t, a, lab, K, gold=gold, n_tasks=203), answered, silent


def test_every_answered_gold_task_is_held_out_once_and_every_other_gold_task_stays_clamped():
    a, answered, silent = _answers(lambda n: np.arange(n))
    parts = gold_folds(a)
    assert len(parts) == GOLD_FOLDS
    held = np.concatenate([tasks for tasks, _, _ in parts])
    assert sorted(held.tolist()) == sorted(answered.tolist())  # each once; never one nobody answered
    labels = dict(zip(a.gold_tasks.tolist(), a.gold_labels.tolist()))
    for tasks, task_labels, part in parts:
        assert [labels[t] for t in tasks.tolist()] == task_labels.tolist()
        clamped = set(part.gold_tasks.tolist())
        assert clamped.isdisjoint(tasks.tolist())
        assert clamped | set(tasks.tolist()) == set(labels)  # the silent ones included
        assert all(labels[t] == k for t, k in zip(part.gold_tasks.tolist(), part.gold_labels.tolist()))
        assert np.array_equal(part.task, a.task) and np.array_equal(part.label, a.label)


def test_the_parts_do_not_depend_on_the_order_the_gold_came_in():
    a, _, _ = _answers(lambda n: np.arange(n))
    b, _, _ = _answers(lambda n: np.random.default_rng(7).permutation(n))
    assert [sorted(t.tolist()) for t, _, _ in gold_folds(a)] == [sorted(t.tolist()) for t, _, _ in gold_folds(b)]


def test_a_part_s_fit_starts_from_the_published_fit_with_its_held_out_tasks_restarted():
    a, _, _ = _answers(lambda n: np.arange(n))
    published = np.tile(np.eye(a.K)[0], (a.n_tasks, 1))
    tasks, _, part = gold_folds(a)[0]
    starts = held_out_starts({"ds": published, "mace": published[:, ::-1]}, part, tasks)
    assert not np.shares_memory(starts["ds"], published)
    np.testing.assert_array_equal(starts["mace"][tasks], starts["ds"][tasks])
    start = starts["ds"]
    others = np.setdiff1d(np.arange(a.n_tasks), tasks)
    np.testing.assert_array_equal(start[others], published[others])
    np.testing.assert_allclose(start[tasks], initial_posteriors(part)[tasks])
    assert not np.allclose(start[tasks], published[tasks])  # the held-out rows are not the published ones


def test_the_default_calibrates_on_fits_that_each_held_out_a_fifth_of_the_gold(monkeypatch):
    t, a, lab, truth, K = planted_crowd("spammers", seed=1, n_tasks=400)
    gold = {int(i): int(truth[i]) for i in range(40)}
    calls = []
    fit = stacking.fit_candidate

    def recording(name, answers, priors=None, start=None):
        calls.append((name, frozenset(answers.gold_tasks.tolist()), start))
        return fit(name, answers, priors, start)

    monkeypatch.setattr(stacking, "fit_candidate", recording)
    result = stacking.auto(t, a, lab, K, gold=gold, candidates=("ds", "one_coin"), threads=1)
    models = result.extra["models"]
    everything = frozenset(gold)
    for name in result.extra["weights"]:
        refits = [(g, s) for n, g, s in calls if n == name and s is not None]
        assert len(refits) == GOLD_FOLDS
        held = [everything - g for g, _ in refits]
        assert sorted(t for part in held for t in part) == sorted(everything)  # each gold task held out once
        assert all(len(part) == len(everything) // GOLD_FOLDS for part in held)
        for part, (_, s) in zip(held, refits):
            rest = np.setdiff1d(np.arange(400), list(part))
            np.testing.assert_array_equal(s[rest], models[name].posteriors[rest])
    assert not any(not g for _, g, _ in calls)  # no fit blind to all the gold: both calibrations are cross-fitted
    rest = np.arange(40, 400)
    assert expected_calibration_error(result.posteriors[rest], truth[rest]) < 0.06
