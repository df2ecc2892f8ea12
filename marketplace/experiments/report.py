"""An experiment's figures per arm, and the verdict on which arm labels best.

Per arm, over the answers given under its terms (assignments.arm_id): annotators, answers, gold
accuracy with its Wilson interval, agreement with the project's results, answers per task, what the
accepted answers cost (rewards and fees at each lease's reward) and per accepted answer, and
throughput over the experiment's run. The verdict compares gold accuracy (experiments/stats.py).
"""
from datetime import datetime

from sqlalchemy import case, func, select

from marketplace import labels
from marketplace.assignments.models import Assignment
from marketplace.experiments import stats
from marketplace.experiments.models import Arm, Experiment
from marketplace.experiments.services import arms_of
from marketplace.extensions import db
from marketplace.payments.escrow import answer_spend
from marketplace.projects.models import Project
from marketplace.results.models import Result


def report(*, project: Project, experiment: Experiment, now: datetime) -> dict:
    arms = arms_of(experiment.id)
    hours = max(((experiment.stopped_at or now) - experiment.started_at).total_seconds() / 3600, 1 / 60)
    counts = _counts(experiment.id)
    agreement = _agreement(project, experiment.id)
    shown = [_arm(project, arm, counts.get(arm.id), agreement.get(arm.id), hours) for arm in arms]
    verdict = stats.verdict([(a["name"], a["gold_correct"], a["gold_seen"]) for a in shown]) if len(arms) > 1 else None
    return {"id": experiment.id, "project_id": project.id, "name": experiment.name, "unit": experiment.unit,
            "status": experiment.status, "started_at": experiment.started_at, "stopped_at": experiment.stopped_at,
            "arms": shown, "verdict": verdict}


def _counts(experiment_id: int) -> dict[int, tuple]:
    """Per arm: annotators, ordinary answers, tasks answered, gold seen, gold right."""
    answered = Assignment.submitted_at.is_not(None)
    ordinary = answered & ~Assignment.is_gold
    rows = db.session.execute(
        select(Assignment.arm_id, func.count(func.distinct(case((answered, Assignment.annotator_id)))),
               func.count(case((ordinary, 1))), func.count(func.distinct(case((ordinary, Assignment.task_id)))),
               func.count(case((answered & Assignment.gold_correct.is_not(None), 1))),
               func.count(case((answered & Assignment.gold_correct.is_(True), 1))))
        .join(Arm, Arm.id == Assignment.arm_id)
        .where(Arm.experiment_id == experiment_id).group_by(Assignment.arm_id)).all()
    return {row[0]: tuple(int(x) for x in row[1:]) for row in rows}


def _agreement(project: Project, experiment_id: int) -> dict[int, float]:
    """Per arm: the share of its ordinary answers that agree with their task's current result."""
    rows = db.session.execute(
        select(Assignment.arm_id, Assignment.answer, Result.label)
        .join(Arm, Arm.id == Assignment.arm_id).join(Result, Result.task_id == Assignment.task_id)
        .where(Arm.experiment_id == experiment_id, Assignment.submitted_at.is_not(None), ~Assignment.is_gold,
               Assignment.rejected_at.is_(None))
        .execution_options(yield_per=5_000))
    agree: dict[int, list[int]] = {}
    for arm_id, answer, label in rows:
        tally = agree.setdefault(arm_id, [0, 0])
        tally[0] += labels.result_label(project.label_schema, answer) == label
        tally[1] += 1
    return {arm_id: round(hits / total, 4) for arm_id, (hits, total) in agree.items()}


def _arm(project: Project, arm: Arm, counts: tuple | None, agreement: float | None, hours: float) -> dict:
    annotators, answers, tasks, gold_seen, gold_correct = counts or (0, 0, 0, 0, 0)
    approved, pending, rewards, fees = answer_spend(project, Assignment.arm_id == arm.id)
    accepted = approved + pending
    interval = stats.wilson(gold_correct, gold_seen)
    return {
        "id": arm.id, "name": arm.name, "weight": arm.weight, "guideline_version": arm.guideline_version,
        "reward_cents": arm.reward_cents, "qualification_id": arm.qualification_id,
        "answers_per_task_setting": arm.answers_per_task,
        "annotators": annotators, "answers": answers, "gold_seen": gold_seen, "gold_correct": gold_correct,
        "gold_accuracy": round(gold_correct / gold_seen, 4) if gold_seen else None,
        "gold_accuracy_interval": [round(x, 4) for x in interval] if interval else None,
        "agreement": agreement, "answers_per_task": round(answers / tasks, 3) if tasks else None,
        "accepted_answers": accepted, "cost_cents": rewards + fees,
        "cost_per_accepted_label_cents": round((rewards + fees) / accepted, 2) if accepted else None,
        "answers_per_hour": round((answers + gold_seen) / hours, 3),
    }
