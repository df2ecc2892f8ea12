"""Community Dawid-Skene: a crowd of kinds of annotator, one community = DS, a slow reference, gold, determinism."""

import numpy as np
import pytest

from marketplace.inference import METHODS, community_dawid_skene, dawid_skene, infer
from marketplace.inference.community import initial_communities
from marketplace.inference._checks import check_answers
from marketplace.inference.dawid_skene import _initial_posteriors_t

from .conftest import planted_crowd

SEEDS = (0, 1, 2)


def kinds_crowd(seed: int, n_tasks: int = 800, K: int = 4, W: int = 120, per_task: int = 3):
    """Three kinds of annotator, each answering ~20 tasks: careful (85% right, errors uniform),
    hurried (half the time the first class, whatever the truth) and shifted (half the time the next
    class). Returns (task, annotator, label, truth, K)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, K, n_tasks)
    kind = np.arange(W) % 3
    task = np.repeat(np.arange(n_tasks), per_task)
    annotator = np.concatenate([rng.choice(W, per_task, replace=False) for _ in range(n_tasks)])
    t, k, u = truth[task], kind[annotator], rng.random(task.size)
    noise = (t + rng.integers(1, K, task.size)) % K
    careful = np.where(u < 0.85, t, noise)
    hurried = np.where(u < 0.5, 0, np.where(u < 0.9, t, noise))
    shifted = np.where(u < 0.5, (t + 1) % K, np.where(u < 0.9, t, noise))
    return task, annotator, np.select([k == 0, k == 1, k == 2], [careful, hurried, shifted]), truth, K


def accuracy(result, truth) -> float:
    return float((result.labels == truth).mean())


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_annotators_are_pooled_with_their_own_kind(seed):
    # Pooled towards the average of all three kinds, a hurried annotator with 20 answers looks like
    # a careful one with noise; pooled towards its community, its habit is read from its kind.
    task, annotator, label, truth, K = kinds_crowd(seed)
    ds = accuracy(dawid_skene(task, annotator, label, K), truth)
    cds = community_dawid_skene(task, annotator, label, K)
    assert accuracy(cds, truth) >= ds + 0.01
    assert accuracy(community_dawid_skene(task, annotator, label, K, smoothing=4.0), truth) >= ds + 0.03
    assert accuracy(infer(task, annotator, label, K), truth) >= ds + 0.02  # the default uses it


@pytest.mark.parametrize("seed", SEEDS)
def test_communities_separate_the_kinds(seed):
    task, annotator, label, _, K = kinds_crowd(seed, W=60, n_tasks=1200)  # ~60 answers each
    members = community_dawid_skene(task, annotator, label, K, smoothing=4.0).extra["membership"]
    found = members.argmax(axis=1)
    kind = np.arange(60) % 3
    # Each kind lands mostly in one community, and no two kinds share their majority community.
    majority = [np.bincount(found[kind == k], minlength=3).argmax() for k in range(3)]
    assert len(set(majority)) == 3
    assert np.mean(found == np.array(majority)[kind]) >= 0.8
    assert np.allclose(members.sum(axis=1), 1.0)


@pytest.mark.parametrize("kind", ("dense", "sparse", "spammers", "adversarial", "skewed"))
def test_one_community_is_dawid_skene(kind):
    task, annotator, label, _, K = planted_crowd(kind, 0)
    gold = {0: 1, 5: 2}
    ours = community_dawid_skene(task, annotator, label, K, communities=1, smoothing=2.0, gold=gold)
    ds = dawid_skene(task, annotator, label, K, smoothing=2.0, gold=gold)
    assert np.allclose(ours.posteriors, ds.posteriors, atol=1e-10)
    assert np.allclose(ours.confusion, ds.confusion, atol=1e-10)
    assert np.allclose(ours.extra["prior_confusion"], ds.extra["prior_confusion"], atol=1e-10)
    assert ours.n_iter == ds.n_iter


def test_one_community_from_a_given_start_is_dawid_skene_from_it():
    # The calibration's refits (gold_folds.py) start every candidate from the published fit.
    task, annotator, label, truth, K = planted_crowd("sparse", 1)
    start = np.full((truth.size, K), 0.1)
    start[np.arange(truth.size), (truth + 1) % K] = 1.0  # every task started on the wrong class
    ours = community_dawid_skene(task, annotator, label, K, communities=1, smoothing=2.0, start=start)
    ds = dawid_skene(task, annotator, label, K, smoothing=2.0, start=start)
    assert np.allclose(ours.posteriors, ds.posteriors, atol=1e-10)
    assert not np.allclose(ours.posteriors, community_dawid_skene(task, annotator, label, K, communities=1,
                                                                  smoothing=2.0).posteriors, atol=1e-3)
    with pytest.raises(ValueError, match="start"):
        community_dawid_skene(task, annotator, label, K, start=start[:-1])


def _slow_reference(task, annotator, label, K, communities, smoothing, iterations):
    """The same EM with explicit loops over answers, annotators and communities (small inputs only)."""
    a = check_answers(task, annotator, label, K)
    T, W, C = a.n_tasks, a.n_annotators, communities
    post = _initial_posteriors_t(a).T.copy()  # [task, class]
    members = initial_communities(a, post.T, C)
    eps = np.finfo(np.float64).eps
    for _ in range(iterations):
        counts = np.zeros((W, K, K))
        for t, w, l in zip(a.task, a.annotator, a.label):
            counts[w, :, l] += post[t]
        priors = (post.sum(axis=0) + 1.0) / (T + K)
        means = np.full((C, K, K), eps)
        for c in range(C):
            for w in range(W):
                means[c] += members[w, c] * counts[w]
            means[c] /= means[c].sum(axis=1, keepdims=True)
        share = members.sum(axis=0) / W + eps
        new = np.zeros((W, C))
        for w in range(W):
            logs = [np.log(share[c]) + float((counts[w] * np.log(means[c])).sum()) for c in range(C)]
            new[w] = np.exp(np.array(logs) - max(logs))
            new[w] /= new[w].sum()
        members = new
        conf = np.zeros((W, K, K))
        for w in range(W):
            mean = sum(members[w, c] * means[c] for c in range(C))
            conf[w] = np.maximum(counts[w] + smoothing * K * priors[:, None] * mean, eps)
            conf[w] /= conf[w].sum(axis=1, keepdims=True)
        log_post = np.tile(np.log(priors), (T, 1))
        for t, w, l in zip(a.task, a.annotator, a.label):
            log_post[t] += np.log(conf[w, :, l])
        post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
        post /= post.sum(axis=1, keepdims=True)
    return post, conf, members


@pytest.mark.parametrize("communities", (1, 2, 3))
def test_agrees_with_a_slow_reference(communities):
    task, annotator, label, _, K = kinds_crowd(0, n_tasks=60, W=12)
    ours = community_dawid_skene(task, annotator, label, K, communities=communities, smoothing=1.5,
                                 max_iter=4, tol=0.0)
    post, conf, members = _slow_reference(task, annotator, label, K, communities, 1.5, ours.n_iter)
    assert ours.n_iter == 4
    assert np.allclose(ours.posteriors, post, atol=1e-9)
    assert np.allclose(ours.confusion, conf, atol=1e-9)
    assert np.allclose(ours.extra["membership"], members, atol=1e-9)


def test_gold_is_clamped_and_teaches_the_annotators():
    # Every annotator answers the next class 70% of the time: from the answers alone the crowd's
    # consensus is the shifted class; a tenth of the tasks as gold shows the shift for what it is.
    rng = np.random.default_rng(4)
    K, n_tasks, W = 3, 600, 30
    truth = rng.integers(0, K, n_tasks)
    task = np.repeat(np.arange(n_tasks), 3)
    annotator = np.concatenate([rng.choice(W, 3, replace=False) for _ in range(n_tasks)])
    label = np.where(rng.random(task.size) < 0.7, (truth[task] + 1) % K, truth[task])
    gold = {t: int(truth[t]) for t in range(0, n_tasks, 10)}
    free = community_dawid_skene(task, annotator, label, K)
    taught = community_dawid_skene(task, annotator, label, K, gold=gold)
    tasks = np.fromiter(gold, np.int64)
    assert np.array_equal(taught.labels[tasks], truth[tasks])
    assert np.allclose(taught.posteriors[tasks].max(axis=1), 1.0)
    rest = np.setdiff1d(np.arange(n_tasks), tasks)
    assert accuracy_on(free, truth, rest) < 0.3
    assert accuracy_on(taught, truth, rest) >= 0.75


def accuracy_on(result, truth, tasks) -> float:
    return float((result.labels[tasks] == truth[tasks]).mean())


def test_deterministic_normalised_and_registered():
    task, annotator, label, _, K = kinds_crowd(1)
    first = community_dawid_skene(task, annotator, label, K)
    again = community_dawid_skene(task, annotator, label, K)
    assert np.array_equal(first.posteriors, again.posteriors)
    assert np.allclose(first.posteriors.sum(axis=1), 1.0)
    assert np.allclose(first.confusion.sum(axis=2), 1.0)
    assert first.method == "cds" and METHODS["cds"] is community_dawid_skene
    fixed = community_dawid_skene(task, annotator, label, K, priors=[0.4, 0.2, 0.2, 0.2])
    assert np.allclose(fixed.priors, [0.4, 0.2, 0.2, 0.2])


@pytest.mark.parametrize("bad", ({"communities": 0}, {"communities": 1.5}, {"smoothing": -1.0}))
def test_bad_settings_are_refused(bad):
    task, annotator, label, _, K = kinds_crowd(0, n_tasks=30, W=6)
    with pytest.raises(ValueError):
        community_dawid_skene(task, annotator, label, K, **bad)
