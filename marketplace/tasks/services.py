"""Bulk import and reads of tasks."""
import json
from datetime import datetime

from sqlalchemy import or_, select

from marketplace import labels
from marketplace.accounts.models import Account
from marketplace.db import utcnow
from marketplace.errors import NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.payments import escrow
from marketplace.projects import arms
from marketplace.projects import services as projects
from marketplace.projects import store as project_store
from marketplace.projects.models import OPEN as PROJECT_OPEN
from marketplace.projects.models import PAUSED
from marketplace.projects.models import initial_slots
from marketplace.results import services as results
from marketplace.tasks import parsing, store
from marketplace.tasks.models import Task


def import_tasks(*, account: Account, project_id: int, items: list, max_tasks: int, rows: list[int] | None = None,
                 checked: list[dict] | None = None, copy_lines: list[str] | None = None) -> dict:
    """Add a batch of tasks; ids already in the project are reported as duplicates and skipped.

    Any bad row rejects the whole batch (the caller's transaction rolls back). Rows go in with
    multi-row INSERT ... ON CONFLICT DO NOTHING, never one ORM object per row.

    `checked` (with `copy_lines`): rows an import job validated ahead of time with check_items()
    against this project's label schema and pre-label setting, used as they are while those hold.
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
    if checked is None or checked_against(project) != getattr(checked, "against", None):
        checked, copy_lines = check_items(project.label_schema, project.show_prelabels, items, rows), None
    inserted = store.insert_new(project.id, checked, initial_slots(project), copy_lines=copy_lines)
    gold = inserted.gold
    if gold:
        results.record_gold(project=project, task_ids=list(gold.values()),
                            answers={i["external_id"]: i["gold_answer"] for i in checked if i["external_id"] in gold})
    project_store.count_imported(project, tasks=inserted.created - len(gold), gold=len(gold))  # the row is locked
    db.session.flush()
    if project.experiment is not None and inserted.created:
        arms.stamp_tasks(project)  # an experiment by task puts the new tasks in its arms
    if project.status in (PROJECT_OPEN, PAUSED) and inserted.created:
        escrow.top_up(project=project, amount_cents=None, now=utcnow())  # the new tasks' worst case, or 402
    return {
        "created": inserted.created,
        "duplicates": inserted.duplicates,
        "duplicate_count": len(inserted.duplicates),
        "task_count": project.task_count,
    }


class CheckedRows(list):
    """Rows check_items() accepted, with what they were checked against."""

    against: tuple = ()


def checked_against(project) -> tuple:
    """What a row's validity depends on besides the row: the label schema and whether pre-labels are shown."""
    return (json.dumps(project.label_schema, sort_keys=True), bool(project.show_prelabels))


def check_items(label_schema: dict, show_prelabels: bool, items: list, rows: list[int] | None = None) -> CheckedRows:
    """Validate rows against a label schema (no database work: an import job runs it a chunk ahead, in a thread)."""
    checked = CheckedRows(parsing.check_rows(items, rows))
    checked.against = (json.dumps(label_schema, sort_keys=True), bool(show_prelabels))
    for item in checked:
        _checked_data(label_schema, item, rows)
        if item["gold_answer"] is not None:
            item["gold_answer"] = _checked_gold(label_schema, item, rows)
        if item["prediction"] is not None:
            item["prediction"] = _checked_label(label_schema, item, rows, "prediction", labels.validate_prediction)
        elif item["gold_answer"] is not None and show_prelabels:
            # Annotators see pre-labels here: a gold task without one would stand out among tasks with one.
            raise parsing.row_error(rows, item["row"], "prediction", "gold tasks need a prediction when pre-labels are shown")
    return checked


def _checked_data(label_schema: dict, item: dict, rows) -> None:
    """A task's data must carry what its answers point into (an image's size, a text, a clip's duration)."""
    try:
        labels.validate_task_data(label_schema, item["data"])
    except labels.LabelError as exc:
        raise parsing.row_error(rows, item["row"], ".".join(exc.path) or "data", exc.message)


def _checked_gold(label_schema: dict, item: dict, rows) -> dict:
    return _checked_label(label_schema, item, rows, "gold_answer",
                          lambda schema, answer: labels.validate_answer(schema, answer, item["data"]))


def _checked_label(label_schema: dict, item: dict, rows, field: str, validate):
    try:
        return validate(label_schema, item[field])
    except labels.LabelError as exc:  # the field inside the answer too: gold_answer.boxes.2.w
        raise parsing.row_error(rows, item["row"], ".".join((field, *exc.path)), exc.message)


def update_predictions(*, account: Account, project_id: int, items: list[dict], max_tasks: int) -> dict:
    """Set new model predictions on existing tasks (by external id); unknown ids are reported."""
    project = projects.owned(account=account, project_id=project_id, lock=True)
    if len(items) > max_tasks:
        raise ValidationFailed(f"At most {max_tasks} predictions per request.",
                               errors={"json": {"predictions": [f"more than {max_tasks} items"]}})
    by_id = {}
    for i, item in enumerate(items):
        try:
            by_id[item["external_id"]] = (labels.validate_prediction(project.label_schema, item["prediction"]),
                                          item.get("model_version"))
        except labels.LabelError as exc:
            raise ValidationFailed(f"row {i}: prediction: {exc.message}",
                                   errors={"json": {"predictions": {str(i): {"prediction": [exc.message]}}}})
    tasks = db.session.scalars(
        select(Task).where(Task.project_id == project.id, Task.external_id.in_(list(by_id)))).all()
    for task in tasks:
        task.prediction, task.model_version = by_id[task.external_id]
        if task.answer_count == 0:  # answered tasks are ranked by their posterior
            task.uncertainty = store.uncertainty(task.prediction)
    db.session.flush()
    found = {task.external_id for task in tasks}
    unknown = sorted(set(by_id) - found)
    return {"updated": len(found), "unknown": unknown}


def list_tasks(*, account: Account, project_id: int, status: str | None, cursor: int | None, limit: int,
               updated_since: datetime | None = None) -> list[Task]:
    """List a project's tasks in id order (those created or closed since a time, for an incremental sync)."""
    project = projects.owned(account=account, project_id=project_id)
    query = select(Task).where(Task.project_id == project.id).order_by(Task.id).limit(limit + 1)
    if status:
        query = query.where(Task.status == status)
    if updated_since is not None:
        query = query.where(or_(Task.created_at >= updated_since, Task.closed_at >= updated_since))
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
