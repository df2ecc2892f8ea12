"""Annotator trust from a project's Dawid-Skene fit: confusion matrices, accuracy, agreement with the truth.

Called by the project recompute (marketplace/results/recompute.py) with the fit it just made; then
the project's rules run with every metric known (agreement rules can only fire here).
"""
from datetime import datetime

import numpy as np
from sqlalchemy import bindparam, update

from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.quality import services
from marketplace.quality.models import AnnotatorStats


def update_trust(*, project: Project, annotator_ids: np.ndarray, annotator_idx: np.ndarray, label_idx: np.ndarray,
                 task_idx: np.ndarray, gold_task: np.ndarray, result, now: datetime) -> int:
    """Store each annotator's confusion matrix, accuracy and agreement; apply rules; return annotators updated."""
    W = annotator_ids.size
    live = ~gold_task[task_idx]
    hits = (result.labels[task_idx] == label_idx) & live
    compared = np.bincount(annotator_idx, weights=live, minlength=W)
    agreed = np.bincount(annotator_idx, weights=hits, minlength=W)
    table = AnnotatorStats.__table__
    rows = [
        {"a": int(annotator_ids[w]), "ds_accuracy": float(result.skill[w]), "confusion": result.confusion[w].round(4).tolist(),
         "agreement": float(agreed[w] / compared[w]) if compared[w] else None, "agreement_answers": int(compared[w])}
        for w in range(W)
    ]
    # Every annotator with a submitted answer has a stats row (the submit path creates it).
    db.session.connection().execute(
        update(table)
        .where(table.c.project_id == project.id, table.c.annotator_id == bindparam("a"))
        .values(ds_accuracy=bindparam("ds_accuracy"), confusion=bindparam("confusion"),
                agreement=bindparam("agreement"), agreement_answers=bindparam("agreement_answers"), updated_at=now,
                reported_gold_seen=table.c.gold_seen, reported_gold_correct=table.c.gold_correct),
        rows,
    )
    if project.quality_rules:
        apply_rules(project, now)
    return W


def apply_rules(project: Project, now: datetime) -> None:
    for stats in db.session.scalars(
        db.select(AnnotatorStats).where(AnnotatorStats.project_id == project.id, ~AnnotatorStats.blocked)
        .with_for_update().execution_options(populate_existing=True)
    ).all():
        services.apply_rules(stats=stats, project=project, metrics=services.all_metrics(stats, project.quality_rules),
                             now=now)


def record_agreement(project: Project, agreed: dict[int, list[float]], now: datetime) -> None:
    """Store each annotator's mean agreement with the aggregates (structured types), then apply the quality rules."""
    if agreed:
        table = AnnotatorStats.__table__
        db.session.connection().execute(
            update(table).where(table.c.project_id == project.id, table.c.annotator_id == bindparam("a"))
            .values(agreement=bindparam("agreement"), agreement_answers=bindparam("n"), updated_at=now,
                    reported_gold_seen=table.c.gold_seen, reported_gold_correct=table.c.gold_correct),
            [{"a": a, "agreement": float(np.mean(scores)), "n": len(scores)} for a, scores in agreed.items()],
        )
    if project.quality_rules:
        apply_rules(project, now)
