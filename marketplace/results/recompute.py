"""The project recompute: the default truth model over every answer of a project, gold clamped, written back.

Stores for every task with answers its result (label, posterior, method, number of answers) when the
task is closed or escalated, each annotator's confusion matrix and trust, and the class priors,
model and calibration the per-answer posterior uses (results/truth_model.py). Under the redundancy
policy a done task that the submit path, judging it with the new fit, would not close
(policy.short_of_target) is reopened for one more answer, within max_answers. One run per project at a time (an
advisory lock; a second trigger finds it taken and is skipped); progress is readable while it runs.
Runs are queued every few minutes by `rq cron` (due_projects), once enough answers arrived since
the last run (queue_if_due, asked by the submit path), and on the requester's request.
Built for size: answers are read by binary COPY into arrays and results written by binary COPY; a
run with more results than RECOMPUTE_CHUNK_TASKS stages them and merges them a chunk per job
(chunked.py), so that no job of a 100M-answer project runs near the job timeout.
"""
import time
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import func, select

from marketplace import inference, labels
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import advisory_lock, try_advisory_lock
from marketplace.extensions import db
from marketplace.projects import store as project_store
from marketplace.projects.models import OPEN, Project
from marketplace.quality.trust_from_fit import update_trust
from marketplace.results import cadence, chunked, policy, runs, store, structured, truth_model
from marketplace.results.jobs import RECOMPUTE_PROJECT
from marketplace.results.models import FAILED, FINISHED, QUEUED, RUNNING, SKIPPED, WRITING, RecomputeRun
from marketplace.reviews.reviewer_trust import REVIEW_METHOD, check_reviews
from marketplace.tasks.models import GOLD, Task

LOCK_SPACE = 2 << 48
QUEUE_LOCK_SPACE = 4 << 48  # "is a run waiting?" then "queue one", one trigger at a time per project
QUEUED_STALE_AFTER = timedelta(hours=1)
# A run queued this long ago and not yet started lost its job (a worker killed, Redis restarted without
# persistence): the periodic sweep sends the project's job again (resend_lost_jobs).
RESEND_QUEUED_AFTER = timedelta(minutes=10)


def _waiting(now: datetime):
    """A run that holds back new ones: one writing its results in chunks, or a queued one (whose job may have
    failed for good: it stays queued, and is ignored after a while)."""
    return (RecomputeRun.status == WRITING) | ((RecomputeRun.status == QUEUED)
                                                & (RecomputeRun.queued_at > now - QUEUED_STALE_AFTER))


def queue_unless_waiting(*, project_id: int, reason: str, now: datetime) -> RecomputeRun | None:
    """Queue a run unless one is already waiting (the automatic triggers; a requester's request always queues)."""
    advisory_lock(QUEUE_LOCK_SPACE | project_id)  # two triggers at once would both find none waiting
    waiting = select(RecomputeRun.id).where(RecomputeRun.project_id == project_id, _waiting(now))
    if db.session.scalar(waiting.exists().select()):
        return None
    return runs.queue_run(project_id=project_id, reason=reason, now=now)


def queue_if_due(*, project_id: int, now: datetime) -> RecomputeRun | None:
    """Queue a run of an open project when enough answers arrived since its last finished run started.

    Enough: see cadence.py. The count stops at what is needed.
    """
    project = db.session.get(Project, project_id)
    if project is None or project.status != OPEN:
        return None
    last = db.session.execute(
        select(RecomputeRun.started_at, RecomputeRun.answers)
        .where(RecomputeRun.project_id == project_id, RecomputeRun.status == FINISHED)
        .order_by(RecomputeRun.started_at.desc()).limit(1)
    ).first()
    need = max(cadence.RECOMPUTE_MIN_NEW_ANSWERS, int(cadence.RECOMPUTE_NEW_SHARE * ((last.answers or 0) if last else 0)))
    newer = select(Assignment.project_id).where(Assignment.project_id == project_id, Assignment.status == SUBMITTED)
    if last is not None:
        newer = newer.where(Assignment.submitted_at > last.started_at)
    arrived = db.session.scalar(select(func.count()).select_from(newer.limit(need).subquery()))
    if arrived < need:
        return None
    return queue_unless_waiting(project_id=project_id, reason="answers", now=now)


def due_projects(*, now: datetime) -> list[int]:
    """Open projects with answers submitted since their last finished run started, and no run waiting.

    Measured from a finished run, not a skipped one: a trigger that found a run going is not lost,
    since what that run could not see is still newer than its start.
    """
    last_start = (
        select(func.max(RecomputeRun.started_at))
        .where(RecomputeRun.project_id == Project.id, RecomputeRun.status == FINISHED).scalar_subquery()
    )
    waiting = select(RecomputeRun.id).where(RecomputeRun.project_id == Project.id, _waiting(now)).exists()
    newer = select(Assignment.id).where(
        Assignment.project_id == Project.id, Assignment.status == SUBMITTED,
        Assignment.submitted_at > func.coalesce(last_start, datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ).exists()
    # In id order: the caller takes a lock per project, always in the same order.
    return list(db.session.scalars(select(Project.id).where(Project.status == OPEN, newer, ~waiting).order_by(Project.id)))


def resend_lost_jobs(*, now: datetime) -> list[int]:
    """Send the recompute job again for projects with a run queued RESEND_QUEUED_AFTER ago and still
    waiting (until QUEUED_STALE_AFTER, when it stops holding back new runs); return those projects."""
    lost = list(db.session.scalars(
        select(RecomputeRun.project_id).where(RecomputeRun.status == QUEUED,
                                              RecomputeRun.queued_at < now - RESEND_QUEUED_AFTER,
                                              RecomputeRun.queued_at > now - QUEUED_STALE_AFTER)
        .distinct().order_by(RecomputeRun.project_id)))
    for project_id in lost:
        RECOMPUTE_PROJECT.after_commit(project_id)
    return lost


def recompute_project(*, project_id: int, now: datetime) -> dict:
    """Run the recompute for a project unless one is running; record the outcome on its queued runs."""
    # Rows a running recompute already took are locked by it until it commits: skipped, not marked.
    queued = list(db.session.scalars(
        select(RecomputeRun).where(RecomputeRun.project_id == project_id, RecomputeRun.status == QUEUED)
        .with_for_update(skip_locked=True)
    ))
    busy = None if try_advisory_lock(LOCK_SPACE | project_id) else "a recompute of this project was already running"
    if busy is None and chunked.writing_runs(project_id):
        busy = "the previous run of this project is still writing its results"
    if busy:
        for run in queued:
            run.status, run.error = SKIPPED, busy
        return {"skipped": True}
    started = time.perf_counter()
    for run in queued:
        run.status, run.started_at = RUNNING, now
    runs.progress(project_id, status=RUNNING, percent=0, stage="reading answers", started_at=now.isoformat())
    try:
        outcome = _recompute(project_id, now, started)
    except Exception as exc:
        runs.progress(project_id, status=FAILED, percent=100, stage=type(exc).__name__)
        raise
    chunks = outcome.pop("chunks", 0)
    if not chunks:
        return runs.finish(project_id=project_id, runs=queued, outcome=outcome,
                           seconds=round(time.perf_counter() - started, 3), now=now)
    if not queued:  # staged results always belong to a run: the merge jobs finish writing runs
        queued = [RecomputeRun(project_id=project_id, reason="job", queued_at=now, started_at=now)]
        db.session.add(queued[0])
    for run in queued:  # chunked.py merges the staged results and finishes these runs
        run.status, run.chunks_total, run.chunks_done, run.heartbeat_at = WRITING, chunks, 0, now
        for name, value in outcome.items():
            setattr(run, name, value)
    runs.progress(project_id, percent=60, stage=f"writing results: 0 of {chunks} chunks")
    return {**outcome, "chunks": chunks}


def _recompute(project_id: int, now: datetime, started: float) -> dict:
    project = db.session.get(Project, project_id)
    label_type = labels.label_type(project.label_schema)
    if not label_type.CATEGORICAL:  # boxes, spans, texts...: the type's own aggregation, with current trust
        return structured.recompute(project, now, lambda **fields: runs.progress(project_id, **fields))
    classes = project.label_schema["classes"]
    tasks, annotators, chosen = store.read_answers(project_id, label_type, classes)
    humans = tasks.size
    if project.model_as_annotator and humans:
        tasks, annotators, chosen = _with_model_votes(project, tasks, annotators, chosen)
    if humans == 0:
        return {"answers": 0, "annotators": 0, "iterations": 0, "results_written": 0, "tasks_reopened": 0}
    runs.progress(project_id, percent=30, stage="inferring")
    # One answer per (task, annotator): the assignments' unique constraint (the model votes once per task).
    encoded = inference.encode_coded_answers(tasks, annotators, chosen, classes, unique_pairs=True)
    del tasks, annotators, chosen  # the encoded copies are what the rest reads
    gold = _gold_codes(project, encoded.task_ids, label_type, classes)
    result = truth_model.fit(encoded.task_idx, encoded.annotator_idx, encoded.label_idx, len(classes), gold=gold,
                             n_tasks=encoded.task_ids.size, n_annotators=encoded.annotator_ids.size)
    project_store.record_fit(project, truth_model=truth_model.describe(result))
    runs.progress(project_id, percent=60, stage="writing results")
    model = np.flatnonzero(encoded.annotator_ids == MODEL_ANNOTATOR)
    if model.size:
        project_store.record_fit(project, model_confusion=result.confusion[model[0]].round(6).tolist())
    gold_task = np.zeros(encoded.task_ids.size, dtype=bool)
    gold_task[list(gold)] = True
    written, reopened, chunks = 0, 0, 0
    if project.aggregation == "ds":
        written, reopened, chunks = _write_back(project, encoded, result, gold_task, now, started)
    project_store.record_fit(project, class_priors=result.priors.round(6).tolist())
    check_reviews(project_id=project.id, task_ids=encoded.task_ids, labels=result.labels, classes=classes,
                  label_type=label_type)
    runs.progress(project_id, percent=85, stage="updating trust")
    update_trust(project=project, annotator_ids=encoded.annotator_ids, annotator_idx=encoded.annotator_idx,
                 label_idx=encoded.label_idx, task_idx=encoded.task_idx, gold_task=gold_task, result=result, now=now)
    return {"answers": humans, "annotators": int(encoded.annotator_ids.size) - int(model.size),
            "iterations": int(result.n_iter), "results_written": written, "tasks_reopened": reopened,
            "model": project.truth_model, "chunks": chunks}


# The model's id among annotators in the Dawid-Skene fit: no account has it.
MODEL_ANNOTATOR = -1


def _with_model_votes(project, tasks, annotators, chosen):
    """Add the model's label (the argmax of its prediction) on every answered task as a virtual annotator."""
    answered = np.unique(tasks)
    predicted = db.session.execute(
        select(Task.id, Task.prediction).where(Task.project_id == project.id, Task.prediction.is_not(None),
                                               Task.id.in_(answered.tolist()))).all()
    if not predicted:
        return tasks, annotators, chosen
    extra_tasks = np.array([t for t, _ in predicted], dtype=np.int64)
    extra_labels = np.array([int(np.argmax(p)) for _, p in predicted], dtype=np.int64)
    return (np.concatenate([tasks, extra_tasks]), np.concatenate([annotators, np.full(extra_tasks.size, MODEL_ANNOTATOR)]),
            np.concatenate([chosen.astype(np.int64), extra_labels]))


def _gold_codes(project, task_ids: np.ndarray, label_type, classes) -> dict[int, int]:
    known = db.session.execute(
        select(Task.id, Task.gold_answer).where(Task.project_id == project.id, Task.status == GOLD)
    ).all()
    class_index = {name: k for k, name in enumerate(classes)}
    codes = {}
    for task_id, answer in known:  # task_ids is sorted (encode_ids): a binary search per gold task
        at = int(np.searchsorted(task_ids, task_id))
        if at < task_ids.size and task_ids[at] == task_id:
            codes[at] = class_index[label_type.class_of(answer)]
    return codes


def _write_back(project, encoded, result, gold_task, now, started: float) -> tuple[int, int, int]:
    """Results for closed and escalated tasks; reopen those the submit path would not close now.

    Returns (results written, tasks reopened, chunks staged): what this job cannot write in time is
    staged, with its verdict, for the merge jobs (chunked.py), which write, reopen and count the rest.
    """
    ids = encoded.task_ids.astype(np.int64)
    keep = np.isin(ids, store.done_task_ids(project.id, final_method=REVIEW_METHOD)) & ~gold_task
    human = encoded.annotator_ids[encoded.annotator_idx] != MODEL_ANNOTATOR
    counts = np.bincount(encoded.task_idx[human], minlength=ids.size)
    # A done task is reopened when the rule that closed it, with this fit, would not close it now (one
    # judgement of a task, not one per path: policy.short_of_target).
    reopen = None if project.target_confidence is None else policy.short_of_target(project, encoded, result, counts)[keep]
    found = store.Posteriors(ids[keep], truth_model.posteriors_of(result, counts)[keep], counts[keep], reopen)
    here, written, chunks = chunked.write_or_stage(
        project_id=project.id, classes=project.label_schema["classes"], found=found,
        method=truth_model.method_of(project), now=now, started=started,
        progress=lambda done, total: runs.progress(project.id, percent=60 + 25 * done // max(total, 1), stage="writing results"))
    reopened = 0
    if here.reopen is not None:
        reopened = policy.reopen(task_ids=np.asarray(here.task_ids)[here.reopen].tolist(), max_answers=project.max_answers)
        if reopened:  # the progress is recounted by aggregate_project, queued once this commits
            project_store.reopen_if_completed(project)
    return written, reopened, chunks
