"""Results of label types other than classification: the type's own trust-weighted aggregation.

Boxes, polygons, spans, transcripts, segments, numbers and label sets are aggregated by their
type module (marketplace.labels) from a fixed number of answers per task. Each answer weighs its
annotator's trust on the project: the quality rules' weight times their gold accuracy (the mean of
its Beta posterior, so an annotator who has seen no gold weighs like everyone else).
"""
from datetime import datetime

from sqlalchemy import select

from marketplace import labels
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.quality import trust
from marketplace.quality.models import AnnotatorStats
from marketplace.quality.trust_from_fit import record_agreement
from marketplace.results import store
from marketplace.results.models import Result
from marketplace.reviews.reviewer_trust import check_structured_reviews
from marketplace.tasks.models import CLOSED, ESCALATED, Task

BATCH = 500
REVIEW_METHOD = "review"
GOLD_METHOD = "gold"
# No answer weighs nothing: a heavily down-weighted annotator still breaks a tie among equals.
MIN_WEIGHT = 1e-3


def trust_weights(project_id: int, annotator_ids: set[int]) -> dict[int, float]:
    """Each annotator's weight on the project: rule weight x gold accuracy (posterior mean)."""
    rows = db.session.execute(
        select(AnnotatorStats.annotator_id, AnnotatorStats.weight, AnnotatorStats.gold_seen, AnnotatorStats.gold_correct)
        .where(AnnotatorStats.project_id == project_id, AnnotatorStats.annotator_id.in_(list(annotator_ids)))
    ).all()
    found = {row.annotator_id: max(MIN_WEIGHT, row.weight * trust.gold_accuracy(row.gold_correct, row.gold_seen).mean)
             for row in rows}
    neutral = trust.gold_accuracy(0, 0).mean
    return {a: found.get(a, neutral) for a in annotator_ids}


def task_answers(project, task_ids: list[int]) -> list[labels.TaskAnswers]:
    """Each task's data and its submitted answers with their trust weights, in task id order."""
    data = dict(db.session.execute(select(Task.id, Task.data).where(Task.id.in_(task_ids))).all())
    answers = store.answers_of_tasks(task_ids)
    weights = trust_weights(project.id, {a.annotator_id for a in answers})
    votes: dict[int, list] = {task_id: [] for task_id in task_ids}
    for answer in answers:
        votes[answer.task_id].append(labels.Vote(answer.annotator_id, answer.answer, weights[answer.annotator_id]))
    return [labels.TaskAnswers(task_id, data.get(task_id) or {}, votes[task_id]) for task_id in sorted(task_ids)]


def result_rows(project, task_ids: list[int], now: datetime) -> tuple[list[dict], list[labels.TaskAnswers], list]:
    """Aggregate the tasks: (result rows of those with a result, the inputs, the type's results).

    `project`: anything with the project's `id` and `label_schema`.
    """
    tasks = task_answers(project, task_ids)
    found = labels.aggregate(project.label_schema, tasks)
    rows = [
        {"task_id": task.task_id, "project_id": project.id, "label": result.label, "confidence": float(result.confidence),
         "method": result.method, "answer_count": len(task.votes), "tie": bool(result.tie), "posterior": result.posterior,
         "created_at": now, "updated_at": now}
        for task, result in zip(tasks, found) if result is not None
    ]
    return rows, tasks, found


def write(project: Project, task_ids: list[int], now: datetime) -> tuple[int, list[labels.TaskAnswers], list]:
    """Aggregate the tasks and upsert their results; return (results written, the inputs, the results)."""
    rows, tasks, found = result_rows(project, task_ids, now)
    store.upsert_results(rows)
    return len(rows), tasks, found


def recompute(project: Project, now: datetime, progress) -> dict:
    """Re-aggregate every closed or escalated task with the current trust weights (reviewed ones stay).

    Also stores each annotator's agreement with the results (the type's measure, averaged), which
    the "agreement" quality rule reads; then applies the project's rules.
    """
    reviewed = select(Result.task_id).where(Result.task_id == Task.id, Result.method.in_((REVIEW_METHOD, GOLD_METHOD))).exists()
    task_ids = list(db.session.scalars(
        select(Task.id).where(Task.project_id == project.id, Task.status.in_((CLOSED, ESCALATED)), ~reviewed)
        .order_by(Task.id)))
    written, answers = 0, 0
    agreed: dict[int, list[float]] = {}
    batch = getattr(labels.label_type(project.label_schema), "RECOMPUTE_BATCH", BATCH)
    for start in range(0, len(task_ids), batch):
        batch_written, tasks, found = write(project, task_ids[start:start + batch], now)
        written += batch_written
        for task, result in zip(tasks, found):
            answers += len(task.votes)
            for vote in task.votes:
                if result is not None:
                    score = labels.agreement(project.label_schema, vote.answer, result.label, task.data)
                    agreed.setdefault(vote.annotator_id, []).append(score)
        progress(percent=10 + int(80 * min(1.0, (start + batch) / max(1, len(task_ids)))), stage="aggregating")
    record_agreement(project, agreed, now)
    check_structured_reviews(project=project, task_answers=task_answers)
    return {"answers": answers, "annotators": len(agreed), "iterations": 0, "results_written": written,
            "tasks_reopened": 0}
