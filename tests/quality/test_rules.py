"""Trust arithmetic and quality rules: Beta bounds, thresholds, blocks, rejections, down-weighting."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select
from hypothesis import strategies as st
from scipy.stats import beta

from marketplace.assignments import answering
from marketplace.assignments import services as assignments
from marketplace.assignments.models import Assignment
from marketplace.db import transaction, utcnow
from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.quality import rules, trust
from marketplace.quality.models import AnnotatorStats, QualityAction
from marketplace.results.models import Result
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, bearer, fresh
from tests.quality.helpers import GOLD_DRAW, LIVE_DRAW, gold_project, lease_now

GOLD_RULE = {"metric": "gold_accuracy_lower_bound", "below": 0.6, "min_count": 5, "action": "block",
             "reject_answers": False, "weight": None}


@pytest.mark.parametrize("correct, seen", [(0, 0), (3, 3), (5, 10), (47, 50), (0, 7)])
def test_beta_lower_bound_matches_scipy(correct, seen):
    estimate = trust.gold_accuracy(correct, seen)
    assert estimate.lower_bound == pytest.approx(beta.ppf(0.05, 1 + correct, 1 + seen - correct), abs=1e-12)
    assert estimate.mean == pytest.approx((1 + correct) / (2 + seen))


def test_reputation_weighs_recent_projects_more():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    old_bad = (0, 20, now - timedelta(days=365))
    new_good = (20, 20, now)
    assert trust.reputation([old_bad, new_good], now, half_life_days=30).mean > 0.9
    assert trust.reputation([old_bad, new_good], now, half_life_days=10_000).mean == pytest.approx(21 / 42, abs=0.01)
    assert trust.reputation([], now, 30).mean == 0.5


@pytest.mark.parametrize("value, evidence, fires", [
    (0.5999, 5, True),   # below the threshold with enough evidence
    (0.6, 5, False),     # at the threshold: not below
    (0.1, 4, False),     # not enough gold yet
    (None, 50, False),   # unknown metric never fires
])
def test_rules_fire_exactly_at_their_thresholds(value, evidence, fires):
    fired = rules.evaluate([GOLD_RULE], {rules.GOLD_LOWER_BOUND: (value, evidence)})
    assert bool(fired) is fires


@pytest.mark.parametrize("rule, field", [
    ({"metric": "speed", "below": 1, "action": "block"}, "metric"),
    ({"metric": "agreement_with_truth", "below": 0.5, "action": "downweight"}, "weight"),
    ({"metric": "agreement_with_truth", "below": 0.5, "action": "downweight", "weight": 0.1, "reject_answers": True},
     "reject_answers"),
    ({"metric": "median_answer_time_s", "below": -1, "action": "block"}, "below"),
])
def test_bad_rules_are_422(client, rule, field):
    from tests.factories import RequesterFactory

    body = {"name": "p", "label_schema": {"type": "classification", "classes": ["a", "b"]}, "reward_cents": 1,
            "quality_rules": [rule]}
    response = client.post("/api/v1/projects", json=body, headers=bearer(RequesterFactory()))
    assert response.status_code == 422 and field in response.json["errors"]["json"]["quality_rules"]["0"]


def answer_gold(project, annotator, label):
    lease = lease_now(project, annotator, GOLD_DRAW)
    return answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator,
                                     answer={"label": label}, now=utcnow())


def answer_live(project, annotator, label="cat"):
    lease = lease_now(project, annotator, LIVE_DRAW)
    return answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator,
                                   answer={"label": label}, now=utcnow())


def test_gold_rule_blocks_at_the_next_ordinary_answer_and_the_block_is_explained(client):
    project = gold_project(tasks=10, gold=8, quality_rules=[GOLD_RULE])
    annotator = AnnotatorFactory()
    for i in range(4):
        answer_gold(project, annotator, "dog")  # all wrong, but fewer than 5 gold answers so far
    answer_live(project, annotator)
    assert not fresh(AnnotatorStats, (annotator.id, project.id)).blocked
    answer_gold(project, annotator, "dog")
    assert not fresh(AnnotatorStats, (annotator.id, project.id)).blocked  # never on the gold answer itself
    answer_live(project, annotator)
    stats = fresh(AnnotatorStats, (annotator.id, project.id))
    assert stats.blocked and stats.blocked_reason == "gold_accuracy_lower_bound below 0.6"
    with pytest.raises(Forbidden, match="blocked") as refused:
        lease_now(project, annotator, LIVE_DRAW)
    assert not any(ch.isdigit() for ch in str(refused.value).replace("0.6", ""))  # no value, no count
    trust_view = client.get("/api/v1/me/trust", headers=bearer(annotator)).json
    assert trust_view["actions"][0]["action"] == "block"
    assert trust_view["projects"][0]["blocked"] is True
    listing = client.get("/api/v1/projects", headers=bearer(annotator)).json["items"]
    assert project.id not in [p["id"] for p in listing]


def test_block_with_rejection_reopens_slots_and_drops_results(ctx):
    rule = {**GOLD_RULE, "min_count": 1, "below": 0.5, "reject_answers": True}
    project = gold_project(tasks=3, gold=2, answers_per_task=1, quality_rules=[rule])
    cheat = AnnotatorFactory()
    with transaction():
        answer_live(project, cheat, "dog")
    with transaction():
        answer_gold(project, cheat, "bird")  # Beta(1, 2) lower bound 0.025 < 0.5 after one gold answer
    assert db.session.query(Result).filter(Result.project_id == project.id, Result.method != "gold").count() == 1
    with transaction():
        answer_live(project, cheat, "dog")  # the checkpoint: the rule fires here, not on the gold answer
    rejected = db.session.query(Assignment).filter_by(annotator_id=cheat.id, status="rejected").count()
    assert rejected == 3
    tasks = db.session.query(Task).filter_by(project_id=project.id, status="open").all()
    assert len(tasks) == 3 and all(t.slots_taken == 0 and t.answer_count == 0 for t in tasks)
    assert db.session.query(Result).filter(Result.project_id == project.id, Result.method != "gold").count() == 0
    assert fresh(type(project), project.id).status == "open"
    honest = AnnotatorFactory()
    assert lease_now(project, honest, LIVE_DRAW).task_id in {t.id for t in tasks}
    actions = [a.action for a in db.session.query(QualityAction).filter_by(annotator_id=cheat.id)]
    assert actions == ["block", "reject_answers"]


def test_median_time_rule_blocks_fast_clickers(ctx):
    rule = {"metric": "median_answer_time_s", "below": 2.0, "min_count": 3, "action": "block"}
    project = gold_project(tasks=5, gold=0, max_leases_per_annotator=1, quality_rules=[rule])
    clicker = AnnotatorFactory()
    now = utcnow()
    for i in range(3):
        lease = assignments.lease_next_task(project_id=project.id, annotator=clicker, now=now, rng=LIVE_DRAW)
        answering.submit_answer(assignment_id=lease.assignment_id, annotator=clicker, answer={"label": "cat"},
                                  now=now + timedelta(seconds=1))
    assert fresh(AnnotatorStats, (clicker.id, project.id)).blocked


def test_downweight_rule_lowers_the_weight_once(ctx):
    rule = {"metric": "gold_accuracy_lower_bound", "below": 0.5, "min_count": 1, "action": "downweight", "weight": 0.25}
    project = gold_project(tasks=3, gold=3, quality_rules=[rule])
    annotator = AnnotatorFactory()
    answer_gold(project, annotator, "dog")
    answer_live(project, annotator)
    answer_gold(project, annotator, "dog")
    answer_live(project, annotator)
    stats = fresh(AnnotatorStats, (annotator.id, project.id))
    assert stats.weight == 0.25 and not stats.blocked
    assert db.session.query(QualityAction).filter_by(annotator_id=annotator.id, action="downweight").count() == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["gold", "live"]), st.booleans()), min_size=1, max_size=25))
def test_a_blocked_annotator_never_gets_another_lease(ctx, steps):
    rule = {**GOLD_RULE, "min_count": 2}
    with db.session.begin_nested() as savepoint:
        project = gold_project(tasks=30, gold=30, quality_rules=[rule])
        annotator = AnnotatorFactory()
        blocked_at = None
        for i, (kind, right) in enumerate(steps):
            draw = GOLD_DRAW if kind == "gold" else LIVE_DRAW
            try:
                lease = lease_now(project, annotator, draw)
            except Forbidden:
                assert blocked_at is not None, "refused before any block"
                continue
            assert blocked_at is None, f"leased at step {i} after the block at step {blocked_at}"
            answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator,
                                      answer={"label": "cat" if right else "dog"}, now=utcnow())
            if fresh(AnnotatorStats, (annotator.id, project.id)).blocked:
                blocked_at = i
        savepoint.rollback()


def test_aggregation_uses_lowered_weights(ctx):
    from marketplace.results.models import Result

    project = gold_project(tasks=1, gold=0, answers_per_task=3, max_leases_per_annotator=1)
    crowd = [AnnotatorFactory() for _ in range(3)]
    for annotator, label in zip(crowd, ["dog", "dog", "cat"]):
        with transaction():
            lease = lease_now(project, annotator, LIVE_DRAW)
            if annotator is not crowd[-1]:
                db.session.add(AnnotatorStats(annotator_id=annotator.id, project_id=project.id, weight=0.1,
                                              answers=0, duration_ms_total=0, gold_seen=0, gold_correct=0,
                                              agreement_answers=0, blocked=False))
                db.session.flush()
            answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator, answer={"label": label},
                                    now=utcnow())
    result = db.session.scalar(select(Result).where(Result.project_id == project.id))
    assert (result.label, result.method) == ("cat", "weighted_vote")


def test_answer_cap_per_annotator(ctx):
    from marketplace.errors import Conflict

    project = gold_project(tasks=5, gold=0, max_answers_per_annotator=2)
    annotator = AnnotatorFactory()
    for _ in range(2):
        lease = lease_now(project, annotator, LIVE_DRAW)
        answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator, answer={"label": "cat"},
                                now=utcnow())
    with pytest.raises(Conflict, match="limit of 2 answers"):
        lease_now(project, annotator, LIVE_DRAW)
