"""Versioned instructions: publish a new version; a major one may require re-qualification and
reopen the tasks answered under the old instructions (those answers are superseded, not deleted)."""
from datetime import datetime

from sqlalchemy import func, select

from marketplace.accounts.models import Account
from marketplace.assignments import store as assignment_store
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.payments import escrow
from marketplace.projects import services as projects
from marketplace.projects import store as project_store
from marketplace.projects.models import CLOSED, OPEN, PAUSED, Guideline, Project, initial_slots
from marketplace.results import store as results_store
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.tasks import store as tasks_store


def versions(*, account: Account, project_id: int, cursor: int | None, limit: int) -> list[Guideline]:
    """The versions of a project's instructions, newest first (version 1 is the original; one page, +1)."""
    project = projects.visible_to(account=account, project_id=project_id)
    return list(db.session.scalars(
        keyset(select(Guideline).where(Guideline.project_id == project.id), Guideline.version, cursor, limit)))


def publish(*, account: Account, project_id: int, instructions: str, major: bool, requalify: bool,
            reopen_answered: bool, note: str, now: datetime) -> Guideline:
    """Make new instructions current; leases from now on are stamped with the new version."""
    project = projects.owned(account=account, project_id=project_id, lock=True)
    if project.status in (CLOSED,):
        raise Conflict("A closed project's instructions cannot change.", code="project_closed")
    if (requalify or reopen_answered) and not major:
        raise Conflict("Only a major version can require re-qualification or reopen answered tasks.", code="major_version_required")
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
    superseded = assignment_store.supersede_older_answers(project_id=project.id, version=project.guideline_version,
                                                          now=now)
    per_task: dict[int, int] = {}
    for task_id, is_gold in superseded:
        if not is_gold:  # gold has no slots to give back
            per_task[task_id] = per_task.get(task_id, 0) + 1
    tasks_store.reopen_superseded(per_task, slots=initial_slots(project))
    if per_task:
        results_store.delete_results(list(per_task), keep_gold=True)
        AGGREGATE_PROJECT.after_commit(project.id)  # recounts the progress once this commits
        project_store.reopen_if_completed(project)
    return len(per_task)
