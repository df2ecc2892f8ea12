"""What annotators read of their own trust, and what requesters read of their project's quality."""
from datetime import datetime

import numpy as np
from sqlalchemy import func, select

from marketplace import inference, labels, pseudonyms
from marketplace.accounts.models import Account
from marketplace.assignments.models import REJECTED, SUBMITTED, Assignment
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.quality import eligibility, trust
from marketplace.projects.models import Project
from marketplace.quality.models import AnnotatorStats, QualityAction
from marketplace.tasks.models import Task

AGREEMENT_SAMPLE = 50_000
PAIRWISE_SAMPLE = 1_000  # structured agreement (pixel IoU, WER...) costs more per pair: a smaller sample


def _pairwise(project, answers) -> float | None:
    """The mean, over tasks with two or more answers, of the type's agreement between every two answers."""
    data = dict(db.session.execute(
        select(Task.id, Task.data).where(Task.id.in_({a.task_id for a in answers}))).all())
    by_task: dict[int, list] = {}
    for a in answers:
        by_task.setdefault(a.task_id, []).append(a.answer)
    means = [float(np.mean([labels.agreement(project.label_schema, x, y, data[task_id])
                            for i, x in enumerate(given) for y in given[i + 1:]]))
             for task_id, given in by_task.items() if len(given) >= 2]
    return round(float(np.mean(means)), 6) if means else None


def _gold(stats: AnnotatorStats, reported: bool = False) -> dict:
    seen, correct = ((stats.reported_gold_seen, stats.reported_gold_correct) if reported
                     else (stats.gold_seen, stats.gold_correct))
    estimate = trust.gold_accuracy(correct, seen)
    return {"seen": seen, "correct": correct, "mean": estimate.mean, "lower_bound": estimate.lower_bound}


def _approval(annotator_id: int, project_id: int) -> float | None:
    counts = dict(db.session.execute(
        select(Assignment.status, func.count()).where(
            Assignment.annotator_id == annotator_id, Assignment.project_id == project_id,
            Assignment.status.in_((SUBMITTED, REJECTED)))
        .group_by(Assignment.status)
    ).all())
    total = sum(counts.values())
    return counts.get(SUBMITTED, 0) / total if total else None


def _row(stats: AnnotatorStats, reported: bool = False) -> dict:
    return {
        "answers": stats.answers,
        "mean_answer_time_s": stats.duration_ms_total / stats.answers / 1000 if stats.answers else None,
        "gold": _gold(stats, reported),
        "ds_accuracy": stats.ds_accuracy,
        "confusion": stats.confusion,
        "agreement_with_truth": stats.agreement,
        "approval_rate": _approval(stats.annotator_id, stats.project_id),
        "weight": stats.weight,
        "blocked": stats.blocked,
        "blocked_reason": stats.blocked_reason,
    }


def my_trust(*, annotator: Account, now: datetime) -> dict:
    """The annotator's reputation, per-project trust and the automatic actions taken on them."""
    rows = db.session.scalars(select(AnnotatorStats).where(AnnotatorStats.annotator_id == annotator.id)
                              .order_by(AnnotatorStats.project_id)).all()
    estimate = eligibility.reputation_of(annotator_id=annotator.id, now=now)
    actions = db.session.scalars(select(QualityAction).where(QualityAction.annotator_id == annotator.id)
                                 .order_by(QualityAction.id.desc()).limit(100)).all()
    return {
        "reputation": {"mean": estimate.mean, "lower_bound": estimate.lower_bound, "evidence": estimate.evidence},
        # The annotator's own gold figures are the recompute's snapshot, never the live counters.
        "projects": [{"project_id": s.project_id, **_row(s, reported=True)} for s in rows],
        "actions": actions,
    }


def missed_gold(*, annotator: Account, project_id: int | None, cursor: int | None, limit: int) -> list[dict]:
    """The gold tasks the annotator answered wrongly, with the expected answer and explanation."""
    # Only on projects that tell annotators about missed gold; elsewhere the list would reveal gold items.
    query = (select(Assignment, Task).join(Task, Task.id == Assignment.task_id)
             .join(Project, Project.id == Assignment.project_id)
             .where(Assignment.annotator_id == annotator.id, Assignment.is_gold, Assignment.gold_correct.is_(False),
                    Project.gold_feedback))
    if project_id:
        query = query.where(Assignment.project_id == project_id)
    query = keyset(query, Assignment.id, cursor, limit)
    return [{"assignment_id": a.id, "project_id": a.project_id, "task_ref": pseudonyms.task_ref(t.id, annotator.id),
             "data": t.data, "your_answer": a.answer, "expected": t.gold_answer, "explanation": t.gold_explanation,
             "submitted_at": a.submitted_at} for a, t in db.session.execute(query).all()]


def project_annotators(*, project: Project, cursor: int | None, limit: int) -> list[dict]:
    """Per-annotator statistics of a project (its owner's view: the route checked that), under pseudonyms.

    Paged by position, not by annotator id: a cursor holding the id would undo the pseudonym.
    """
    rows = db.session.scalars(select(AnnotatorStats).where(AnnotatorStats.project_id == project.id)
                              .order_by(AnnotatorStats.annotator_id).offset(cursor or 0).limit(limit + 1)).all()
    return [{"annotator": pseudonyms.annotator(project.id, s.annotator_id), **_row(s)} for s in rows]


def project_stats(*, project: Project) -> dict:
    """Agreement, gold accuracy distribution, blocked annotators and gold exhaustion of a project (owner's view)."""
    stats = db.session.scalars(select(AnnotatorStats).where(AnnotatorStats.project_id == project.id)).all()
    with_gold = [trust.gold_accuracy(s.gold_correct, s.gold_seen).mean for s in stats if s.gold_seen]
    return {
        "tasks": project.task_count, "closed_tasks": project.closed_task_count, "gold_tasks": project.gold_count,
        "annotators": len(stats),
        "agreement": agreement(project),
        "gold_accuracy": _distribution(with_gold),
        "blocked_annotators": [{"annotator": pseudonyms.annotator(project.id, s.annotator_id), "reason": s.blocked_reason}
                               for s in stats if s.blocked],
        "annotators_out_of_gold": sum(1 for s in stats if project.gold_count and s.gold_seen >= project.gold_count),
    }


def _distribution(values: list[float]) -> dict:
    if not values:
        return {"annotators": 0, "mean": None, "quantiles": None}
    q = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9])
    return {"annotators": len(values), "mean": float(np.mean(values)),
            "quantiles": dict(zip(("p10", "p25", "p50", "p75", "p90"), map(float, q)))}


def agreement(project) -> dict:
    """Krippendorff's alpha, Fleiss' kappa and percent agreement over (a sample of) non-gold answers."""
    answers = db.session.execute(
        select(Assignment.task_id, Assignment.answer).where(
            Assignment.project_id == project.id, Assignment.status == SUBMITTED, ~Assignment.is_gold)
        .order_by(Assignment.task_id).limit(AGREEMENT_SAMPLE)
    ).all()
    empty = {"answers": len(answers), "krippendorff_alpha": None, "fleiss_kappa": None, "percent_agreement": None,
             "mean_pairwise_agreement": None}
    if not answers:
        return empty
    label_type = labels.label_type(project.label_schema)
    if not label_type.CATEGORICAL:
        return {**empty, "mean_pairwise_agreement": _pairwise(project, answers[:PAIRWISE_SAMPLE])}
    classes = {name: k for k, name in enumerate(project.label_schema["classes"])}
    task_ids, task_idx = np.unique(np.array([a.task_id for a in answers]), return_inverse=True)
    label_idx = np.array([classes[label_type.class_of(a.answer)] for a in answers])
    counts = np.bincount(task_idx * len(classes) + label_idx, minlength=task_ids.size * len(classes))
    return categorical_agreement(counts.reshape(task_ids.size, len(classes)), len(answers))


def categorical_agreement(counts: np.ndarray, answers: int) -> dict:
    """Alpha, Fleiss' kappa (on the units of the modal size) and percent agreement of a units x classes count matrix."""
    per_unit = counts.sum(axis=1)
    if (per_unit >= 2).sum() == 0:
        return {"answers": answers, "krippendorff_alpha": None, "fleiss_kappa": None, "percent_agreement": None,
                "mean_pairwise_agreement": None}
    modal = int(np.bincount(per_unit).argmax())
    same = counts[per_unit == modal]
    return {
        "answers": answers,
        "mean_pairwise_agreement": inference.percent_agreement(counts),
        "krippendorff_alpha": inference.krippendorff_alpha_counts(counts),
        "fleiss_kappa": inference.fleiss_kappa(same) if modal >= 2 and len(same) else None,
        "percent_agreement": inference.percent_agreement(counts),
    }
