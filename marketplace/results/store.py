"""What results writes, and the answers it reads: the results table's one writer.

Recompute, the per-answer policy and the structured types all write results through here. On
PostgreSQL a batch is COPYed into a stage and upserted in one statement; elsewhere (the embedded
SQLite) the same rows go through one portable upsert.
"""
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from psycopg.types.json import Jsonb
from sqlalchemy import select, text, update

from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import is_postgres, pg_exec, pg_sql, upsert
from marketplace.extensions import db
from marketplace.results import bulk_store as bulk
from marketplace.results.models import RecomputeChunk, RecomputeStage, Result
from marketplace.tasks.models import CLOSED, ESCALATED, Task


@dataclass(frozen=True)
class Posteriors:
    task_ids: list[int] | np.ndarray
    posteriors: np.ndarray  # tasks x K
    answer_counts: np.ndarray
    reopen: np.ndarray | None = None  # a recompute's: the tasks the submit path's rule would not close now

    def take(self, which) -> "Posteriors":
        """These tasks' rows only (`which`: an index array, a mask or a slice)."""
        return Posteriors(np.asarray(self.task_ids)[which], self.posteriors[which], self.answer_counts[which],
                          None if self.reopen is None else self.reopen[which])


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


# Fewer rows than this go through one upsert: the bulk path's stage costs a few round trips.
COPY_MIN_ROWS = 100


def write_results(*, project_id: int, classes: list, found: Posteriors, method: str, now: datetime,
                  progress=None) -> int:
    """Upsert a result per task with answers from its posterior (label, confidence, method, answers, posterior).

    `progress(done, total)`: told as a large write merges its ranges (PostgreSQL's bulk path).
    """
    keep = found.answer_counts > 0
    task_ids = np.asarray(found.task_ids, dtype=np.int64)[keep]
    post, counts = found.posteriors[keep], found.answer_counts[keep]
    if not task_ids.size:
        return 0
    if is_postgres() and task_ids.size >= COPY_MIN_ROWS:
        dbapi = db.session.connection().connection.dbapi_connection
        bulk.write_posteriors(dbapi, project_id=project_id, method=method, classes=classes, task_ids=task_ids,
                              posteriors=post, answer_counts=counts, now=now, progress=progress)
        return int(task_ids.size)
    upsert_results(posterior_rows(project_id=project_id, classes=classes, found=Posteriors(task_ids.tolist(), post, counts),
                                  method=method, now=now))
    return int(task_ids.size)


def posterior_rows(*, project_id: int, classes: list, found: Posteriors, method: str, now: datetime) -> list[dict]:
    """Result rows from posteriors, one per task given (label: the top class; a tie when classes share the top)."""
    post, counts = found.posteriors, found.answer_counts
    best, top = post.argmax(axis=1), post.max(axis=1)
    # np.isclose's test (rtol 1e-5, atol 1e-8) written out: isclose itself costs ~45 us a call, most of a
    # closing task's result row; posteriors are finite, so its inf/nan handling has nothing to do here.
    ties = (np.abs(post - top[:, None]) <= 1e-08 + 1e-05 * top[:, None]).sum(axis=1) > 1
    return [
        {"task_id": task_id, "project_id": project_id, "label": classes[best[i]], "confidence": float(top[i]),
         "method": method, "answer_count": int(counts[i]), "tie": bool(ties[i]), "posterior": post[i].round(6).tolist(),
         "created_at": now, "updated_at": now}
        for i, task_id in enumerate(found.task_ids)
    ]


# The closing path's one result, as a prepared statement: the SQLAlchemy upsert is built and compiled per call.
_UPSERT_CLOSED = pg_sql("""
INSERT INTO results (task_id, project_id, label, confidence, method, answer_count, tie, posterior, announced,
                     created_at, updated_at)
VALUES (:task_id, :project_id, :label, :confidence, :method, :answer_count, :tie, :posterior, true,
        :created_at, :updated_at)
ON CONFLICT (task_id) DO UPDATE SET label = excluded.label, confidence = excluded.confidence,
    method = excluded.method, answer_count = excluded.answer_count, tie = excluded.tie,
    posterior = excluded.posterior, announced = excluded.announced, updated_at = excluded.updated_at
""")


def upsert_closed_result(row: dict) -> None:
    """Write the result of a task that just closed, marked announced (its closing answer announces it)."""
    if not is_postgres():
        upsert_results([{**row, "announced": True}])
        return
    posterior = row.get("posterior")  # majority-vote rows have none
    pg_exec(_UPSERT_CLOSED, {**row, "label": Jsonb(row["label"]),
                             "posterior": None if posterior is None else Jsonb(posterior)})


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


_PG_DONE_IDS = ("SELECT t.id FROM tasks t WHERE t.project_id = %s AND t.status IN ('closed', 'escalated') "
                "AND NOT EXISTS (SELECT 1 FROM results r WHERE r.task_id = t.id AND r.method = %s)")


def done_task_ids(project_id: int, *, final_method: str) -> np.ndarray:
    """Closed and escalated tasks of a project, but those whose result has `final_method` (a reviewer's
    decision is final), as an array (on PostgreSQL a binary COPY: millions of ids, no Python int each)."""
    if is_postgres():
        dbapi = db.session.connection().connection.dbapi_connection
        return bulk.read_ids(dbapi, _PG_DONE_IDS, (project_id, final_method))
    final = select(Result.task_id).where(Result.task_id == Task.id, Result.method == final_method).exists()
    return np.fromiter(db.session.scalars(
        select(Task.id).where(Task.project_id == project_id, Task.status.in_((CLOSED, ESCALATED)), ~final)
    ), dtype=np.int64)


def read_answers(project_id: int, label_type, classes: list):
    """(task ids, annotator ids, class positions in `classes`) of every submitted answer of a project.

    On PostgreSQL a binary COPY straight into numpy arrays (results/bulk_store.py): ten million answers
    never become Python objects. Elsewhere, rows through the ORM's connection.
    """
    if is_postgres() and getattr(label_type, "SQL_CLASS", None):
        dbapi = db.session.connection().connection.dbapi_connection
        return bulk.read_answer_codes(dbapi, project_id=project_id, classes=classes, sql_class=label_type.SQL_CLASS)
    rows = db.session.execute(
        select(Assignment.task_id, Assignment.annotator_id, Assignment.answer)
        .where(Assignment.project_id == project_id, Assignment.status == SUBMITTED)
    ).all()
    position = {name: k for k, name in enumerate(classes)}
    return (np.array([r.task_id for r in rows], dtype=np.int64), np.array([r.annotator_id for r in rows], dtype=np.int64),
            np.array([position.get(label_type.class_of(r.answer), -1) for r in rows], dtype=np.int64))


def can_stage() -> bool:
    """Whether a recompute's results can be staged and merged in chunks (PostgreSQL's recompute_stage)."""
    return is_postgres()


def stage_results(*, project_id: int, found: Posteriors, chunk_tasks: int) -> int:
    """Stage a recompute's results (tasks with answers) in chunks of `chunk_tasks`, in place of any the
    project's earlier runs left; return the number of chunks."""
    clear_stage(project_id)
    keep = found.answer_counts > 0
    dbapi = db.session.connection().connection.dbapi_connection
    chunks = bulk.stage_posteriors(dbapi, project_id=project_id, task_ids=np.asarray(found.task_ids, dtype=np.int64)[keep],
                                   posteriors=found.posteriors[keep], answer_counts=found.answer_counts[keep],
                                   chunk_tasks=chunk_tasks, reopen=None if found.reopen is None else found.reopen[keep])
    if chunks:
        db.session.execute(RecomputeChunk.__table__.insert(),
                           [{"project_id": project_id, "chunk": chunk, "merged": False} for chunk in range(chunks)])
    return chunks


def claim_chunk(project_id: int) -> int | None:
    """The lowest staged chunk of a project no other job is merging or has merged, locked to this
    transaction (None: none left to take)."""
    return db.session.scalar(
        select(RecomputeChunk.chunk).where(RecomputeChunk.project_id == project_id, ~RecomputeChunk.merged)
        .order_by(RecomputeChunk.chunk).limit(1).with_for_update(skip_locked=True))


CHUNKS_CHANNEL = "recompute_chunks"


def mark_merged(project_id: int, chunk: int) -> None:
    """Mark a chunk merged, and `NOTIFY recompute_chunks, '<project id>'` at the commit (a listener follows
    a large run chunk by chunk)."""
    db.session.execute(update(RecomputeChunk).where(RecomputeChunk.project_id == project_id,
                                                    RecomputeChunk.chunk == chunk).values(merged=True))
    if is_postgres():
        db.session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHUNKS_CHANNEL, "payload": str(project_id)})


def is_staged(project_id: int, chunk: int) -> bool:
    """Whether a chunk of a project's results is staged (an UNLOGGED stage is empty after a crash)."""
    staged = select(RecomputeStage.task_id).where(RecomputeStage.project_id == project_id, RecomputeStage.chunk == chunk)
    return db.session.scalar(staged.exists().select())


def merge_staged_chunk(*, project_id: int, chunk: int, classes: list, method: str, now: datetime,
                       final_method: str) -> tuple[int, list[int]]:
    """Merge one staged chunk into results: (results written, the written tasks staged to be reopened)."""
    dbapi = db.session.connection().connection.dbapi_connection
    return bulk.merge_staged(dbapi, project_id=project_id, chunk=chunk, method=method, classes=classes, now=now,
                             final_method=final_method)


def clear_stage(project_id: int) -> None:
    """Drop whatever of a project's results is staged, and its chunks."""
    db.session.execute(RecomputeStage.__table__.delete().where(RecomputeStage.project_id == project_id))
    db.session.execute(RecomputeChunk.__table__.delete().where(RecomputeChunk.project_id == project_id))
