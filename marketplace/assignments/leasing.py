"""Picking the next task for an annotator: race-free on PostgreSQL, plain ORM on SQLite.

PostgreSQL: a per-annotator advisory lock serialises one annotator's concurrent requests (so the
live-lease cap holds exactly), then one statement picks the first open task with a free slot that
this annotator has not had, locks it with FOR UPDATE SKIP LOCKED, inserts the assignment
(ON CONFLICT DO NOTHING backs up the unique key) and bumps the task's slot counter only if the
insert happened. The scan starts after the last task this annotator was given in the project, so an
annotator with 10,000 answers does not re-check them on every lease; it wraps around once at the end.

Gold tasks (status 'gold') sit outside that scan: with probability `gold_rate` the lease first
tries a gold task the annotator has not seen; gold has no slots, so nothing is locked or counted.
SQLite (the embedded demo) has one writer at a time, so the same rules in plain queries are safe.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from marketplace.assignments.models import LEASED, Assignment
from marketplace.db import is_postgres
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.quality.models import AnnotatorStats
from marketplace.tasks.models import GOLD, OPEN, Task


@dataclass(frozen=True)
class Lease:
    assignment_id: int
    project_id: int
    annotator_id: int
    task_id: int
    task_data: dict
    leased_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Standing:
    """The annotator's state in the project, read with the lease lock."""

    position: int
    blocked_reason: str | None
    answers: int


# One round trip: take the annotator's lock and read their standing in the project. The position is
# only where the scan starts and the rest is re-checked by the statements that follow, so reading
# them from a snapshot taken just before the lock is harmless.
_PG_LOCK_AND_STANDING = text("""
SELECT pg_advisory_xact_lock(:lock_key)::text,
       (SELECT coalesce(max(task_id), 0) FROM assignments
        WHERE annotator_id = :annotator_id AND project_id = :project_id AND NOT is_gold) AS position,
       s.blocked, s.blocked_reason, coalesce(s.answers, 0) AS answers
FROM (SELECT 1) AS one
LEFT JOIN annotator_stats s ON s.annotator_id = :annotator_id AND s.project_id = :project_id
""")

_LIVE_UNDER_CAP = """(SELECT count(*) FROM assignments l
           WHERE l.annotator_id = :annotator_id AND l.project_id = :project_id AND l.status = 'leased') < :cap"""

_PG_LEASE = """
WITH picked AS (
    SELECT t.id FROM tasks t
    WHERE t.project_id = :project_id AND t.status = 'open' AND t.slots_taken < :answers_per_task
      AND t.id {direction} :after
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.annotator_id = :annotator_id)
      AND """ + _LIVE_UNDER_CAP + """
    ORDER BY t.id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
), inserted AS (
    INSERT INTO assignments (task_id, project_id, annotator_id, status, leased_at, expires_at, is_gold)
    SELECT id, :project_id, :annotator_id, 'leased', :now, :expires_at, false FROM picked
    ON CONFLICT (task_id, annotator_id) DO NOTHING
    RETURNING id, task_id
), bumped AS (
    UPDATE tasks SET slots_taken = tasks.slots_taken + 1
    FROM inserted WHERE tasks.id = inserted.task_id
    RETURNING tasks.id, tasks.data
)
SELECT inserted.id, inserted.task_id, bumped.data FROM inserted JOIN bumped ON bumped.id = inserted.task_id
"""
_PG_FORWARD = text(_PG_LEASE.format(direction=">"))
_PG_WRAPPED = text(_PG_LEASE.format(direction="<="))

_PG_GOLD = text("""
WITH picked AS (
    SELECT t.id, t.data FROM tasks t
    WHERE t.project_id = :project_id AND t.status = 'gold'
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.annotator_id = :annotator_id)
      AND """ + _LIVE_UNDER_CAP + """
    ORDER BY t.id
    LIMIT 1
), inserted AS (
    INSERT INTO assignments (task_id, project_id, annotator_id, status, leased_at, expires_at, is_gold)
    SELECT id, :project_id, :annotator_id, 'leased', :now, :expires_at, true FROM picked
    ON CONFLICT (task_id, annotator_id) DO NOTHING
    RETURNING id, task_id
)
SELECT inserted.id, inserted.task_id, picked.data FROM inserted JOIN picked ON picked.id = inserted.task_id
""")

# Advisory lock keys of "one annotator's lease requests": this namespace in the top bits, the id below.
LEASE_LOCK_SPACE = 1 << 48


def standing(*, project: Project, annotator_id: int) -> Standing:
    """Take the annotator's lease lock (PostgreSQL) and read their standing in the project."""
    if is_postgres():
        row = db.session.execute(
            _PG_LOCK_AND_STANDING,
            {"lock_key": LEASE_LOCK_SPACE | annotator_id, "annotator_id": annotator_id, "project_id": project.id},
        ).one()
        return Standing(row.position, row.blocked_reason if row.blocked else None, row.answers)
    stats = db.session.get(AnnotatorStats, (annotator_id, project.id))
    blocked = stats.blocked_reason if stats is not None and stats.blocked else None
    return Standing(0, blocked, stats.answers if stats is not None else 0)


def lease(*, project: Project, annotator_id: int, position: int, now: datetime, gold_first: bool) -> Lease | None:
    """Lease a task of the project to the annotator (a gold one first if asked), or None."""
    expires_at = now + timedelta(seconds=project.assignment_duration_s)
    params = {
        "project_id": project.id,
        "annotator_id": annotator_id,
        "answers_per_task": project.answers_per_task,
        "cap": project.max_leases_per_annotator,
        "now": now,
        "expires_at": expires_at,
        "after": position,
    }
    if is_postgres():
        row = db.session.execute(_PG_GOLD, params).first() if gold_first else None
        if row is None:
            row = db.session.execute(_PG_FORWARD, params).first()
        if row is None and position > 0:
            row = db.session.execute(_PG_WRAPPED, params).first()
        return None if row is None else Lease(row.id, project.id, annotator_id, row.task_id, row.data, now, expires_at)
    return _lease_portable(project, annotator_id, now, expires_at, gold_first)


def _lease_portable(project: Project, annotator_id: int, now: datetime, expires_at: datetime, gold_first: bool) -> Lease | None:
    if live_leases(project_id=project.id, annotator_id=annotator_id) >= project.max_leases_per_annotator:
        return None
    had = select(Assignment.id).where(Assignment.task_id == Task.id, Assignment.annotator_id == annotator_id)
    unseen = select(Task).where(Task.project_id == project.id, ~had.exists()).order_by(Task.id).limit(1)
    task = db.session.scalar(unseen.where(Task.status == GOLD)) if gold_first else None
    if task is None:
        task = db.session.scalar(unseen.where(Task.status == OPEN, Task.slots_taken < project.answers_per_task))
    if task is None:
        return None
    is_gold = task.status == GOLD
    assignment = Assignment(
        task_id=task.id, project_id=project.id, annotator_id=annotator_id, status=LEASED,
        leased_at=now, expires_at=expires_at, is_gold=is_gold,
    )
    db.session.add(assignment)
    if not is_gold:
        task.slots_taken += 1
    db.session.flush()
    return Lease(assignment.id, project.id, annotator_id, task.id, task.data, now, expires_at)


def live_leases(*, project_id: int, annotator_id: int) -> int:
    """Count the annotator's live leases in a project."""
    return db.session.scalar(
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.annotator_id == annotator_id, Assignment.project_id == project_id, Assignment.status == LEASED)
    )
