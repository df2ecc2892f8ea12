"""Versioned instructions: publish a new version; a major one may require re-qualification and
reopen the tasks answered under the old instructions (those answers are superseded, not deleted)."""
from datetime import datetime

from sqlalchemy import delete, func, select, update

from marketplace.accounts.models import Account
from marketplace.assignments.models import SUBMITTED, SUPERSEDED, Assignment
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.payments import escrow
from marketplace.projects import services as projects
from marketplace.projects.models import CLOSED, COMPLETED, OPEN, PAUSED, Guideline, Project, initial_slots
from marketplace.results.models import Result
from marketplace.tasks.models import CLOSED as TASK_CLOSED
from marketplace.tasks.models import ESCALATED, Task
from marketplace.tasks.models import OPEN as TASK_OPEN


def versions(*, account: Account, project_id: int) -> list[Guideline]:
    """Every version of a project's instructions, newest first (version 1 is the original)."""
    project = projects.visible_to(account=account, project_id=project_id)
    return list(db.session.scalars(
        select(Guideline).where(Guideline.project_id == project.id).order_by(Guideline.version.desc())))


def publish(*, account: Account, project_id: int, instructions: str, major: bool, requalify: bool,
            reopen_answered: bool, note: str, now: datetime) -> Guideline:
    """Make new instructions current; leases from now on are stamped with the new version."""
    project = projects.owned(account=account, project_id=project_id, lock=True)
    if project.status in (CLOSED,):
        raise Conflict("A closed project's instructions cannot change.")
    if (requalify or reopen_answered) and not major:
        raise Conflict("Only a major version can require re-qualification or reopen answered tasks.")
    if not db.session.scalar(select(func.count()).select_from(Guideline).where(Guideline.project_id == project.id)):
        db.session.add(Guideline(project_id=project.id, version=project.guideline_version, major=True,
                                 instructions=project.instructions, note="original", created_at=project.created_at))
    project.guideline_version += 1
    project.instructions = instructions
    if requalify:
        project.requalify_after = now
    guideline = Guideline(project_id=project.id, version=project.guideline_version, major=major,
                          instructions=instructions, note=note, requalify=requalify, created_at=now)
    if reopen_answered:
        guideline.tasks_reopened = _reopen_answered(project, now)
        if project.status in (OPEN, PAUSED):
            escrow.top_up(project=project, amount_cents=None, now=now)  # the new answers' worst case, or 402
    db.session.add(guideline)
    db.session.flush()
    return guideline


def _reopen_answered(project: Project, now: datetime) -> int:
    """Supersede answers given under older versions and give their tasks a full set of slots again."""
    superseded = db.session.execute(
        update(Assignment)
        # Gold answers are superseded too: a status only ordinary answers could reach would single out gold.
        .where(Assignment.project_id == project.id, Assignment.status == SUBMITTED,
               Assignment.guideline_version < project.guideline_version)
        .values(status=SUPERSEDED, ended_at=now)
        .returning(Assignment.task_id, Assignment.is_gold)
    ).all()
    per_task: dict[int, int] = {}
    for task_id, is_gold in superseded:
        if not is_gold:  # gold has no slots to give back
            per_task[task_id] = per_task.get(task_id, 0) + 1
    for task_id, count in sorted(per_task.items()):
        db.session.execute(
            update(Task).where(Task.id == task_id)
            .values(answer_count=Task.answer_count - count, slots_taken=Task.slots_taken - count,
                    slot_limit=Task.slots_taken - count + initial_slots(project), closed_at=None,
                    status=TASK_OPEN)
            .where(Task.status.in_((TASK_OPEN, TASK_CLOSED, ESCALATED)))
            .execution_options(synchronize_session=False)
        )
    if per_task:
        db.session.execute(delete(Result).where(Result.task_id.in_(list(per_task)), Result.method != "gold"))
        project.closed_task_count = db.session.scalar(
            select(func.count()).select_from(Result).where(Result.project_id == project.id, Result.method != "gold"))
        if project.status == COMPLETED:
            project.status, project.completed_at = OPEN, None
    return len(per_task)
