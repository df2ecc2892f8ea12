"""A task that just closed or escalated: its result, its announcement and its project's progress.

Run by the answer that closed it, in that answer's transaction, on that task alone: its answers
are read, its result written (already marked announced), its webhook recorded, and one is added to
the project's done tasks (count_done, projects.store.add_done) as the transaction's last step.
Nothing here reads the project's other tasks or waits for the project row, so a closing answer
costs the same in a project of ten tasks or of ten million. The result commits with the closure;
a closed task left without one any other way (tasks closed before this existed) is the sweep's
backstop's (results.services.aggregate_project).

When the count reaches the project's tasks, completing it is left to aggregate_project (queued
after commit), which recounts under the progress row's lock and completes the project once.
"""
from dataclasses import dataclass
from datetime import datetime

from marketplace import labels
from marketplace.projects import store as project_store
from marketplace.results import posterior, store, structured, truth_model, votes
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.results.store import Posteriors
from marketplace.tasks.models import CLOSED, ESCALATED
from marketplace.webhooks import models as webhooks
from marketplace.webhooks import services as webhook_services

EVENTS = {CLOSED: webhooks.TASK_COMPLETED, ESCALATED: webhooks.TASK_ESCALATED}


@dataclass(frozen=True)
class Closing:
    """What finishing a task needs of its project; the submit path reads it with the answer (no extra query)."""

    project_id: int
    label_schema: dict
    aggregation: str
    class_priors: list | None
    truth_model: dict | None
    model_as_annotator: bool
    model_confusion: list | None
    review_enabled: bool
    task_count: int
    has_webhooks: bool = True  # False: the owner has no active endpoint, nothing to announce to

    @classmethod
    def of(cls, row) -> "Closing":
        """From any row or object with these fields (the submit path's context row, a PolicyContext)."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__ if hasattr(row, name)})


def finish(project: Closing, *, task_id: int, external_id: str, status: str, now: datetime,
           found: Posteriors | None = None) -> bool:
    """Write and announce the result of a task that just closed or escalated; True if the task is now done.

    `found`: the task's posterior when the caller has it (the redundancy policy just computed it).
    The caller counts done tasks with count_done() as its transaction's last step. False when the
    task has no answer to aggregate (nothing written) or waits for its review stage.
    """
    row = _result_row(project, task_id, now, found)
    if row is None:
        return False
    store.upsert_closed_result(row)
    if project.has_webhooks:
        webhook_services.emit(project_id=project.project_id, event=EVENTS[status], now=now, payload={
            "task_id": task_id, "external_id": external_id, "label": row["label"], "confidence": row["confidence"],
            "method": row["method"], "answer_count": row["answer_count"]})
    # An escalated task waiting for its review stage is not done yet: the review's decision counts it.
    return status == CLOSED or not project.review_enabled


def count_done(project: Closing, tasks: int) -> None:
    """Add tasks that just became done to the project's progress; the last of them queues its completion.

    The progress row is locked from here to the commit, so this is the transaction's last step, after
    the payment: every closer takes its escrow lane's row (paying) before the progress row, never after.
    """
    if tasks and project_store.add_done(project.project_id, tasks) >= project.task_count:
        AGGREGATE_PROJECT.after_commit(project.project_id)


def _result_row(project: Closing, task_id: int, now: datetime, found: Posteriors | None) -> dict | None:
    label_type = labels.label_type(project.label_schema)
    classes = project.label_schema.get("classes")
    if not label_type.CATEGORICAL:
        rows = structured.result_rows(_Project(project.project_id, project.label_schema), [task_id], now)[0]
        return rows[0] if rows else None
    if found is None and project.aggregation != "ds":
        rows = votes.vote_rows(project.project_id, [task_id], label_type, classes, now)
        return rows[0] if rows else None
    if found is None:
        found = posterior.posteriors(task_ids=[task_id], label_schema=project.label_schema,
                                  class_priors=project.class_priors, now=now, model=posterior.model_confusion(project),
                                  calibration=truth_model.calibration_of(project))
    if not found.answer_counts[0]:
        return None
    return store.posterior_rows(project_id=project.project_id, classes=classes, found=found,
                                method=truth_model.method_of(project), now=now)[0]


@dataclass(frozen=True)
class _Project:
    """The two fields of a project the structured types' aggregation reads."""

    id: int
    label_schema: dict
