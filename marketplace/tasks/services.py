"""Bulk import and reads of tasks."""
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from marketplace.accounts.models import Account
from marketplace.db import is_postgres, utcnow
from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.projects import services as projects
from marketplace.tasks import parsing
from marketplace.tasks.models import OPEN, Task

IMPORT_CHUNK = 2_000


def import_tasks(*, account: Account, project_id: int, items: list, max_tasks: int, rows: list[int] | None = None) -> dict:
    """Add a batch of tasks; ids already in the project are reported as duplicates and skipped.

    Any bad row rejects the whole batch (the caller's transaction rolls back). Rows go in with
    multi-row INSERT ... ON CONFLICT DO NOTHING, never one ORM object per row.
    """
    project = projects.owned(account=account, project_id=project_id, lock=True)
    projects.accepts_tasks(project)
    if not items:
        raise ValidationFailed("Send at least one task.", errors={"json": {"tasks": ["empty batch"]}})
    if len(items) > max_tasks:
        raise ValidationFailed(
            f"At most {max_tasks} tasks per request; this one has {len(items)}.",
            errors={"json": {"tasks": [f"more than {max_tasks} items"]}},
        )
    pairs = parsing.check_rows(items, rows)
    created = _insert_new(project.id, pairs)
    duplicates = sorted({external_id for external_id, _ in pairs} - created)
    project.task_count += len(created)  # the project row is locked for this transaction
    db.session.flush()
    return {
        "created": len(created),
        "duplicates": duplicates,
        "duplicate_count": len(duplicates),
        "task_count": project.task_count,
    }


def _insert_new(project_id: int, pairs: list[tuple[str, dict]]) -> set[str]:
    dialect_insert = postgresql.insert if is_postgres() else sqlite.insert
    stmt = (
        dialect_insert(Task.__table__)
        .on_conflict_do_nothing(index_elements=["project_id", "external_id"])
        .returning(Task.__table__.c.external_id)
    )
    now = utcnow()
    created: set[str] = set()
    for start in range(0, len(pairs), IMPORT_CHUNK):
        chunk = [
            {"project_id": project_id, "external_id": external_id, "data": data, "status": OPEN,
             "slots_taken": 0, "answer_count": 0, "created_at": now}
            for external_id, data in pairs[start:start + IMPORT_CHUNK]
        ]
        created.update(db.session.execute(stmt, chunk).scalars())
    return created


def list_tasks(*, account: Account, project_id: int, status: str | None, cursor: int | None, limit: int) -> list[Task]:
    """List a project's tasks in id order."""
    project = projects.owned(account=account, project_id=project_id)
    query = select(Task).where(Task.project_id == project.id).order_by(Task.id).limit(limit + 1)
    if status:
        query = query.where(Task.status == status)
    if cursor:
        query = query.where(Task.id > cursor)
    return list(db.session.scalars(query))


def get_task(*, account: Account, task_id: int) -> Task:
    """Read one task of a project the account owns."""
    task = db.session.get(Task, task_id)
    if task is None:
        raise NotFound("No such task.")
    projects.owned(account=account, project_id=task.project_id)
    return task
