"""The periodic trust recompute: Dawid-Skene over a project's answers, gold clamped.

Stores each annotator's confusion matrix, accuracy and agreement with the inferred truth, then runs
the project's rules with every metric known (agreement rules can only fire here).
"""
from datetime import datetime

import numpy as np
from sqlalchemy import select, text

from marketplace import inference, labels
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import is_postgres
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.quality import services
from marketplace.tasks.models import GOLD, Task

# Advisory lock namespace: one trust recompute per project at a time.
RECOMPUTE_LOCK_SPACE = 2 << 48


def recompute_trust(*, project_id: int, now: datetime) -> dict:
    """Re-estimate every annotator's trust in a project and apply its rules; skip if one is running."""
    if is_postgres() and not db.session.execute(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RECOMPUTE_LOCK_SPACE | project_id}
    ).scalar_one():
        return {"skipped": "a recompute of this project is already running"}
    project = db.session.get(Project, project_id)
    if project is None:
        return {"skipped": "no such project"}
    rows = db.session.execute(
        select(Assignment.task_id, Assignment.annotator_id, Assignment.answer, Assignment.is_gold)
        .where(Assignment.project_id == project_id, Assignment.status == SUBMITTED)
    ).all()
    if not rows:
        return {"answers": 0}
    label_type = labels.label_type(project.label_schema)
    classes = project.label_schema["classes"]
    encoded = inference.encode_answers([r.task_id for r in rows], [r.annotator_id for r in rows],
                                       [label_type.class_of(r.answer) for r in rows], label_set=classes)
    gold = _gold_codes(project, encoded, label_type, classes)
    result = inference.dawid_skene(encoded.task_idx, encoded.annotator_idx, encoded.label_idx, len(classes), gold=gold,
                                   n_tasks=encoded.task_ids.size, n_annotators=encoded.annotator_ids.size)
    gold_task = np.zeros(encoded.task_ids.size, dtype=bool)
    gold_task[list(gold)] = True
    live = ~gold_task[encoded.task_idx]
    hits = (result.labels[encoded.task_idx] == encoded.label_idx) & live
    W = encoded.annotator_ids.size
    compared = np.bincount(encoded.annotator_idx, weights=live, minlength=W)
    agreed = np.bincount(encoded.annotator_idx, weights=hits, minlength=W)
    for w, annotator_id in enumerate(encoded.annotator_ids.tolist()):
        stats = services.stats_row(annotator_id=int(annotator_id), project_id=project_id)
        stats.ds_accuracy = float(result.skill[w])
        stats.confusion = result.confusion[w].round(4).tolist()
        stats.agreement = float(agreed[w] / compared[w]) if compared[w] else None
        stats.agreement_answers = int(compared[w])
        if project.quality_rules and not stats.blocked:
            services.apply_rules(stats=stats, project=project, metrics=services.all_metrics(stats, project.quality_rules),
                                 now=now)
    db.session.flush()
    return {"answers": len(rows), "annotators": W, "iterations": result.n_iter}


def _gold_codes(project, encoded, label_type, classes) -> dict[int, int]:
    known = db.session.execute(
        select(Task.id, Task.gold_answer).where(Task.project_id == project.id, Task.status == GOLD)
    ).all()
    position = {int(task_id): i for i, task_id in enumerate(encoded.task_ids.tolist())}
    class_index = {name: k for k, name in enumerate(classes)}
    return {position[t]: class_index[label_type.class_of(a)] for t, a in known if t in position}


def projects_to_recompute() -> list[int]:
    """Open projects with answers: their trust is kept current by the periodic job."""
    return list(db.session.scalars(
        select(Project.id).where(Project.status == "open", Project.id.in_(
            select(Assignment.project_id).where(Assignment.status == SUBMITTED).distinct()))
    ))
