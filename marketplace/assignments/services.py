"""Leases and answers: lease the next task, submit, release, expire."""
import random
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select, update

from marketplace.accounts.models import Account
from marketplace.assignments import answering, lease_store
from marketplace.assignments.models import EXPIRED, LEASED, RELEASED, SKIPPED, SUBMITTED, Assignment
from marketplace.errors import Conflict, Forbidden, NotFound
from marketplace.experiments.models import TASK_UNIT
from marketplace.extensions import db
from marketplace.payments import escrow
from marketplace.projects import arms
from marketplace.projects import services as projects
from marketplace.quality import eligibility
from marketplace.tasks import store as tasks_store
from marketplace.teams import workforce

EXPIRY_BATCH = 5_000
_rng = random.Random()


class NoTaskAvailable(NotFound):
    """Nothing left for this annotator in the project right now."""

    code = "no_task_available"


def lease_next_task(*, project_id: int, annotator: Account, now: datetime, rng: random.Random = _rng) -> lease_store.Lease:
    """Lease the next task of a project to this annotator, now and then a gold one."""
    project = lease_store.context(project_id=project_id, annotator_id=annotator.id)
    # Outside the project's workforce it is a 404, before its status or any requirement is named.
    way_in = (workforce.ensure_access(project=project, annotator_id=annotator.id, now=now)
              if project is not None and workforce.restricted(project.workforce) else workforce.CROWD)
    projects.ensure_open_for_work(project)
    eligibility.ensure(annotator=annotator, project=project, now=now)
    if project.blocked_reason is not None:
        raise Forbidden(f"You are blocked on this project: {project.blocked_reason}.", code="blocked")

    cap = project.max_answers_per_annotator
    # Read after the lease lock, so a submission committed a moment ago is counted (no cap overrun).
    if cap is not None and lease_store.answers_and_live_leases(project_id=project_id, annotator_id=annotator.id,
                                                           now=now) >= cap:
        raise Conflict(f"You have reached this project's limit of {cap} answers per annotator.", code="answer_limit_reached")
    gold_first = project.gold_count > 0 and project.gold_rate > 0 and rng.random() < project.gold_rate
    unit = project.experiment["unit"] if project.experiment else None
    base = project
    for arm in arms.lease_order(project.experiment, annotator.id, rng) or [None]:
        project = _with_terms(base, way_in, arm, unit)
        if arm is not None and arm["qualification_id"] is not None:
            _ensure_arm_qualification(annotator, arm, now)
        lease = _lease(project, annotator.id, now, gold_first)
        if lease is not None:
            return lease
    funds = lease_store.funds(project_id=project_id, annotator_id=annotator.id) if project.answer_cost else None
    if funds is not None and funds.work and funds.free < project.answer_cost:
        raise escrow.OutOfFunds("This project's escrow cannot pay for one more answer; it hands out no work until "
                                "the requester tops it up.")
    if lease_store.live_leases(project_id=project_id, annotator_id=annotator.id, now=now) >= project.max_leases_per_annotator:
        raise Conflict(
            f"You already hold {project.max_leases_per_annotator} live lease(s) in this project; "
            "answer or release one first.", code="lease_limit_reached"
        )
    raise NoTaskAvailable("No task is available for you in this project right now.")


def _lease(project: lease_store.LeaseContext, annotator_id: int, now: datetime, gold_first: bool):
    """lease_store.lease, tried once more when the escrow could pay but none of its lanes did: its free
    money is spread over the lanes in pieces smaller than one answer (pooled on one lane first), or
    every lane with enough was busy and the one it waited for ran dry meanwhile."""
    lease = lease_store.lease(project=project, annotator_id=annotator_id, now=now, gold_first=gold_first)
    if lease is not None or not project.answer_cost:
        return lease
    funds = lease_store.funds(project_id=project.project_id, annotator_id=annotator_id)
    if not funds.work or funds.free < project.answer_cost:
        return None
    if funds.best < project.answer_cost:
        escrow.pool_lanes(project_id=project.project_id, now=now)
    return lease_store.lease(project=project, annotator_id=annotator_id, now=now, gold_first=gold_first)


def _with_terms(project: lease_store.LeaseContext, way_in: workforce.Access, arm, unit: str | None):
    """The lease context under a team's and an arm's terms: an arm's reward beats a team's, which beats the project's."""
    if way_in.team_id is None and arm is None:
        return project
    arm = arm or {}
    reward = arm.get("reward_cents") or way_in.reward_cents
    paid = project.reward_cents if reward is None else reward
    terms = lease_store.LeaseTerms(reward_cents=reward, team_id=way_in.team_id, arm_id=arm.get("id"),
                                   task_arm_id=arm.get("id") if unit == TASK_UNIT else None)
    version = arm.get("guideline_version")
    return replace(project, terms=terms, answer_cost=paid + escrow.fee_cents(paid, project.fee_bps),
                   guideline_version=version or project.guideline_version)


def _ensure_arm_qualification(annotator: Account, arm: dict, now: datetime) -> None:
    qualification_id = arm["qualification_id"]
    if eligibility.best_grant(annotator_id=annotator.id, qualification_id=qualification_id, now=now) is None:
        raise eligibility.NotQualified(
            f"You are not eligible for this project: qualification {qualification_id} is required; take its test first.")


def own_assignment(*, assignment_id: int, annotator: Account, lock: bool = False) -> Assignment:
    """Return one of the annotator's assignments; anyone else's is a 404."""
    query = select(Assignment).where(Assignment.id == assignment_id)
    if lock:
        query = query.with_for_update()
    assignment = db.session.scalar(query)
    if assignment is None or assignment.annotator_id != annotator.id:
        raise NotFound("No such assignment.")
    return assignment


def release(*, assignment_id: int, annotator: Account, now: datetime) -> Assignment:
    """Give a live lease back without answering."""
    assignment = own_assignment(assignment_id=assignment_id, annotator=annotator)
    if assignment.status != LEASED or not answering.end_lease(
        assignment_id=assignment.id, task_id=assignment.task_id, is_gold=assignment.is_gold, status=RELEASED, now=now
    ):
        raise Conflict(f"This assignment is {assignment.status}; only a live lease can be released.", code="assignment_not_leased")
    return assignment


def skip(*, assignment_id: int, annotator: Account, reason: str, now: datetime) -> Assignment:
    """Give a live lease back as skipped: the task is never offered to this annotator again, and the skip
    (with its reason) is counted on the task for the requester to see."""
    assignment = own_assignment(assignment_id=assignment_id, annotator=annotator)
    if assignment.status != LEASED or not answering.end_lease(
        assignment_id=assignment.id, task_id=assignment.task_id, is_gold=assignment.is_gold, status=SKIPPED, now=now,
        skip_reason=reason or None,
    ):
        raise Conflict(f"This assignment is {assignment.status}; only a live lease can be skipped.",
                       code="assignment_not_leased")
    return assignment


def list_own(*, annotator: Account, status: str | None, project_id: int | None, cursor: int | None, limit: int) -> list[Assignment]:
    """List the annotator's assignments, newest first."""
    query = select(Assignment).where(Assignment.annotator_id == annotator.id).order_by(Assignment.id.desc()).limit(limit + 1)
    if status:
        query = query.where(Assignment.status == status)
    if project_id:
        query = query.where(Assignment.project_id == project_id)
    if cursor:
        query = query.where(Assignment.id < cursor)
    return list(db.session.scalars(query))


def expire_leases(*, now: datetime) -> int:
    """Return the slots of leases past their deadline to the pool; returns how many expired."""
    total = 0
    while True:
        rows = db.session.execute(
            select(Assignment.id, Assignment.task_id, Assignment.is_gold, Assignment.project_id, Assignment.reward_cents,
                   Assignment.escrow_lane)
            .where(Assignment.status == LEASED, Assignment.expires_at <= now)
            .order_by(Assignment.expires_at)
            .limit(EXPIRY_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return total
        db.session.execute(
            update(Assignment)
            .where(Assignment.id.in_([r.id for r in rows]))
            .values(status=EXPIRED, ended_at=now)
        )
        per_task: dict[int, int] = {}
        for row in rows:
            if not row.is_gold:
                per_task[row.task_id] = per_task.get(row.task_id, 0) + 1
        tasks_store.give_back_slots(per_task)
        per_project: dict[int, list] = {}
        for row in rows:
            per_project.setdefault(row.project_id, []).append((row.reward_cents, row.escrow_lane))
        for project_id, leases in sorted(per_project.items()):
            escrow.release_lease_holds(project_id=project_id, leases=leases)
        total += len(rows)
        if len(rows) < EXPIRY_BATCH:
            return total


def answers_of_tasks(task_ids: list[int]) -> list[Assignment]:
    """Return the submitted assignments of some tasks, in task then id order."""
    if not task_ids:
        return []
    return list(db.session.scalars(
        select(Assignment)
        .where(Assignment.task_id.in_(task_ids), Assignment.status == SUBMITTED)
        .order_by(Assignment.task_id, Assignment.id)
    ))


def answer_count(*, project_id: int) -> int:
    """Count the submitted answers of a project."""
    return db.session.scalar(
        select(func.count()).select_from(Assignment)
        .where(Assignment.project_id == project_id, Assignment.status == SUBMITTED)
    )
