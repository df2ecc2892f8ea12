"""Writes to the tasks table that other features' statements share, and the bulk insert, per dialect.

The tasks table belongs to this feature: the lease statement takes a slot (TAKE_SLOT) and the
submit statement counts an answer (COUNT_ANSWER) with the steps below, and the portable twins do
the same on SQLite.
"""
import json
from typing import NamedTuple

import orjson
import psycopg
from sqlalchemy import String, any_, bindparam, case, false, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from marketplace.db import core, is_postgres, utcnow
from marketplace.extensions import db
from marketplace.tasks.models import CLOSED, ESCALATED, GOLD, OPEN, Task

IMPORT_CHUNK = 2_000

_PG_INSERT = text("""
INSERT INTO tasks (project_id, external_id, data, status, gold_answer, gold_explanation, slots_taken, slot_limit,
                   answer_count, created_at, prediction, model_version, uncertainty)
SELECT :project_id, u.external_id, u.data::jsonb, CASE WHEN u.gold IS NULL THEN 'open' ELSE 'gold' END,
       u.gold::jsonb, u.explanation, 0, :slot_limit, 0, :now, u.prediction::jsonb, u.model_version, u.uncertainty
FROM unnest(CAST(:external_ids AS text[]), CAST(:datas AS text[]), CAST(:golds AS text[]),
            CAST(:explanations AS text[]), CAST(:predictions AS text[]), CAST(:model_versions AS text[]),
            CAST(:uncertainties AS float8[]))
     AS u(external_id, data, gold, explanation, prediction, model_version, uncertainty)
ON CONFLICT (project_id, external_id) DO NOTHING
RETURNING external_id, id, status
""")


# Batches of at least this many rows go through COPY (no per-element escaping of parameter arrays in the
# driver, which costs ~50 us a row at 10,000 rows): straight into tasks when none of the ids is there yet,
# else into a session temporary table and from it with the same INSERT ... ON CONFLICT, in file order.
COPY_MIN_ROWS = 500
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# A copy line's own columns, in order; project_id, slot_limit, created_at, slots_taken and answer_count
# are the batch's and go in front of each line.
_COPY_TASKS = ("COPY tasks (project_id, slot_limit, created_at, slots_taken, answer_count, external_id, status, data, "
               "gold_answer, gold_explanation, prediction, model_version, uncertainty) FROM STDIN")
_STAGE = ("CREATE TEMP TABLE IF NOT EXISTS task_import_stage (ord integer, external_id text, status text, data text, "
          "gold text, explanation text, prediction text, model_version text, uncertainty float8)")
_FROM_STAGE = """
INSERT INTO tasks (project_id, external_id, data, status, gold_answer, gold_explanation, slots_taken, slot_limit,
                   answer_count, created_at, prediction, model_version, uncertainty)
SELECT %(project_id)s, s.external_id, s.data::jsonb, s.status, s.gold::jsonb, s.explanation, 0, %(slot_limit)s, 0,
       %(now)s, s.prediction::jsonb, s.model_version, s.uncertainty
FROM task_import_stage s ORDER BY s.ord
ON CONFLICT (project_id, external_id) DO NOTHING
RETURNING external_id, id, status
"""


class Inserted(NamedTuple):
    """What a batch insert did: how many rows went in, the ids already in the project, the new gold tasks' ids."""

    created: int
    duplicates: list[str]
    gold: dict[str, int]  # external id -> task id


def insert_new(project_id: int, items: list[dict], slot_limit: int, copy_lines: list[str] | None = None) -> Inserted:
    """Insert the rows whose external id is new; the others are reported as duplicates.

    On PostgreSQL a small batch is one INSERT ... SELECT FROM unnest(arrays): a handful of parameters
    however many rows, where a multi-row VALUES list makes the driver parse tens of thousands of
    placeholders; from COPY_MIN_ROWS rows, the rows are COPYed (see above).
    `copy_lines`: copy_lines_of(items), made ahead of time (an import job's parser thread does).
    """
    if is_postgres() and len(items) >= COPY_MIN_ROWS:
        lines = copy_lines or copy_lines_of(items)
        return (_copy_straight(project_id, items, lines, slot_limit)
                or _inserted(items, _insert_by_staging(project_id, lines, slot_limit)))
    if is_postgres():
        dumps = json.dumps
        rows = core(_PG_INSERT, {
            "project_id": project_id, "now": utcnow(), "slot_limit": slot_limit,
            "external_ids": [item["external_id"] for item in items],
            "datas": [dumps(item["data"]) for item in items],
            "golds": [None if item["gold_answer"] is None else dumps(item["gold_answer"]) for item in items],
            "explanations": [item["gold_explanation"] for item in items],
            "predictions": [None if item["prediction"] is None else dumps(item["prediction"]) for item in items],
            "model_versions": [item["model_version"] for item in items],
            "uncertainties": [uncertainty(item["prediction"]) for item in items],
        })
        return _inserted(items, rows)
    table = Task.__table__
    stmt = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=["project_id", "external_id"])
        .returning(table.c.external_id, table.c.id, table.c.status)
    )
    now = utcnow()
    rows = []
    for start in range(0, len(items), IMPORT_CHUNK):
        chunk = [
            {"project_id": project_id, "external_id": item["external_id"], "data": item["data"],
             "status": OPEN if item["gold_answer"] is None else GOLD, "gold_answer": item["gold_answer"],
             "gold_explanation": item["gold_explanation"], "slots_taken": 0, "slot_limit": slot_limit,
             "answer_count": 0, "created_at": now, "prediction": item["prediction"],
             "model_version": item["model_version"], "uncertainty": uncertainty(item["prediction"])}
            for item in items[start:start + IMPORT_CHUNK]
        ]
        rows.extend(db.session.execute(stmt, chunk))
    return _inserted(items, rows)


def _inserted(items: list[dict], rows) -> Inserted:
    """Inserted from the (external_id, id, status) rows an INSERT ... ON CONFLICT DO NOTHING returned."""
    created, gold = set(), {}
    for external_id, task_id, status in rows:
        created.add(external_id)
        if status == GOLD:
            gold[external_id] = task_id
    duplicates = sorted({item["external_id"] for item in items} - created)
    return Inserted(len(created), duplicates, gold)


def _copy_text(value: str | None) -> str:
    """A value in COPY's text format: \\N for NULL; backslash, tab, newline and carriage return escaped."""
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _copy_json(value) -> str:
    """A JSON value in COPY's text format (JSON escapes control characters; backslashes remain)."""
    if value is None:
        return "\\N"
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits (the sync path's JSON keeps up to inputs.MAX_INT_DIGITS digits)
        text = json.dumps(value)
    return text.replace("\\", "\\\\") if "\\" in text else text


def copy_lines_of(items: list[dict]) -> list[str]:
    """The rows' own columns as COPY text lines (no database work: they can be made ahead, in a thread)."""
    lines = []
    for item in items:
        certainty = uncertainty(item["prediction"])
        lines.append("\t".join((_copy_text(item["external_id"]), OPEN if item["gold_answer"] is None else GOLD,
                                 _copy_json(item["data"]), _copy_json(item["gold_answer"]),
                                 _copy_text(item["gold_explanation"]), _copy_json(item["prediction"]),
                                 _copy_text(item["model_version"]), "\\N" if certainty is None else repr(certainty))))
    return lines


def _copy_straight(project_id: int, items: list[dict], lines: list[str], slot_limit: int) -> Inserted | None:
    """COPY the rows into tasks, in file order; None, with nothing inserted, when an id is already in the project.

    A fresh import's rows are all new: COPY skips the staging table, the sort and the speculative
    inserts of ON CONFLICT, and returns no rows to fetch. A savepoint takes back a COPY that hit
    an existing id (it stops there), and the staging path sorts out which rows are new.
    """
    prefix = f"{project_id}\t{slot_limit}\t{utcnow().isoformat()}\t0\t0\t"
    try:
        with db.session.begin_nested():  # the SAVEPOINT is sent when the connection is asked for inside
            with db.session.connection().connection.dbapi_connection.cursor() as cursor, cursor.copy(_COPY_TASKS) as copy:
                copy.write("".join([f"{prefix}{line}\n" for line in lines]).encode())
    except psycopg.errors.UniqueViolation:
        return None
    gold_ids = [item["external_id"] for item in items if item["gold_answer"] is not None]
    gold = dict(db.session.execute(select(Task.external_id, Task.id).where(
        Task.project_id == project_id, Task.external_id == any_(bindparam("ids", gold_ids, type_=ARRAY(String)))
    )).all()) if gold_ids else {}
    return Inserted(len(lines), [], gold)


def _insert_by_staging(project_id: int, lines: list[str], slot_limit: int) -> list[tuple]:
    dbapi = db.session.connection().connection.dbapi_connection
    with dbapi.cursor() as cursor:
        cursor.execute(_STAGE)
        cursor.execute("TRUNCATE task_import_stage")  # rows of an earlier batch in this transaction
        with cursor.copy("COPY task_import_stage FROM STDIN") as copy:
            copy.write("".join([f"{i}\t{line}\n" for i, line in enumerate(lines)]).encode())
        cursor.execute(_FROM_STAGE, {"project_id": project_id, "slot_limit": slot_limit, "now": utcnow()})
        return cursor.fetchall()


def uncertainty(prediction: list[float] | None) -> float | None:
    """How unsure a model prediction is: 1 - its top probability (None without one)."""
    return None if prediction is None else round(1.0 - max(prediction), 6)


# The lease statement's step that takes a slot on the task it inserted an assignment for (`inserted`).
TAKE_SLOT = """bumped AS (
    UPDATE tasks SET slots_taken = tasks.slots_taken + 1
    FROM inserted WHERE tasks.id = inserted.task_id
    RETURNING tasks.id, tasks.data, tasks.rework_note, tasks.prediction
)"""


def take_slot(task_id: int) -> None:
    """TAKE_SLOT for the portable lease."""
    db.session.execute(update(Task).where(Task.id == task_id).values(slots_taken=Task.slots_taken + 1)
                       .execution_options(synchronize_session=False))


def give_back_slot(task_id: int, skipped: bool = False) -> None:
    """A lease ended without an answer: its slot is free again (and a skip is counted on the task)."""
    values = {"slots_taken": Task.slots_taken - 1}
    if skipped:
        values["skip_count"] = Task.skip_count + 1
    db.session.execute(update(Task).where(Task.id == task_id).values(**values))


def count_skip(task_id: int) -> None:
    """A gold task was skipped: counted, with no slot to give back."""
    db.session.execute(update(Task).where(Task.id == task_id).values(skip_count=Task.skip_count + 1))


# The submit statement's step that counts the answer on its task (`done` returned its task_id),
# closing a fixed-redundancy task when it is full. Parameters: :fixed, :is_gold, :now.
COUNT_ANSWER = """counted AS (
    UPDATE tasks SET answer_count = tasks.answer_count + 1,
           status = CASE WHEN :fixed AND tasks.answer_count + 1 >= tasks.slot_limit THEN 'closed' ELSE tasks.status END,
           closed_at = CASE WHEN :fixed AND tasks.answer_count + 1 >= tasks.slot_limit THEN :now ELSE tasks.closed_at END
    FROM done WHERE tasks.id = done.task_id AND NOT :is_gold
    RETURNING tasks.status
)"""


def count_answer(*, task_id: int, fixed: bool, now) -> str:
    """COUNT_ANSWER for the portable submit path; return the task's status after it."""
    full = (Task.answer_count + 1 >= Task.slot_limit) if fixed else false()
    return db.session.execute(
        update(Task)
        .where(Task.id == task_id)
        .values(answer_count=Task.answer_count + 1, status=case((full, CLOSED), else_=Task.status),
                closed_at=case((full, now), else_=Task.closed_at))
        .returning(Task.status)
    ).scalar_one()


def give_back_slots(per_task: dict[int, int]) -> None:
    """Leases that ended without an answer (expired) free their slots again: {task id: how many}."""
    for task_id, count in sorted(per_task.items()):
        db.session.execute(update(Task).where(Task.id == task_id).values(slots_taken=Task.slots_taken - count))


def reset_slot_limits(*, project_id: int, slot_limit: int) -> None:
    """Unanswered open tasks start from the project's current redundancy (at publish)."""
    db.session.execute(
        update(Task).where(Task.project_id == project_id, Task.status == OPEN, Task.answer_count == 0)
        .values(slot_limit=slot_limit).execution_options(synchronize_session=False)
    )


def unstamped_ids(*, project_id: int, limit: int) -> list[int]:
    """Up to `limit` of the project's tasks not yet in an experiment arm, by id."""
    return list(db.session.scalars(select(Task.id).where(Task.project_id == project_id, Task.arm_id.is_(None))
                                   .order_by(Task.id).limit(limit)))


def stamp_arm(*, task_ids: list[int], arm_id: int) -> None:
    """Put tasks in an experiment arm."""
    db.session.execute(update(Task).where(Task.id.in_(task_ids)).values(arm_id=arm_id)
                       .execution_options(synchronize_session=False))


def clear_arms(*, project_id: int, arm_ids: list[int]) -> None:
    """Take tasks out of a stopped experiment's arms (the answers keep theirs), so a later one can stamp them."""
    db.session.execute(update(Task).where(Task.project_id == project_id, Task.arm_id.in_(arm_ids))
                       .values(arm_id=None).execution_options(synchronize_session=False))


def set_fresh_slot_limits(*, project_id: int, arm_ids: list[int], slot_limit: int) -> None:
    """Tasks of these arms that nobody has leased yet ask for `slot_limit` answers."""
    db.session.execute(update(Task).where(Task.project_id == project_id, Task.arm_id.in_(arm_ids),
                                          Task.slots_taken == 0, Task.answer_count == 0)
                       .values(slot_limit=slot_limit).execution_options(synchronize_session=False))


def reopen_for_more(*, task_ids: list[int], max_answers: int) -> list[int]:
    """Give closed tasks one more slot (within max_answers) and open them again; return those reopened."""
    return list(db.session.execute(
        update(Task).where(Task.id.in_(task_ids), Task.status == CLOSED, Task.answer_count < max_answers)
        .values(status=OPEN, closed_at=None, slot_limit=Task.answer_count + 1)
        .returning(Task.id)
    ).scalars())


def take_back_answers(per_task: dict[int, int]) -> None:
    """Rejected answers come off their tasks: each frees its slot, and a closed task opens again."""
    for task_id, count in sorted(per_task.items()):
        db.session.execute(
            update(Task).where(Task.id == task_id)
            .values(answer_count=Task.answer_count - count, slots_taken=Task.slots_taken - count,
                    status=case((Task.status == CLOSED, OPEN), else_=Task.status), closed_at=None)
            .execution_options(synchronize_session=False)
        )


def reopen_superseded(per_task: dict[int, int], *, slots: int) -> None:
    """Answers given under replaced instructions come off their tasks, which get `slots` fresh slots each."""
    for task_id, count in sorted(per_task.items()):
        db.session.execute(
            update(Task).where(Task.id == task_id)
            .values(answer_count=Task.answer_count - count, slots_taken=Task.slots_taken - count,
                    slot_limit=Task.slots_taken - count + slots, closed_at=None, status=OPEN)
            .where(Task.status.in_((OPEN, CLOSED, ESCALATED)))
            .execution_options(synchronize_session=False)
        )


def close(task, *, escalate: bool, now) -> None:
    """The policy is done with a task: closed with its label, or escalated to review (task locked by the caller)."""
    task.status, task.closed_at = (ESCALATED if escalate else CLOSED), now


def ask_one_more(task, answers: int) -> None:
    """The policy wants one more answer on a task holding `answers`: make room for it."""
    if task.slot_limit <= answers:
        task.slot_limit = answers + 1


def set_uncertainty(task, value: float) -> None:
    """1 - the task's top posterior, which active ordering hands out first."""
    task.uncertainty = round(float(value), 6)


def close_reviewed(task, now) -> None:
    """A reviewer decided the task."""
    task.status, task.closed_at = CLOSED, now


def send_back(task, note: str) -> None:
    """A reviewer returns the task for one more answer, with a note for the next annotators."""
    task.status, task.closed_at, task.rework_note = OPEN, None, note
    task.slot_limit = max(task.slot_limit, task.answer_count + 1)


def queue_for_review(task) -> None:
    """The requester sends a closed task to the review stage."""
    task.status = ESCALATED
