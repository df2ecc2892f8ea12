"""A recompute too large for one job: what its job cannot write in time is staged, then merged a chunk per job.

The fitting job (recompute.py) writes its results a range of tasks at a time (write_or_stage), and
after each range projects when it would finish at the rate so far. Once that projection passes
WRITE_BUDGET_SHARE of the job timeout (PostgreSQL only), it stages the posteriors not yet written in
recompute_stage, numbered in chunks of RECOMPUTE_CHUNK_TASKS tasks, marks its runs `writing` and
sends MERGE_RECOMPUTE_CHUNK. Measured on the machine it runs on, not by a size threshold: a 10M-answer
project writes in its own job here, a 100M-answer one stages nearly everything. Each merge job takes the next chunk (the runs count those done) and, in
its own transaction, merges it into results, reopens the tasks among them the fitting job judged short of
the target (recompute.py) and counts it on the runs; then it sends the next. A job that dies leaves its chunk unmerged and uncounted (its
transaction rolled back): the next job merges it, and the periodic sweep sends one again for a run
whose last chunk is older than WRITE_STALE_AFTER. The last chunk clears the stage and finishes the runs.

The stage is UNLOGGED: a PostgreSQL crash empties it. A run whose chunks vanished before they were
all merged fails, saying so, and a new run is queued in its place.
"""
import time
from datetime import datetime, timedelta

import numpy as np
from flask import current_app
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.projects import store as project_store
from marketplace.projects.models import Project
from marketplace.results import policy, runs, store, truth_model
from marketplace.results.jobs import MERGE_RECOMPUTE_CHUNK
from marketplace.results.models import FAILED, WRITING, RecomputeRun
from marketplace.reviews.reviewer_trust import REVIEW_METHOD

# Merge jobs a run sends at once: each claims the next free chunk, so as many chunks merge side by
# side as workers serve the truth queue, up to this (two cores here; PostgreSQL does the work).
MERGE_LANES = 2
# A job writes its results itself while it would end within this share of its timeout: room for a
# machine four times slower, or a database four times busier, than the one that measured the rate.
WRITE_BUDGET_SHARE = 0.25
WRITE_RANGE = 500_000  # results written between two projections (bulk_store's merge range)
WRITE_STALE_AFTER = timedelta(minutes=10)  # a chunk merges in seconds: a run this quiet lost its job
LOST = "the staged results were lost before they were all merged (PostgreSQL restarted); a new run is queued"


def write_or_stage(*, project_id: int, classes: list, found: store.Posteriors, method: str, now: datetime,
                   started: float, progress) -> tuple[store.Posteriors, int, int]:
    """Write results a range at a time while the job's projected end (at the rate so far) stays within
    WRITE_BUDGET_SHARE of the job timeout counted from `started` (a perf_counter reading); stage the rest.

    Returns (the posteriors written here; results written; chunks staged, merged by the jobs sent once
    this commits). `progress(done, total)` is told after each range.
    """
    found = found.take(np.argsort(np.asarray(found.task_ids, dtype=np.int64), kind="stable"))
    deadline = started + WRITE_BUDGET_SHARE * current_app.config["RQ_JOB_TIMEOUT_S"]
    began, done, written, n = time.perf_counter(), 0, 0, found.answer_counts.size
    while done < n:
        if done and store.can_stage():
            per_result = (time.perf_counter() - began) / done
            if time.perf_counter() + per_result * (n - done) > deadline:
                chunks = store.stage_results(project_id=project_id, found=found.take(slice(done, None)),
                                             chunk_tasks=current_app.config["RECOMPUTE_CHUNK_TASKS"])
                send_lanes(project_id)
                return found.take(slice(None, done)), written, chunks
        written += store.write_results(project_id=project_id, classes=classes, method=method, now=now,
                                       found=found.take(slice(done, done + WRITE_RANGE)))
        done = min(n, done + WRITE_RANGE)
        progress(done, n)
    return found, written, 0


def writing_runs(project_id: int, *, lock: bool = False) -> list[RecomputeRun]:
    """A project's runs whose results are being merged (locked for update, and read afresh, if asked)."""
    query = select(RecomputeRun).where(RecomputeRun.project_id == project_id, RecomputeRun.status == WRITING)
    if lock:
        query = query.order_by(RecomputeRun.id).with_for_update().execution_options(populate_existing=True)
    return list(db.session.scalars(query))


def send_lanes(project_id: int) -> None:
    """Send a merge job per lane, once this commits (a lane already waiting is not sent twice)."""
    for lane in range(MERGE_LANES):
        MERGE_RECOMPUTE_CHUNK.after_commit(project_id, lane)


def merge_next_chunk(*, project_id: int, lane: int, now: datetime) -> dict:
    """Claim and merge a staged chunk of a project's writing runs; the last one merged finishes them.

    Runs of one project are locked only after the merge, to count it: lanes merge side by side.
    """
    if not writing_runs(project_id):
        return {"merged": None, "left": 0}
    chunk = store.claim_chunk(project_id)
    if chunk is None:  # the other lanes hold or merged the rest
        return {"merged": None, "left": 0}
    if not store.is_staged(project_id, chunk):
        return _without_chunks(project_id, now)
    project = db.session.get(Project, project_id)
    written, low = store.merge_staged_chunk(
        project_id=project_id, chunk=chunk, classes=project.label_schema["classes"],
        method=truth_model.method_of(project), now=now, final_method=REVIEW_METHOD)
    reopened = policy.reopen(task_ids=low, max_answers=project.max_answers) if low else 0
    if reopened:
        project_store.reopen_if_completed(project)
    store.mark_merged(project_id, chunk)
    writing = writing_runs(project_id, lock=True)
    if not writing:  # another lane found the stage lost and failed them meanwhile
        return {"merged": chunk, "written": written, "reopened": reopened, "left": 0}
    for run in writing:
        run.chunks_done = (run.chunks_done or 0) + 1
        run.results_written = (run.results_written or 0) + written
        run.tasks_reopened = (run.tasks_reopened or 0) + reopened
        run.heartbeat_at = now
    lead = writing[0]
    done, total = lead.chunks_done, lead.chunks_total
    if done < total:
        MERGE_RECOMPUTE_CHUNK.after_commit(project_id, lane)
        runs.progress(project_id, percent=60 + 25 * done // total, stage=f"writing results: {done} of {total} chunks")
        return {"merged": chunk, "written": written, "reopened": reopened, "left": total - done}
    store.clear_stage(project_id)
    outcome = {name: getattr(lead, name) for name in
               ("answers", "annotators", "iterations", "results_written", "tasks_reopened", "model")}
    seconds = round((now - lead.started_at).total_seconds(), 3)
    runs.finish(project_id=project_id, runs=writing, outcome=outcome, seconds=seconds, now=now)
    return {"merged": chunk, "written": written, "reopened": reopened, "left": 0}


def _without_chunks(project_id: int, now: datetime) -> dict:
    """A claimed chunk is not staged: the stage was emptied under its runs (an UNLOGGED table after a
    crash). The runs fail and a new run is queued; its staging replaces what is left of this one."""
    writing = writing_runs(project_id, lock=True)
    if not writing:  # another lane got there first
        return {"merged": None, "lost": True, "left": 0}
    for run in writing:
        run.status, run.finished_at, run.error = FAILED, now, LOST
    runs.progress(project_id, status=FAILED, percent=100, stage="staged results lost")
    runs.queue_run(project_id=project_id, reason="lost_chunks", now=now)
    return {"merged": None, "lost": True, "left": 0}


def stalled_projects(*, now: datetime) -> list[int]:
    """Projects with a writing run whose last chunk (or staging) is older than WRITE_STALE_AFTER."""
    return list(db.session.scalars(
        select(RecomputeRun.project_id).where(RecomputeRun.status == WRITING,
                                              RecomputeRun.heartbeat_at < now - WRITE_STALE_AFTER)
        .distinct().order_by(RecomputeRun.project_id)))


def resend_stalled(*, now: datetime) -> int:
    """Send the merge jobs again for every stalled writing run; return how many runs."""
    stalled = stalled_projects(now=now)
    for project_id in stalled:
        send_lanes(project_id)
    return len(stalled)
