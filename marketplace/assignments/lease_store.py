"""Picking the next task for an annotator, per dialect: race-free on PostgreSQL, plain ORM on SQLite.

PostgreSQL: a per-annotator advisory lock serialises one annotator's concurrent requests (so the
live-lease cap holds exactly), then one statement picks the first open task with a free slot (fewer
live leases plus answers than its slot_limit) that
this annotator has not had, locks it with FOR UPDATE SKIP LOCKED, inserts the assignment
(ON CONFLICT DO NOTHING backs up the unique key) and bumps the task's slot counter only if the
insert happened. The scan starts after the last task this annotator was given in the project, so an
annotator with 10,000 answers does not re-check them on every lease; it wraps around once at the end.

Gold tasks (status 'gold') sit outside that scan: with probability `gold_rate` the lease first
tries a gold task the annotator has not seen; gold has no slots, so nothing is locked or counted.
Each annotator gets gold in their own secret order (pseudonyms.gold_order_key), never by task id:
an order everyone shared would let accounts compare notes and list the gold.
SQLite (the embedded demo) has one writer at a time, so the same rules in plain queries are safe.
The lease statement reserves the answer's cost on a lane of the project's escrow with the ledger's
HOLD_ANSWER step (recording the lane on the assignment) and takes the
task's slot with tasks' TAKE_SLOT; the portable path calls their twins. The rules around a lease
(caps, eligibility, qualification) are in services.py.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select

from marketplace import pseudonyms
from marketplace.assignments.models import LEASED, Assignment
from marketplace.db import is_postgres, pg_one, pg_sql
from marketplace.extensions import db
from marketplace.ledger import store as ledger_store
from marketplace.payments import escrow
from marketplace.projects.models import Project
from marketplace.quality.models import AnnotatorStats
from marketplace.tasks import store as tasks_store
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
    guideline_version: int
    note: str | None = None
    prelabel: list | None = None
    reward_cents: int | None = None  # what this answer pays (a team's or an arm's reward, else the project's)


@dataclass(frozen=True)
class LeaseTerms:
    """What a team or an experiment arm changes about one lease (None: the project's own)."""

    reward_cents: int | None = None
    team_id: int | None = None
    arm_id: int | None = None
    task_arm_id: int | None = None  # the arm whose tasks to lease from (an experiment by task)


@dataclass(frozen=True)
class LeaseContext:
    """What a lease needs of the project and of the annotator's standing in it, read in one round trip."""

    project_id: int
    status: str
    answers_per_task: int
    max_leases_per_annotator: int
    max_answers_per_annotator: int | None
    assignment_duration_s: int
    gold_rate: float
    gold_count: int
    requirements: dict
    guideline_version: int
    requalify_after: datetime | None
    active_ordering: bool
    show_prelabels: bool
    position: int
    blocked_reason: str | None
    answers: int
    # Money: what one answer costs (reward + fee), and the currency of the project's escrow.
    answer_cost: int = 0
    currency: str = "usd"
    # Who may work (teams/workforce.py) and the running experiment; the project's reward and fee.
    workforce: dict | None = None
    published_at: datetime | None = None
    experiment: dict | None = None
    reward_cents: int = 0
    fee_bps: int = 0
    # This lease's terms when a team or an arm changes them (services.lease_next_task sets them).
    terms: LeaseTerms | None = None


_PG_CONTEXT = pg_sql("""
SELECT p.id, p.status, p.answers_per_task, p.max_leases_per_annotator, p.max_answers_per_annotator,
       p.assignment_duration_s, p.gold_rate, p.gold_count, p.requirements, p.guideline_version, p.requalify_after,
       p.active_ordering, p.show_prelabels, p.reward_cents, p.fee_bps, p.workforce, p.published_at, p.experiment,
       p.currency,
       (SELECT coalesce(max(a.task_id), 0) FROM assignments a
        WHERE a.annotator_id = :annotator_id AND a.project_id = :project_id AND NOT a.is_gold) AS position,
       s.blocked, s.blocked_reason, coalesce(s.answers, 0) AS answers,
       pg_advisory_xact_lock(:lock_key)::text AS locked
FROM projects p
LEFT JOIN annotator_stats s ON s.project_id = p.id AND s.annotator_id = :annotator_id
WHERE p.id = :project_id
""")


def _portable_context_query(project_id: int, annotator_id: int):
    position = (
        select(func.coalesce(func.max(Assignment.task_id), 0))
        .where(Assignment.annotator_id == annotator_id, Assignment.project_id == project_id, ~Assignment.is_gold)
        .scalar_subquery()
    )
    return (
        select(
            Project.id, Project.status, Project.answers_per_task, Project.max_leases_per_annotator,
            Project.max_answers_per_annotator, Project.assignment_duration_s, Project.gold_rate, Project.gold_count,
            Project.requirements, Project.guideline_version, Project.requalify_after, Project.active_ordering,
            Project.show_prelabels, Project.reward_cents, Project.fee_bps, Project.workforce, Project.published_at,
            Project.experiment, Project.currency, position.label("position"),
            AnnotatorStats.blocked, AnnotatorStats.blocked_reason,
            func.coalesce(AnnotatorStats.answers, 0).label("answers"),
        )
        .outerjoin(AnnotatorStats, (AnnotatorStats.project_id == Project.id) & (AnnotatorStats.annotator_id == annotator_id))
        .where(Project.id == project_id)
    )


def context(*, project_id: int, annotator_id: int) -> LeaseContext | None:
    """Read the lease context, and on PostgreSQL take the annotator's lease lock; None if no such project.

    The position is only where the scan starts and the rest is re-checked by the statements that
    follow, so reading them from a snapshot taken just before the lock is harmless.
    """
    if is_postgres():
        params = {"project_id": project_id, "annotator_id": annotator_id, "lock_key": LEASE_LOCK_SPACE | annotator_id}
        row = pg_one(_PG_CONTEXT, params)
    else:
        row = db.session.execute(_portable_context_query(project_id, annotator_id)).first()
    if row is None:
        return None
    return LeaseContext(
        row.id, row.status, row.answers_per_task, row.max_leases_per_annotator, row.max_answers_per_annotator,
        row.assignment_duration_s, row.gold_rate, row.gold_count, row.requirements or {}, row.guideline_version,
        row.requalify_after, row.active_ordering, row.show_prelabels, row.position,
        row.blocked_reason if row.blocked else None, row.answers,
        row.reward_cents + escrow.fee_cents(row.reward_cents, row.fee_bps), row.currency,
        row.workforce or {}, row.published_at, row.experiment, row.reward_cents, row.fee_bps,
    )


# A lease past its deadline no longer counts against the cap, even before the sweep marks it expired.
_LIVE_UNDER_CAP = """(SELECT count(*) FROM assignments l
           WHERE l.annotator_id = :annotator_id AND l.project_id = :project_id AND l.status = 'leased'
             AND l.expires_at > :now) < :cap"""

_PG_LEASE = """
WITH picked AS (
    SELECT t.id FROM tasks t
    WHERE t.project_id = :project_id AND t.status = 'open' AND t.slots_taken < t.slot_limit
      {after} {arm}
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.annotator_id = :annotator_id)
      AND """ + _LIVE_UNDER_CAP + """
    ORDER BY {order}
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
), """ + ledger_store.HOLD_ANSWER + """, inserted AS (
    INSERT INTO assignments (task_id, project_id, annotator_id, status, leased_at, expires_at, is_gold,
                             guideline_version, reward_cents, team_id, arm_id, escrow_lane)
    SELECT id, :project_id, :annotator_id, 'leased', :now, :expires_at, false, :guideline_version,
           :reward_cents, :team_id, :arm_id, """ + ledger_store.HELD_LANE + """ FROM picked
    WHERE """ + ledger_store.FUNDED + """
    ON CONFLICT (task_id, annotator_id) DO NOTHING
    RETURNING id, task_id
), """ + tasks_store.TAKE_SLOT + """
SELECT inserted.id, inserted.task_id, bumped.data, bumped.rework_note, bumped.prediction
FROM inserted JOIN bumped ON bumped.id = inserted.task_id
"""
# Each statement in two forms: any task, or only the tasks of one experiment arm (an experiment by task).
_ARM = {False: "", True: "AND t.arm_id = :task_arm_id"}
_PG_FORWARD = {a: pg_sql(_PG_LEASE.format(after="AND t.id > :after", order="t.id", arm=_ARM[a])) for a in _ARM}
_PG_WRAPPED = {a: pg_sql(_PG_LEASE.format(after="AND t.id <= :after", order="t.id", arm=_ARM[a])) for a in _ARM}
# Active ordering: the most uncertain open task first (model prediction, then the running posterior).
_PG_ACTIVE = {a: pg_sql(_PG_LEASE.format(after="", order="t.uncertainty DESC NULLS LAST, t.id", arm=_ARM[a]))
              for a in _ARM}

_PG_GOLD_TEMPLATE = """
WITH picked AS (
    SELECT t.id, t.data, t.rework_note, t.prediction FROM tasks t
    WHERE t.project_id = :project_id AND t.status = 'gold' {arm}
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.annotator_id = :annotator_id)
      AND """ + _LIVE_UNDER_CAP + """
    ORDER BY md5(:gold_key || t.id::text), t.id
    LIMIT 1
), """ + ledger_store.HOLD_ANSWER + """, inserted AS (
    INSERT INTO assignments (task_id, project_id, annotator_id, status, leased_at, expires_at, is_gold,
                             guideline_version, reward_cents, team_id, arm_id, escrow_lane)
    SELECT id, :project_id, :annotator_id, 'leased', :now, :expires_at, true, :guideline_version,
           :reward_cents, :team_id, :arm_id, """ + ledger_store.HELD_LANE + """ FROM picked
    WHERE """ + ledger_store.FUNDED + """
    ON CONFLICT (task_id, annotator_id) DO NOTHING
    RETURNING id, task_id
)
SELECT inserted.id, inserted.task_id, picked.data, picked.rework_note, picked.prediction
FROM inserted JOIN picked ON picked.id = inserted.task_id
"""
_PG_GOLD = {a: pg_sql(_PG_GOLD_TEMPLATE.format(arm=_ARM[a])) for a in _ARM}

# Gold is handed out only when ordinary work is there too: otherwise "a lease succeeded" would mean "gold".
# Looked for where the ordinary lease looks, after the annotator's position first: the tasks before it
# are mostly ones they had, and an annotator with 10,000 answers took 1.7 ms to skip them on every gold
# draw. The second EXISTS (the wrap-around) runs only when the first finds nothing.
_ORDINARY_TASK = """EXISTS (
    SELECT 1 FROM tasks t
    WHERE t.project_id = :project_id AND t.status = 'open' AND t.slots_taken < t.slot_limit AND t.id {side} :after
      AND (CAST(:task_arm_id AS bigint) IS NULL OR t.arm_id = :task_arm_id)
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.annotator_id = :annotator_id)
)"""
_PG_ORDINARY_LEFT = pg_sql(f"SELECT {_ORDINARY_TASK.format(side='>')} OR {_ORDINARY_TASK.format(side='<=')} AS left")

# Advisory lock keys of "one annotator's lease requests": this namespace in the top bits, the id below.
LEASE_LOCK_SPACE = 1 << 48


def lease(*, project: LeaseContext, annotator_id: int, now: datetime, gold_first: bool) -> Lease | None:
    """Lease a task of the project to the annotator (a gold one first if asked), or None."""
    expires_at = now + timedelta(seconds=project.assignment_duration_s)
    position = project.position
    terms = project.terms or LeaseTerms()
    by_arm = terms.task_arm_id is not None
    params = {
        "project_id": project.project_id,
        "annotator_id": annotator_id,
        "cap": project.max_leases_per_annotator,
        "now": now,
        "expires_at": expires_at,
        "after": position,
        "guideline_version": project.guideline_version,
        "cost": project.answer_cost,
        "currency": project.currency,
        "lane": escrow.lane_of(annotator_id),
        "reward_cents": terms.reward_cents,
        "team_id": terms.team_id,
        "arm_id": terms.arm_id,
        "task_arm_id": terms.task_arm_id,
    }
    if is_postgres():
        if gold_first and not pg_one(_PG_ORDINARY_LEFT, params).left:
            return None
        gold_key = pseudonyms.gold_order_key(annotator_id)
        row = pg_one(_PG_GOLD[by_arm], {**params, "gold_key": gold_key}) if gold_first else None
        if row is None and project.active_ordering:
            row = pg_one(_PG_ACTIVE[by_arm], params)
        elif row is None:
            row = pg_one(_PG_FORWARD[by_arm], params)
            if row is None and position > 0:
                row = pg_one(_PG_WRAPPED[by_arm], params)
        if row is None:
            return None
        return Lease(row.id, project.project_id, annotator_id, row.task_id, row.data, now, expires_at,
                     project.guideline_version, row.rework_note, row.prediction if project.show_prelabels else None,
                     _paid(project, terms))
    return _lease_portable(project, annotator_id, now, expires_at, gold_first)


def _lease_portable(project: LeaseContext, annotator_id: int, now: datetime, expires_at: datetime, gold_first: bool) -> Lease | None:
    if live_leases(project_id=project.project_id, annotator_id=annotator_id, now=now) >= project.max_leases_per_annotator:
        return None
    had = select(Assignment.id).where(Assignment.task_id == Task.id, Assignment.annotator_id == annotator_id)
    order = (Task.uncertainty.desc().nulls_last(), Task.id) if project.active_ordering else (Task.id,)
    terms = project.terms or LeaseTerms()
    unseen = select(Task).where(Task.project_id == project.project_id, ~had.exists()).order_by(*order).limit(1)
    if terms.task_arm_id is not None:
        unseen = unseen.where(Task.arm_id == terms.task_arm_id)
    ordinary = unseen.where(Task.status == OPEN, Task.slots_taken < Task.slot_limit)
    if gold_first and db.session.scalar(ordinary) is None:
        return None  # gold only beside ordinary work, never instead of it
    task = _first_unseen_gold(project.project_id, annotator_id, had, terms.task_arm_id) if gold_first else None
    if task is None:
        task = db.session.scalar(ordinary)
    if task is None:
        return None
    lane = ledger_store.hold_answer(project_id=project.project_id, currency=project.currency,
                                    lane=escrow.lane_of(annotator_id), cost=project.answer_cost)
    if lane is None:
        return None
    is_gold = task.status == GOLD
    assignment = Assignment(
        task_id=task.id, project_id=project.project_id, annotator_id=annotator_id, status=LEASED,
        leased_at=now, expires_at=expires_at, is_gold=is_gold, guideline_version=project.guideline_version,
        reward_cents=terms.reward_cents, team_id=terms.team_id, arm_id=terms.arm_id, escrow_lane=lane,
    )
    db.session.add(assignment)
    db.session.flush()
    if not is_gold:
        tasks_store.take_slot(task.id)
    return Lease(assignment.id, project.project_id, annotator_id, task.id, task.data, now, expires_at,
                 project.guideline_version, task.rework_note, task.prediction if project.show_prelabels else None,
                 _paid(project, terms))


def _paid(project: LeaseContext, terms: LeaseTerms) -> int:
    return project.reward_cents if terms.reward_cents is None else terms.reward_cents


def _first_unseen_gold(project_id: int, annotator_id: int, had, task_arm_id: int | None) -> Task | None:
    """The unseen gold task first in this annotator's order (the PostgreSQL statement's ORDER BY, in Python)."""
    query = select(Task.id).where(Task.project_id == project_id, Task.status == GOLD, ~had.exists())
    ids = db.session.scalars(query if task_arm_id is None else query.where(Task.arm_id == task_arm_id))
    key = pseudonyms.gold_order_key(annotator_id)
    first = min(ids, key=lambda task_id: (pseudonyms.gold_rank(key, task_id), task_id), default=None)
    return None if first is None else db.session.get(Task, first)


_PG_FUNDS = pg_sql("""
SELECT EXISTS (
    SELECT 1 FROM tasks t
    WHERE t.project_id = :project_id AND t.status = 'open' AND t.slots_taken < t.slot_limit
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.annotator_id = :annotator_id)
) AS work, coalesce(sum(e.balance_cents - e.held_cents), 0) AS free, coalesce(max(e.balance_cents - e.held_cents), 0) AS best
FROM projects p JOIN ledger_accounts e ON e.kind = 'project_escrow' AND e.owner_id = p.id AND e.currency = p.currency
WHERE p.id = :project_id
""")


class Funds(NamedTuple):
    """Is there work for this annotator, what the escrow has free over its lanes, and on its richest lane."""

    work: bool
    free: int
    best: int


def funds(*, project_id: int, annotator_id: int) -> Funds:
    """Funds of a project's escrow as a lease that found nothing sees them (one snapshot for all three)."""
    if is_postgres():
        row = pg_one(_PG_FUNDS, {"project_id": project_id, "annotator_id": annotator_id})
        return Funds(row.work, int(row.free), int(row.best))
    had = select(Assignment.id).where(Assignment.task_id == Task.id, Assignment.annotator_id == annotator_id)
    work = db.session.scalar(select(Task.id).where(Task.project_id == project_id, Task.status == OPEN,
                                                   Task.slots_taken < Task.slot_limit, ~had.exists()).limit(1))
    free = escrow.lane_frees(project_id=project_id)
    return Funds(work is not None, sum(free), max(free, default=0))


def live_leases(*, project_id: int, annotator_id: int, now: datetime) -> int:
    """Count the annotator's live (leased, not past their deadline) leases in a project."""
    return db.session.scalar(
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.annotator_id == annotator_id, Assignment.project_id == project_id, Assignment.status == LEASED,
               Assignment.expires_at > now)
    )


def answers_and_live_leases(*, project_id: int, annotator_id: int, now: datetime) -> int:
    """The annotator's answers plus live leases in a project, read fresh (after the lease lock)."""
    answers = (select(AnnotatorStats.answers)
               .where(AnnotatorStats.annotator_id == annotator_id, AnnotatorStats.project_id == project_id)
               .scalar_subquery())
    live = (select(func.count()).select_from(Assignment)
            .where(Assignment.annotator_id == annotator_id, Assignment.project_id == project_id,
                   Assignment.status == LEASED, Assignment.expires_at > now)
            .scalar_subquery())
    return db.session.scalar(select(func.coalesce(answers, 0) + live))
