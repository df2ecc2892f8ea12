"""A small project with every figure of the quality report in it, at fixed times (the JSON snapshot's input).

Three annotators on four tasks and one gold task over two days; three tasks closed with results,
one still open; one rejection overturned on dispute; approved answers, a bonus.
"""
from datetime import datetime, timedelta, timezone

from marketplace.approvals.models import Bonus
from marketplace.assignments.models import REJECTED, SUBMITTED, Assignment
from marketplace.disputes.models import OVERTURNED, Dispute
from marketplace.extensions import db
from marketplace.quality.models import AnnotatorStats
from marketplace.results.models import Result
from marketplace.tasks.models import CLOSED, GOLD, OPEN
from tests.factories import AnnotatorFactory, ProjectFactory, TaskFactory

DAY1 = datetime(2026, 1, 5, tzinfo=timezone.utc)
DAY2 = DAY1 + timedelta(days=1)
NOW = datetime(2026, 1, 9, 12, 0, tzinfo=timezone.utc)

# task external id -> (status, hours after DAY1 it closed, result label, [(annotator, label, day, seconds to answer)])
TASKS = {
    "t0": (CLOSED, 12, "cat", [(0, "cat", DAY1, 20), (1, "cat", DAY1, 40)]),
    "t1": (CLOSED, 39, "dog", [(0, "dog", DAY2, 30), (1, "dog", DAY2, 30), (2, "cat", DAY2, 90)]),
    "t2": (CLOSED, 42, "bird", [(0, "bird", DAY2, 25), (1, "cat", DAY2, 35), (2, "bird", DAY2, 60)]),
    "t3": (OPEN, None, None, [(2, "cat", DAY2, 15)]),
}
GOLD_ANSWERS = [(0, "cat", DAY1), (2, "dog", DAY2), (1, "cat", DAY2)]  # gold answer: cat
# (weight, ds accuracy, reported gold correct, reported gold seen) per annotator
STATS = [(1.0, 0.92, 1, 1), (1.0, 0.81, 1, 1), (0.5, 0.48, 0, 1)]


def _answer(project, task, annotator, label, when, seconds, **fields):
    return Assignment(project_id=project.id, task_id=task.id, annotator_id=annotator.id, status=SUBMITTED,
                      leased_at=when, expires_at=when + timedelta(minutes=10), submitted_at=when + timedelta(seconds=seconds),
                      answer={"label": label}, duration_ms=seconds * 1000, **fields)


def reported_project():
    """The project, its requester's id, its annotators and the assignment whose rejection was overturned."""
    project = ProjectFactory(status="open", reward_cents=10, fee_bps=2000, answers_per_task=3, min_answers=2,
                             max_answers=4, target_confidence=0.9, aggregation="ds", task_count=4,
                             closed_task_count=3, gold_count=1, truth_model={"method": "ds"}, name="Animals")
    annotators = [AnnotatorFactory() for _ in STATS]
    answers = []
    for external_id, (status, hours, truth, given) in TASKS.items():
        task = TaskFactory(project_id=project.id, external_id=external_id, status=status, answer_count=len(given),
                           slots_taken=len(given), created_at=DAY1 + timedelta(hours=9),
                           closed_at=DAY1 + timedelta(hours=hours) if hours else None)
        for who, label, when, seconds in given:
            answers.append(_answer(project, task, annotators[who], label, when + timedelta(hours=10), seconds,
                                   approved_at=NOW - timedelta(days=1) if status == CLOSED else None))
        if truth:
            db.session.add(Result(task_id=task.id, project_id=project.id, label=truth, confidence=0.95,
                                  method="ds", answer_count=len(given), created_at=DAY2, updated_at=DAY2))
    gold = TaskFactory(project_id=project.id, external_id="g0", status=GOLD, gold_answer={"label": "cat"},
                       created_at=DAY1)
    for who, label, when in GOLD_ANSWERS:
        answers.append(_answer(project, gold, annotators[who], label, when + timedelta(hours=11), 10, is_gold=True,
                               gold_correct=label == "cat"))
    db.session.add_all(answers)
    db.session.flush()
    disputed = answers[4]  # annotator 2's "cat" on t1: rejected, then overturned on dispute
    disputed.rejected_at, disputed.rejection_category = DAY2 + timedelta(hours=20), "wrong"
    db.session.add(Dispute(assignment_id=disputed.id, annotator_id=disputed.annotator_id, project_id=project.id,
                           status=OVERTURNED, reason="The image shows a cat.", evidence={},
                           opened_at=DAY2 + timedelta(days=1), resolved_at=DAY2 + timedelta(days=1, hours=6)))
    db.session.add(Bonus(requester_id=project.requester_id, annotator_id=annotators[0].id, assignment_id=answers[0].id,
                         project_id=project.id, amount_cents=50, fee_cents=10, currency="usd", reason="Careful work.",
                         idempotency_key="bonus-1", request_hash="0" * 64, created_at=DAY2))
    for annotator, (weight, accuracy, correct, seen) in zip(annotators, STATS):
        mine = [a for a in answers if a.annotator_id == annotator.id]
        db.session.add(AnnotatorStats(
            annotator_id=annotator.id, project_id=project.id, answers=len(mine),
            duration_ms_total=sum(a.duration_ms for a in mine), gold_seen=seen, gold_correct=correct,
            reported_gold_seen=seen, reported_gold_correct=correct, ds_accuracy=accuracy, weight=weight,
            created_at=DAY1, updated_at=NOW - timedelta(days=1)))
    db.session.flush()
    return project, annotators, disputed
