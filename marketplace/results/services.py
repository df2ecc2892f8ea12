"""Results: aggregate closed tasks into their inferred truth, complete projects, read results."""
from datetime import datetime

from sqlalchemy import func, select, update

from marketplace import labels, pseudonyms
from marketplace.accounts.models import Account
from marketplace.db import advisory_lock, utcnow
from marketplace.extensions import db
from marketplace.projects import services as projects
from marketplace.projects import store as project_store
from marketplace.projects.models import OPEN, PAUSED, Project, ProjectProgress
from marketplace.results import posterior, runs, store, structured, truth_model, votes
from marketplace.results.jobs import AGGREGATE_PROJECT
from marketplace.results.models import FINISHED, QUEUED, RUNNING, WRITING, RecomputeRun, Result
from marketplace.tasks.models import CLOSED, ESCALATED, Task
from marketplace.webhooks import models as webhooks
from marketplace.webhooks import services as webhook_services

BATCH = 2_000
GOLD = "gold"
# Advisory lock namespace: one aggregate_project run per project at a time.
AGGREGATE_LOCK_SPACE = 5 << 48


def aggregate_project(*, project_id: int, now: datetime) -> int:
    """Give every closed task without a result its result; recount the done tasks; complete the project.

    Closing answers finish their own task (results/closing.py); this is the backstop (the sweep finds
    closed tasks a lost path left without a result) and the recount after changes that undo
    progress in bulk (reopened tasks, rejections, reviews, a new guideline version), which queue it.
    The result is the project's aggregation: the truth model's posteriors from the annotators'
    current confusion matrices and calibration (refreshed by the recompute), or a (weighted) majority vote.

    Idempotent, and serialised per project by an advisory lock (never the project row, which
    requests read): a second run finds nothing left to do.
    """
    advisory_lock(AGGREGATE_LOCK_SPACE | project_id)
    project = db.session.get(Project, project_id)
    if project is None:
        return 0
    label_type = labels.label_type(project.label_schema)
    classes = project.label_schema.get("classes")
    done = 0
    while True:
        task_ids = list(db.session.scalars(
            select(Task.id)
            .outerjoin(Result, Result.task_id == Task.id)
            .where(Task.project_id == project_id, Task.status == CLOSED, Result.task_id.is_(None))
            .order_by(Task.id)
            .limit(BATCH)
        ))
        if not task_ids:
            break
        if not label_type.CATEGORICAL:
            written = structured.write(project, task_ids, now)[0]
        elif project.aggregation == "ds":
            found = posterior.posteriors(task_ids=task_ids, label_schema=project.label_schema,
                                      class_priors=project.class_priors, now=now, model=posterior.model_confusion(project),
                                      calibration=truth_model.calibration_of(project))
            written = store.write_results(project_id=project_id, classes=classes, found=found,
                                           method=truth_model.method_of(project), now=now)
        else:
            rows = votes.vote_rows(project_id, task_ids, label_type, classes, now)
            store.insert_results(rows)
            written = len(rows)
        done += written
        if len(task_ids) < BATCH or not written:
            break
    _announce(project, now)
    _refresh_progress(project, now)
    return done


def _announce(project: Project, now: datetime) -> int:
    """Tell the requester's webhooks about results not yet announced (task.completed or task.escalated)."""
    rows = db.session.execute(
        select(Result.task_id, Task.external_id, Task.status, Result.label, Result.confidence, Result.method,
               Result.answer_count)
        .join(Task, Task.id == Result.task_id)
        .where(Result.project_id == project.id, ~Result.announced, Result.method != GOLD)
        .order_by(Result.task_id)
    ).all()
    for status, event in ((ESCALATED, webhooks.TASK_ESCALATED), (CLOSED, webhooks.TASK_COMPLETED)):
        payloads = [{"task_id": r.task_id, "external_id": r.external_id, "label": r.label, "confidence": r.confidence,
                     "method": r.method, "answer_count": r.answer_count} for r in rows if r.status == status]
        webhook_services.emit_many(project_id=project.id, event=event, payloads=payloads, now=now)
    if rows:
        db.session.execute(update(Result).where(Result.task_id.in_([r.task_id for r in rows])).values(announced=True))
    return len(rows)


def record_gold(*, project: Project, task_ids: list[int], answers: dict) -> None:
    """Give gold tasks their known answer as a result (method "gold"), so exports carry and mark them."""
    gold = db.session.execute(select(Task.id, Task.external_id).where(Task.id.in_(task_ids))).all()
    now = utcnow()
    store.insert_results([
        {"task_id": task_id, "project_id": project.id, "label": labels.result_label(project.label_schema, answers[external_id]),
         "confidence": 1.0, "method": GOLD, "answer_count": 0, "tie": False, "created_at": now, "updated_at": now}
        for task_id, external_id in gold
    ])


def _refresh_progress(project: Project, now: datetime) -> None:
    # Done: closed tasks, and escalated ones too unless they wait for a review stage.
    done = (Task.status == CLOSED) if project.review_enabled else Task.status.in_((CLOSED, ESCALATED))
    project_store.lock_progress(project.id)  # last: closers wait here holding task, ledger and trust rows
    closed = db.session.scalar(
        select(func.count()).select_from(Result).join(Task, Task.id == Result.task_id)
        .where(Result.project_id == project.id, Result.method != GOLD, done)
    )
    project_store.set_done(project, closed)
    if project_store.complete_if_done(project, now):
        webhook_services.emit(project_id=project.id, event=webhooks.PROJECT_COMPLETED, now=now,
                              payload={"project_id": project.id, "tasks": project.task_count})
        # The triggers recompute open projects only: one last run takes in the answers since the
        # previous one (up to 10% of them), and may reopen a task that fell below the target.
        runs.queue_run(project_id=project.id, reason="completed", now=now)
    db.session.flush()


def projects_missing_results() -> list[int]:
    """Return projects a lost job left behind: closed tasks without a result, or all tasks done but
    the project not completed (the closing answer leaves completing it to aggregate_project)."""
    missing = (
        select(Task.project_id)
        .outerjoin(Result, Result.task_id == Task.id)
        .where(Task.status == CLOSED, Result.task_id.is_(None))
        .distinct()
    )
    uncompleted = (
        select(Project.id).join(ProjectProgress, ProjectProgress.project_id == Project.id)
        .where(Project.status.in_((OPEN, PAUSED)), Project.task_count > 0,
               ProjectProgress.done_tasks >= Project.task_count)
    )
    return sorted(set(db.session.scalars(missing)) | set(db.session.scalars(uncompleted)))


def sweep_unaggregated() -> int:
    """Re-enqueue aggregation for every project a lost job left behind."""
    project_ids = projects_missing_results()
    for project_id in project_ids:
        AGGREGATE_PROJECT.after_commit(project_id)
    return len(project_ids)


def result_rows(*, account: Account, project_id: int, cursor: int | None, limit: int,
                updated_since: datetime | None = None) -> list[dict]:
    """Return up to limit+1 results of a project from a task-id cursor, each with its answers.

    `updated_since` keeps those written or changed since a time: a client syncs incrementally by
    remembering when it last asked (results are rewritten in place, so their task-id order holds).
    """
    project = projects.owned(account=account, project_id=project_id)
    query = (
        select(Result.task_id, Result.label, Result.confidence, Result.method, Result.answer_count, Result.tie,
               Result.posterior, Task.external_id, Task.data)
        .join(Task, Task.id == Result.task_id)
        .where(Result.project_id == project.id)
        .order_by(Result.task_id)
        .limit(limit + 1)
    )
    if cursor:
        # On both sides of the join: PostgreSQL carries equalities across a join, not inequalities, and its
        # merge join would walk the project's tasks from the first one again on every page (an export of
        # n results read ~n^2/2000 task rows).
        query = query.where(Result.task_id > cursor, Task.id > cursor)
    if updated_since is not None:
        query = query.where(Result.updated_at >= updated_since)
    found = db.session.execute(query).all()  # columns, not entities: an export reads every row
    answers: dict[int, list] = {}
    names: dict[int, str] = {}
    for task_id, annotator_id, answer, guideline_version in store.answer_fields_of_tasks([r.task_id for r in found]):
        name = names.get(annotator_id)
        if name is None:
            name = names[annotator_id] = pseudonyms.annotator(project.id, annotator_id)
        answers.setdefault(task_id, []).append(
            {"annotator": name, "label": labels.result_label(project.label_schema, answer),
             "guideline_version": guideline_version})
    return [
        {"task_id": r.task_id, "external_id": r.external_id, "label": r.label,
         "confidence": r.confidence, "method": r.method,
         "answer_count": len(answers.get(r.task_id, [])) if r.method == GOLD else r.answer_count,
         "tie": r.tie, "gold": r.method == GOLD, "posterior": r.posterior,
         # The guidelines the answers were given under: the newest, when they differ.
         "guideline_version": max((a["guideline_version"] for a in answers.get(r.task_id, [])
                                   if a["guideline_version"] is not None), default=None),
         "data": r.data, "answers": answers.get(r.task_id, [])}
        for r in found
    ]


def recompute_status(*, account: Account, project_id: int) -> dict:
    """The latest recompute run of a project, with live progress while it runs."""
    project = projects.owned(account=account, project_id=project_id)
    run = db.session.scalar(
        select(RecomputeRun).where(RecomputeRun.project_id == project.id).order_by(RecomputeRun.id.desc()).limit(1))
    if run is None:  # every field, null: the response has one shape before the first run and after
        return {**dict.fromkeys(c.name for c in RecomputeRun.__table__.columns), "status": "none", "percent": None,
                "stage": None}
    live = runs.live_progress(project.id) if run.status in (QUEUED, RUNNING, WRITING) else {}
    percent = float(live["percent"]) if "percent" in live else (100.0 if run.status == FINISHED else 0.0)
    return {**{c.name: getattr(run, c.name) for c in RecomputeRun.__table__.columns},
            "status": live.get("status", run.status), "percent": percent, "stage": live.get("stage")}


def request_recompute(*, account: Account, project_id: int, now: datetime) -> dict:
    """Queue a recompute of the project now (the requester's trigger)."""
    project = projects.owned(account=account, project_id=project_id)
    run = runs.queue_run(project_id=project.id, reason="requested", now=now)
    return {**{c.name: getattr(run, c.name) for c in RecomputeRun.__table__.columns}, "percent": 0.0, "stage": None}


def iter_results(*, account: Account, project_id: int, batch: int = 1_000):
    """Yield every result of a project in task order, a batch at a time (constant memory)."""
    projects.owned(account=account, project_id=project_id)
    cursor = None
    while True:
        rows = result_rows(account=account, project_id=project_id, cursor=cursor, limit=batch)
        yield from rows[:batch]
        if len(rows) <= batch:
            return
        cursor = rows[batch - 1]["task_id"]
        db.session.expunge_all()
