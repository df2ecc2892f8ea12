"""A recompute too large for one job: its results are staged, then merged a chunk per job.

Above RECOMPUTE_CHUNK_TASKS results (PostgreSQL only), the fitting job (recompute.py) stages every
posterior in recompute_stage, numbered in chunks of that many tasks, marks its runs `writing` and
sends MERGE_RECOMPUTE_CHUNK. Each merge job takes the lowest chunk left and, in its own transaction,
merges it into results, reopens its tasks that fell below the target, drops it from the stage and
counts it on the runs; then it sends the next. A job that dies leaves its chunk staged and
unmerged (its transaction rolled back): the next job merges it, and the periodic sweep sends one
again for a run whose last chunk is older than WRITE_STALE_AFTER. The last chunk finishes the runs.

The stage is UNLOGGED: a PostgreSQL crash empties it. A run whose chunks vanished before they were
all merged fails, saying so, and a new run is queued in its place.
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from marketplace.db import advisory_lock
from marketplace.extensions import db
from marketplace.projects import store as project_store
from marketplace.projects.models import Project
from marketplace.results import policy, runs, store, truth_model
from marketplace.results.jobs import MERGE_RECOMPUTE_CHUNK
from marketplace.results.models import FAILED, WRITING, RecomputeRun
from marketplace.reviews.reviewer_trust import REVIEW_METHOD

MERGE_LOCK_SPACE = 7 << 48  # one merging job per project at a time
WRITE_STALE_AFTER = timedelta(minutes=10)  # a chunk merges in seconds: a run this quiet lost its job
LOST = "the staged results were lost before they were all merged (PostgreSQL restarted); a new run is queued"


def should_stage(results: int) -> bool:
    """Whether `results` results are too many to write in the fitting job."""
    return store.can_stage() and results > current_app.config["RECOMPUTE_CHUNK_TASKS"]


def stage(*, project_id: int, found: store.Posteriors) -> int:
    """Stage a run's results for the merge jobs, sent once this commits; return the number of chunks."""
    chunks = store.stage_results(project_id=project_id, found=found,
                                 chunk_tasks=current_app.config["RECOMPUTE_CHUNK_TASKS"])
    if chunks:
        MERGE_RECOMPUTE_CHUNK.after_commit(project_id)
    return chunks


def writing_runs(project_id: int, *, lock: bool = False) -> list[RecomputeRun]:
    """A project's runs whose results are being merged (locked for update if asked)."""
    query = select(RecomputeRun).where(RecomputeRun.project_id == project_id, RecomputeRun.status == WRITING)
    return list(db.session.scalars(query.order_by(RecomputeRun.id).with_for_update() if lock else query))


def merge_next_chunk(*, project_id: int, now: datetime) -> dict:
    """Merge the lowest staged chunk of a project's writing runs; finish them after the last one."""
    advisory_lock(MERGE_LOCK_SPACE | project_id)
    writing = writing_runs(project_id, lock=True)
    if not writing:
        return {"merged": None}
    lead = writing[0]
    chunk = store.next_staged_chunk(project_id)
    if chunk is None:
        return _without_chunks(project_id, writing, now)
    project = db.session.get(Project, project_id)
    written, low = store.merge_staged_chunk(
        project_id=project_id, chunk=chunk, classes=project.label_schema["classes"],
        method=truth_model.method_of(project), now=now, final_method=REVIEW_METHOD,
        below=project.target_confidence)
    reopened = policy.reopen(task_ids=low, max_answers=project.max_answers) if low else 0
    if reopened:
        project_store.reopen_if_completed(project)
    for run in writing:
        run.chunks_done = (run.chunks_done or 0) + 1
        run.results_written = (run.results_written or 0) + written
        run.tasks_reopened = (run.tasks_reopened or 0) + reopened
        run.heartbeat_at = now
    done, total = lead.chunks_done, lead.chunks_total
    if done < total:
        MERGE_RECOMPUTE_CHUNK.after_commit(project_id)
        runs.progress(project_id, percent=60 + 25 * done // total, stage=f"writing results: {done} of {total} chunks")
        return {"merged": chunk, "written": written, "reopened": reopened, "left": total - done}
    outcome = {name: getattr(lead, name) for name in
               ("answers", "annotators", "iterations", "results_written", "tasks_reopened", "model")}
    seconds = round((now - lead.started_at).total_seconds(), 3)
    runs.finish(project_id=project_id, runs=writing, outcome=outcome, seconds=seconds, now=now)
    return {"merged": chunk, "written": written, "reopened": reopened, "left": 0}


def _without_chunks(project_id: int, writing: list[RecomputeRun], now: datetime) -> dict:
    """Writing runs with nothing staged: the stage was emptied under them (an unlogged table after a crash)."""
    for run in writing:
        run.status, run.finished_at, run.error = FAILED, now, LOST
    runs.progress(project_id, status=FAILED, percent=100, stage="staged results lost")
    runs.queue_run(project_id=project_id, reason="lost_chunks", now=now)
    return {"merged": None, "lost": True}


def stalled_projects(*, now: datetime) -> list[int]:
    """Projects with a writing run whose last chunk (or staging) is older than WRITE_STALE_AFTER."""
    return list(db.session.scalars(
        select(RecomputeRun.project_id).where(RecomputeRun.status == WRITING,
                                              RecomputeRun.heartbeat_at < now - WRITE_STALE_AFTER)
        .distinct().order_by(RecomputeRun.project_id)))


def resend_stalled(*, now: datetime) -> int:
    """Send a merge job again for every stalled writing run; return how many."""
    stalled = stalled_projects(now=now)
    for project_id in stalled:
        MERGE_RECOMPUTE_CHUNK.after_commit(project_id)
    return len(stalled)
