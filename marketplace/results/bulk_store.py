"""A recompute's bulk reads and writes on PostgreSQL: binary COPY straight to and from numpy arrays.

Every row has a fixed width in both directions, so a whole block of them is one numpy structured
array: no Python object per answer or per result, memory bounded by the arrays themselves.

Reading: COPY (SELECT task_id, annotator_id, class position) TO STDOUT (FORMAT binary) streams
32-byte rows, parsed a block at a time into growing int64/int16 arrays.

Writing: results go into a temporary stage as fixed-width rows (task id, class position,
confidence, answer count, tie, the posterior as a float8 array) by binary COPY, one range of task
ids at a time, each merged into `results` (INSERT ... SELECT ... ON CONFLICT) before the next;
PostgreSQL makes the label and the posterior's JSON from those columns.
"""
import json
from datetime import datetime

import numpy as np

# PostgreSQL's binary COPY framing: an 11-byte signature, flags, header extension length; -1 ends it.
SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
READ_BLOCK_ROWS = 1 << 18
MERGE_ROWS = 500_000
FLOAT8_OID = 701

_ANSWER_ROW = np.dtype([("fields", ">i2"), ("task_len", ">i4"), ("task", ">i8"), ("annotator_len", ">i4"),
                        ("annotator", ">i8"), ("label_len", ">i4"), ("label", ">i2")])


def read_answer_codes(dbapi, *, project_id: int, classes: list, sql_class: str):
    """(task ids, annotator ids, class positions) of a project's submitted answers, as numpy arrays.

    A label outside `classes` (which validation never lets in) reads as -1 and fails the encoding.
    """
    query = (f"COPY (SELECT task_id, annotator_id, (coalesce(array_position(%s::text[], {sql_class}), 0) - 1)::int2 "
             "FROM assignments WHERE project_id = %s AND status = 'submitted') TO STDOUT (FORMAT binary)")
    parts: list[np.ndarray] = []
    pending = bytearray()
    header_left = len(HEADER)
    with dbapi.cursor() as cursor, cursor.copy(query, (list(classes), project_id)) as copy:
        for block in copy:
            pending += block
            if header_left:
                if len(pending) < header_left:
                    continue
                if not bytes(pending[:len(SIGNATURE)]) == SIGNATURE:
                    raise ValueError("not a binary COPY stream")
                del pending[:header_left]
                header_left = 0
            whole = len(pending) // _ANSWER_ROW.itemsize
            if whole >= READ_BLOCK_ROWS:
                parts.append(_columns(pending, whole))
                del pending[:whole * _ANSWER_ROW.itemsize]
    if pending[-len(TRAILER):] == TRAILER:
        del pending[-len(TRAILER):]
    whole = len(pending) // _ANSWER_ROW.itemsize
    if whole * _ANSWER_ROW.itemsize != len(pending):
        raise ValueError("a binary COPY row of an unexpected width")
    parts.append(_columns(pending, whole))
    return (np.concatenate([p["task"] for p in parts]), np.concatenate([p["annotator"] for p in parts]),
            np.concatenate([p["label"] for p in parts]))


def _columns(buffer: bytearray, rows: int) -> np.ndarray:
    """The rows as native-endian columns (a copy: the buffer is reused)."""
    raw = np.frombuffer(bytes(buffer[:rows * _ANSWER_ROW.itemsize]), dtype=_ANSWER_ROW)
    if rows and not (raw["fields"] == 3).all():
        raise ValueError("a binary COPY row with an unexpected number of fields")
    out = np.empty(rows, dtype=[("task", np.int64), ("annotator", np.int64), ("label", np.int16)])
    out["task"], out["annotator"], out["label"] = raw["task"], raw["annotator"], raw["label"]
    return out


_ID_ROW = np.dtype([("fields", ">i2"), ("len", ">i4"), ("id", ">i8")])


def read_ids(dbapi, query: str, params: tuple) -> np.ndarray:
    """The one bigint column a query returns, as an int64 array (binary COPY; no Python int per row)."""
    with dbapi.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)", params) as copy:
        data = b"".join(bytes(block) for block in copy)
    if not data.startswith(SIGNATURE):
        raise ValueError("not a binary COPY stream")
    body = data[len(HEADER):len(data) - len(TRAILER)]
    rows = np.frombuffer(body, dtype=_ID_ROW)
    if rows.size and not ((rows["fields"] == 1) & (rows["len"] == 8)).all():
        raise ValueError("a binary COPY row that is not one bigint")
    return rows["id"].astype(np.int64)


_STAGE_KEY = [("project_len", ">i4"), ("project", ">i8"), ("chunk_len", ">i4"), ("chunk", ">i4")]


def _result_row(K: int, staged: bool = False) -> np.dtype:
    """A result's binary COPY row; `staged`: led by the project and chunk (recompute_stage's key) and
    followed by whether to reopen the task once merged."""
    return np.dtype([("fields", ">i2")] + (_STAGE_KEY if staged else []) + [
        ("task_len", ">i4"), ("task", ">i8"), ("best_len", ">i4"), ("best", ">i2"),
        ("confidence_len", ">i4"), ("confidence", ">f8"), ("answers_len", ">i4"), ("answers", ">i4"),
        ("tie_len", ">i4"), ("tie", "u1"), ("posterior_len", ">i4"), ("ndim", ">i4"), ("has_null", ">i4"),
        ("oid", ">i4"), ("dim", ">i4"), ("lbound", ">i4"), ("values", [("len", ">i4"), ("value", ">f8")], (K,)),
    ] + ([("reopen_len", ">i4"), ("reopen", "u1")] if staged else []))


def _result_rows(task_ids: np.ndarray, posteriors: np.ndarray, answer_counts: np.ndarray,
                 stage_key: tuple[int, int] | None = None, reopen: np.ndarray | None = None) -> np.ndarray:
    """The stage's binary COPY rows: the top class (the first listed on a tie), its probability, the answers,
    whether classes tie at the top, and the posterior rounded to 6 places; led by (project, chunk) and
    followed by `reopen` (all false if None) if a stage key is given."""
    n, K = posteriors.shape
    best, top = posteriors.argmax(axis=1), posteriors.max(axis=1)
    rows = np.zeros(n, dtype=_result_row(K, staged=stage_key is not None))
    rows["fields"] = 6
    if stage_key is not None:
        rows["fields"] = 9
        rows["project_len"], rows["project"] = 8, stage_key[0]
        rows["chunk_len"], rows["chunk"] = 4, stage_key[1]
        rows["reopen_len"], rows["reopen"] = 1, False if reopen is None else reopen
    rows["task_len"], rows["task"] = 8, task_ids
    rows["best_len"], rows["best"] = 2, best
    rows["confidence_len"], rows["confidence"] = 8, top
    rows["answers_len"], rows["answers"] = 4, answer_counts
    rows["tie_len"], rows["tie"] = 1, (np.isclose(posteriors, top[:, None])).sum(axis=1) > 1
    rows["posterior_len"] = 20 + 12 * K
    rows["ndim"], rows["has_null"], rows["oid"], rows["dim"], rows["lbound"] = 1, 0, FLOAT8_OID, K, 1
    rows["values"]["len"], rows["values"]["value"] = 8, posteriors.round(6)
    return rows


_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS results_bulk_stage (task_id bigint, best smallint, confidence float8, "
          "answer_count int, tie boolean, posterior float8[]) ON COMMIT DELETE ROWS")
_MERGE = """
INSERT INTO results (task_id, project_id, label, confidence, method, answer_count, tie, posterior, created_at, updated_at)
SELECT s.task_id, %(project_id)s, %(labels)s::jsonb -> s.best::int, s.confidence, %(method)s, s.answer_count, s.tie,
       to_jsonb(s.posterior), %(now)s, %(now)s
FROM results_bulk_stage s
ON CONFLICT (task_id) DO UPDATE SET label = EXCLUDED.label, confidence = EXCLUDED.confidence, method = EXCLUDED.method,
    answer_count = EXCLUDED.answer_count, tie = EXCLUDED.tie, posterior = EXCLUDED.posterior, updated_at = EXCLUDED.updated_at
"""


def _copy_rows(cursor, table: str, rows: np.ndarray) -> None:
    """Binary COPY fixed-width rows into a table, 8 MB at a time."""
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
        copy.write(HEADER)
        step = max(1, (8 << 20) // rows.itemsize)
        for at in range(0, rows.size, step):
            copy.write(rows[at:at + step].tobytes())
        copy.write(TRAILER)


def _in_task_order(task_ids: np.ndarray, *columns: np.ndarray | None):
    order = np.argsort(task_ids, kind="stable")
    return (task_ids[order],) + tuple(None if c is None else c[order] for c in columns)


def write_posteriors(dbapi, *, project_id: int, method: str, classes: list, task_ids: np.ndarray,
                     posteriors: np.ndarray, answer_counts: np.ndarray, now: datetime, progress=None) -> None:
    """Upsert a result per task from its posterior: binary COPY into a stage and a merge, a range of ids at a time.

    `progress(done, total)`, when given, is told after each merged range.
    """
    task_ids, posteriors, answer_counts = _in_task_order(task_ids, posteriors, answer_counts)
    n = task_ids.size
    labels = json.dumps(list(classes))
    with dbapi.cursor() as cursor:
        cursor.execute(_STAGE)
        for start in range(0, n, MERGE_ROWS):  # the stage holds one range at a time: each merge reads it whole
            cursor.execute("TRUNCATE results_bulk_stage")
            end = start + MERGE_ROWS  # built a range at a time: memory for one range of rows, not all
            _copy_rows(cursor, "results_bulk_stage",
                       _result_rows(task_ids[start:end], posteriors[start:end], answer_counts[start:end]))
            cursor.execute(_MERGE, {"project_id": project_id, "labels": labels, "method": method, "now": now})
            if progress is not None:
                progress(min(n, start + MERGE_ROWS), n)
        cursor.execute("TRUNCATE results_bulk_stage")


def stage_posteriors(dbapi, *, project_id: int, task_ids: np.ndarray, posteriors: np.ndarray,
                     answer_counts: np.ndarray, chunk_tasks: int, reopen: np.ndarray | None = None) -> int:
    """Stage a result per task in recompute_stage, numbered in chunks of `chunk_tasks` tasks in id order,
    with whether to reopen it once merged (`reopen`, none if None); return the number of chunks (merged
    later, one per job, by merge_staged)."""
    task_ids, posteriors, answer_counts, reopen = _in_task_order(task_ids, posteriors, answer_counts, reopen)
    chunks = -(-task_ids.size // chunk_tasks)
    with dbapi.cursor() as cursor:
        for chunk in range(chunks):
            part = slice(chunk * chunk_tasks, (chunk + 1) * chunk_tasks)
            _copy_rows(cursor, "recompute_stage",
                       _result_rows(task_ids[part], posteriors[part], answer_counts[part], stage_key=(project_id, chunk),
                                    reopen=None if reopen is None else reopen[part]))
    return chunks


# A staged result lands only if its task is still done, the result there is not a reviewer's final
# decision, and it was not written from more answers (a closing answer after the fit): the stage is
# older than the table by the time a late chunk merges.
_MERGE_STAGED = """
WITH merged AS (
    INSERT INTO results (task_id, project_id, label, confidence, method, answer_count, tie, posterior, created_at,
                         updated_at)
    SELECT s.task_id, s.project_id, %(labels)s::jsonb -> s.best::int, s.confidence, %(method)s, s.answer_count, s.tie,
           to_jsonb(s.posterior), %(now)s, %(now)s
    FROM recompute_stage s JOIN tasks t ON t.id = s.task_id AND t.status IN ('closed', 'escalated')
    WHERE s.project_id = %(project_id)s AND s.chunk = %(chunk)s
    ON CONFLICT (task_id) DO UPDATE SET label = EXCLUDED.label, confidence = EXCLUDED.confidence,
        method = EXCLUDED.method, answer_count = EXCLUDED.answer_count, tie = EXCLUDED.tie,
        posterior = EXCLUDED.posterior, updated_at = EXCLUDED.updated_at
    WHERE results.method <> %(final_method)s AND results.answer_count <= EXCLUDED.answer_count
    RETURNING results.task_id
)
SELECT count(*), coalesce(array_agg(m.task_id ORDER BY m.task_id) FILTER (WHERE s.reopen), '{}')
FROM merged m JOIN recompute_stage s ON s.project_id = %(project_id)s AND s.chunk = %(chunk)s AND s.task_id = m.task_id
"""


def merge_staged(dbapi, *, project_id: int, chunk: int, method: str, classes: list, now: datetime,
                 final_method: str) -> tuple[int, list[int]]:
    """Merge one staged chunk into results: (results written, the tasks among them staged to be reopened).
    The chunk stays staged (clear_stage drops a run's chunks once all are merged: deleting each as it
    merges would leave the next ones to find behind its dead index entries)."""
    with dbapi.cursor() as cursor:
        written, low = cursor.execute(_MERGE_STAGED, {
            "project_id": project_id, "chunk": chunk, "labels": json.dumps(list(classes)), "method": method,
            "now": now, "final_method": final_method}).fetchone()
    return written, list(low)
