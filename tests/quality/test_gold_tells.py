"""Gold cannot be told apart: a secret gold order per annotator, and nothing moves right after a gold answer."""
import random

import pytest

from marketplace import pseudonyms
from marketplace.assignments import answering
from marketplace.db import utcnow
from marketplace.quality import services as quality
from marketplace.quality.models import AnnotatorStats
from tests.factories import AnnotatorFactory, bearer, fresh
from tests.quality.helpers import GOLD_DRAW, LIVE_DRAW, gold_project, lease_now

RULES = [
    {"metric": "gold_accuracy_lower_bound", "below": 0.6, "min_count": 3, "action": "block", "reject_answers": False},
    {"metric": "gold_accuracy_lower_bound", "below": 0.9, "min_count": 1, "action": "downweight", "weight": 0.5},
]


def _gold_sequence(project, annotator, count):
    order = []
    for _ in range(count):
        lease = lease_now(project, annotator, GOLD_DRAW)
        order.append(lease.task_id)
        answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator, answer={"label": "cat"},
                                now=utcnow())
    return order


@pytest.mark.embedded
def test_each_annotator_gets_gold_in_their_own_stable_order(ctx):
    project = gold_project(tasks=30, gold=10)
    first, second = AnnotatorFactory(), AnnotatorFactory()
    orders = [_gold_sequence(project, who, 10) for who in (first, second)]
    assert sorted(orders[0]) == sorted(orders[1])  # the same gold, all of it...
    assert orders[0] != orders[1] and orders[0] != sorted(orders[0])  # ...in different orders, not by id
    for who, order in zip((first, second), orders):  # the order is the key's, on both database backends
        key = pseudonyms.gold_order_key(who.id)
        assert order == sorted(order, key=lambda task_id: pseudonyms.gold_rank(key, task_id))


def test_rules_run_at_secret_checkpoints_never_on_a_gold_answer(app):
    with app.app_context():
        app.config["QUALITY_CHECK_EVERY"], before = 5, app.config["QUALITY_CHECK_EVERY"]
        try:
            points = {who: [n for n in range(1, 2001) if quality.is_checkpoint(who, 7, n)] for who in (1, 2)}
        finally:
            app.config["QUALITY_CHECK_EVERY"] = before
    for found in points.values():
        assert 0.15 < len(found) / 2000 < 0.25
    assert points[1] != points[2]


def _visible(client, annotator, project):
    """What the annotator can see of their standing, minus the figures any answer moves alike."""
    trust = client.get("/api/v1/me/trust", headers=bearer(annotator)).json
    rows = [{k: v for k, v in row.items() if k not in ("answers", "mean_answer_time_s", "approval_rate")}
            for row in trust["projects"]]
    listing = [p["id"] for p in client.get("/api/v1/projects", headers=bearer(annotator)).json["items"]]
    return {"reputation": trust["reputation"], "rows": rows, "actions": trust["actions"], "listed": project.id in listing}


def test_no_annotator_facing_change_follows_a_single_gold_answer(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "QUALITY_CHECK_EVERY", 5)
    project = gold_project(tasks=60, gold=20, quality_rules=RULES, max_leases_per_annotator=1)
    annotator = AnnotatorFactory()
    rng = random.Random(4)
    golds, changes_after_live = 0, 0
    for step in range(60):
        gold = step > 0 and rng.random() < 0.3  # the first answer creates the row, whatever it is
        before = _visible(client, annotator, project)
        try:
            lease = lease_now(project, annotator, GOLD_DRAW if gold else LIVE_DRAW)
        except Exception:
            break  # blocked: checked below
        if lease is None:
            break
        submitted = answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator,
                                            answer={"label": "dog"}, now=utcnow())  # gold wants "cat": always wrong
        assert submitted.feedback is None  # this project gives no gold feedback: the response is the same
        after = _visible(client, annotator, project)
        if gold:
            golds += 1
            assert after == before, f"step {step}: a gold answer changed what the annotator sees"
        elif after != before:
            changes_after_live += 1
    assert golds >= 3
    assert changes_after_live >= 1  # the rules did act (at an ordinary answer), so the check above meant something
    assert fresh(AnnotatorStats, (annotator.id, project.id)).blocked
