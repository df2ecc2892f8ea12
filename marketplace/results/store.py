"""What results writes, and the answers it reads: the results table's one writer.

Recompute, the per-answer policy and the structured types all write results through here. On
PostgreSQL a batch is COPYed into a stage and upserted in one statement; elsewhere (the embedded
SQLite) the same rows go through one portable upsert.
"""
import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select, update

from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import is_postgres, upsert
from marketplace.extensions import db
from marketplace.results.models import Result


@dataclass(frozen=True)
class Posteriors:
    task_ids: list[int]
    posteriors: np.ndarray  # tasks x K
    answer_counts: np.ndarray


def answers_of_tasks(task_ids: list[int]) -> list[Assignment]:
    """Return the submitted assignments of some tasks, in task then id order."""
    if not task_ids:
        return []
    return list(db.session.scalars(
        select(Assignment)
        .where(Assignment.task_id.in_(task_ids), Assignment.status == SUBMITTED)
        .order_by(Assignment.task_id, Assignment.id)
    ))


def answer_fields_of_tasks(task_ids: list[int]) -> list[tuple]:
    """(task id, annotator id, answer, guideline version) of the submitted answers of some tasks, in task then id order.

    Columns, not entities: an export reads every answer of a project, and loading them as ORM
    objects cost more than the rest of the export.
    """
    if not task_ids:
        return []
    return db.session.execute(
        select(Assignment.task_id, Assignment.annotator_id, Assignment.answer, Assignment.guideline_version)
        .where(Assignment.task_id.in_(task_ids), Assignment.status == SUBMITTED)
        .order_by(Assignment.task_id, Assignment.id)
    ).all()


# Fewer rows than this go through one upsert: COPY's stage costs four round trips.
COPY_MIN_ROWS = 100


def write_results(*, project_id: int, classes: list, found: Posteriors, method: str, now: datetime) -> int:
    """Upsert a result per task with answers from its posterior (label, confidence, method, answers, posterior)."""
    keep = found.answer_counts > 0
    task_ids = [t for t, k in zip(found.task_ids, keep.tolist()) if k]
    post, counts = found.posteriors[keep], found.answer_counts[keep]
    if not task_ids:
        return 0
    if is_postgres() and len(task_ids) >= COPY_MIN_ROWS:
        copy_posteriors(project_id=project_id, method=method, classes=classes, task_ids=task_ids,
                        posteriors=post, answer_counts=counts, now=now)
        return len(task_ids)
    upsert_results(posterior_rows(project_id=project_id, classes=classes, found=Posteriors(task_ids, post, counts),
                                  method=method, now=now))
    return len(task_ids)


def posterior_rows(*, project_id: int, classes: list, found: Posteriors, method: str, now: datetime) -> list[dict]:
    """Result rows from posteriors, one per task given (label: the top class; a tie when classes share the top)."""
    post, counts = found.posteriors, found.answer_counts
    best, top = post.argmax(axis=1), post.max(axis=1)
    ties = (np.isclose(post, top[:, None])).sum(axis=1) > 1
    return [
        {"task_id": task_id, "project_id": project_id, "label": classes[best[i]], "confidence": float(top[i]),
         "method": method, "answer_count": int(counts[i]), "tie": bool(ties[i]), "posterior": post[i].round(6).tolist(),
         "created_at": now, "updated_at": now}
        for i, task_id in enumerate(found.task_ids)
    ]


_PG_UPSERT_FROM_STAGE = """
INSERT INTO results (task_id, project_id, label, confidence, method, answer_count, tie, posterior, created_at, updated_at)
SELECT task_id, project_id, label, confidence, method, answer_count, tie, posterior, created_at, updated_at
FROM results_stage
ON CONFLICT (task_id) DO UPDATE SET label = EXCLUDED.label, confidence = EXCLUDED.confidence, method = EXCLUDED.method,
    answer_count = EXCLUDED.answer_count, tie = EXCLUDED.tie, posterior = EXCLUDED.posterior, updated_at = EXCLUDED.updated_at
"""
_STAGE_COLUMNS = ("task_id", "project_id", "label", "confidence", "method", "answer_count", "tie", "posterior",
                  "created_at", "updated_at")


def copy_posteriors(*, project_id: int, method: str, classes: list, task_ids: list[int], posteriors: np.ndarray,
                    answer_counts: np.ndarray, now: datetime) -> None:
    """Upsert results from posteriors on PostgreSQL: COPY into a stage, then one INSERT ... ON CONFLICT.

    A recompute writes hundreds of thousands of rows: each is formatted by one %-format, never a
    json.dumps or a parameter per value.
    """
    best = posteriors.argmax(axis=1)
    top = posteriors.max(axis=1)
    ties = (np.isclose(posteriors, top[:, None])).sum(axis=1) > 1
    label_json = [_copy_escape(json.dumps(name)) for name in classes]
    stamp = now.isoformat()
    line = (f"%d\t{project_id}\t%s\t%r\t{_copy_escape(method)}\t%d\t%s\t[" + ",".join(["%.6g"] * len(classes))
            + f"]\t{stamp}\t{stamp}\n")
    body = "".join(
        line % (task_id, label_json[b], float(c), n, "t" if tie else "f", *post)
        for task_id, b, c, n, tie, post in zip(task_ids, best.tolist(), top.tolist(), answer_counts.tolist(),
                                              ties.tolist(), posteriors.tolist())
    )
    dbapi = db.session.connection().connection.dbapi_connection
    with dbapi.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS results_stage (LIKE results INCLUDING DEFAULTS) "
                       "ON COMMIT DELETE ROWS")
        cursor.execute("TRUNCATE results_stage")
        with cursor.copy(f"COPY results_stage ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
            copy.write(body)
        cursor.execute(_PG_UPSERT_FROM_STAGE)


def _copy_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def upsert_results(rows: list[dict]) -> None:
    """Insert results, replacing what an earlier computation stored for the same tasks.

    Rows that carry `announced` (the closing path announces as it writes) set it on a replaced result too.
    """
    if not rows:
        return
    insert = upsert(Result.__table__)
    replaced = ("label", "confidence", "method", "answer_count", "tie", "posterior", "updated_at")
    db.session.execute(insert.on_conflict_do_update(
        index_elements=["task_id"],
        set_={name: insert.excluded[name] for name in replaced + (("announced",) if "announced" in rows[0] else ())},
    ), rows)


def delete_results(task_ids: list[int], *, keep_gold: bool = False) -> int:
    """Forget the results of tasks that were reopened (gold's known answers too unless `keep_gold`); return how many."""
    query = Result.__table__.delete().where(Result.task_id.in_(list(task_ids)))
    if keep_gold:
        query = query.where(Result.method != "gold")
    return db.session.execute(query).rowcount


def set_reviewed(*, task_id: int, project_id: int, label, method: str, answer_count: int, now: datetime) -> None:
    """A reviewer decided the task: their label is its result (confidence 1, no posterior)."""
    updated = db.session.execute(update(Result).where(Result.task_id == task_id).values(
        label=label, confidence=1.0, method=method, posterior=None, tie=False, announced=False, updated_at=now))
    if not updated.rowcount:
        db.session.add(Result(task_id=task_id, project_id=project_id, label=label, confidence=1.0, method=method,
                              answer_count=answer_count, tie=False, announced=False, created_at=now, updated_at=now))


def insert_results(rows: list[dict]) -> None:
    """Insert results for tasks that have none yet (gold's known answers)."""
    if not rows:
        return
    db.session.execute(upsert(Result.__table__).on_conflict_do_nothing(index_elements=["task_id"]), rows)


def read_answers(project_id: int, label_type):
    """(task ids, annotator ids, labels) of every submitted answer of a project."""
    if is_postgres() and getattr(label_type, "SQL_CLASS", None):
        dbapi = db.session.connection().connection.dbapi_connection
        with dbapi.cursor() as cursor:
            cursor.execute(f"SELECT task_id, annotator_id, {label_type.SQL_CLASS} FROM assignments "
                           "WHERE project_id = %s AND status = 'submitted'", (project_id,))
            rows = cursor.fetchall()
        tasks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        annotators = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        return tasks, annotators, [r[2] for r in rows]
    rows = db.session.execute(
        select(Assignment.task_id, Assignment.annotator_id, Assignment.answer)
        .where(Assignment.project_id == project_id, Assignment.status == SUBMITTED)
    ).all()
    return (np.array([r.task_id for r in rows], dtype=np.int64), np.array([r.annotator_id for r in rows], dtype=np.int64),
            [label_type.class_of(r.answer) for r in rows])
