"""A recompute too large for one job: results staged by the fitting job, merged a chunk per job (results/chunked.py).

Here the fitting job has no time budget (it writes one range of 3 tasks, then stages the other 9)
and chunks are 3 tasks (RECOMPUTE_CHUNK_TASKS): a dozen tasks take three merge jobs. Jobs run
inline after each commit, as a worker would run them one after the other.
"""
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask import current_app
from sqlalchemy import func, select

from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.results import chunked, recompute, runs, store
from marketplace.results.models import FAILED, FINISHED, SKIPPED, WRITING, RecomputeRun, RecomputeStage, Result
from marketplace.reviews.reviewer_trust import REVIEW_METHOD
from marketplace.tasks.models import CLOSED, OPEN, Task
from tests.factories import AnnotatorFactory, bearer, fresh, open_project
from tests.projects.test_routes import _owner

pytestmark = pytest.mark.postgres  # the stage and its binary COPY are PostgreSQL's

CLASSES = ["cat", "dog", "bird"]
TASKS = 12
NOT_SENT = SimpleNamespace(after_commit=lambda *args: None)  # a merge job that never reaches a worker


def _closed_project():
    """A project of closed tasks, each answered by four annotators who mostly agree (no results yet), and one
    open task (so the project never completes, which would queue one more run)."""
    project = open_project(tasks=TASKS + 1, answers_per_task=4, aggregation="ds")
    crowd = [AnnotatorFactory() for _ in range(4)]
    tasks = db.session.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()[:TASKS]
    now = utcnow()
    for i, task in enumerate(tasks):
        task.status, task.answer_count, task.closed_at = CLOSED, 4, now
        for j, annotator in enumerate(crowd):
            label = CLASSES[(i + (j == 3 and i % 3 == 0)) % 3]  # the fourth disagrees on every third task
            db.session.add(Assignment(task_id=task.id, project_id=project.id, annotator_id=annotator.id,
                                      status=SUBMITTED, leased_at=now, expires_at=now + timedelta(minutes=5),
                                      submitted_at=now, answer={"label": label}))
    db.session.flush()
    return project


def _results(project_id: int) -> dict:
    found = db.session.scalars(select(Result).where(Result.project_id == project_id)
                               .execution_options(populate_existing=True))
    return {r.task_id: (r.label, r.confidence, r.posterior, r.method, r.answer_count) for r in found}


def _recompute(project_id: int) -> RecomputeRun:
    with transaction():
        run = runs.queue_run(project_id=project_id, reason="test", now=utcnow())  # its jobs run inline after
    return fresh(RecomputeRun, run.id)


def _staged(project_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(RecomputeStage).where(RecomputeStage.project_id == project_id))


@pytest.fixture
def in_one_go(ctx):
    """A project and the results its recompute writes in one job."""
    project = _closed_project()
    run = _recompute(project.id)
    assert run.status == FINISHED and run.chunks_total is None and run.results_written == TASKS
    return project, _results(project.id)


@pytest.fixture
def chunks_of_three(ctx, monkeypatch):
    monkeypatch.setitem(current_app.config, "RECOMPUTE_CHUNK_TASKS", 3)
    monkeypatch.setattr(chunked, "WRITE_RANGE", 3)
    monkeypatch.setattr(chunked, "WRITE_BUDGET_SHARE", 0.0)  # past the budget once the first range is written


@pytest.fixture
def merges_held(monkeypatch):
    """Merge jobs are not sent: a run stays staged (as when the worker died before taking its job)."""
    monkeypatch.setattr(chunked, "MERGE_RECOMPUTE_CHUNK", NOT_SENT)


def test_a_large_run_writes_the_same_results_in_chunks_as_in_one_go(in_one_go, chunks_of_three):
    project, expected = in_one_go
    run = _recompute(project.id)
    assert (run.status, run.chunks_total, run.chunks_done, run.results_written) == (FINISHED, 3, 3, TASKS)
    assert run.answers == 4 * TASKS and run.seconds is not None and run.heartbeat_at is not None
    assert _results(project.id) == expected
    assert _staged(project.id) == 0


def test_a_chunk_whose_job_died_stays_staged_and_the_sweep_finishes_the_run(in_one_go, chunks_of_three, monkeypatch):
    project, expected = in_one_go
    with monkeypatch.context() as held:
        held.setattr(chunked, "MERGE_RECOMPUTE_CHUNK", NOT_SENT)
        run = _recompute(project.id)
        assert (run.status, run.chunks_total, run.chunks_done, run.results_written) == (WRITING, 3, 0, 3)
        assert _staged(project.id) == TASKS - 3
        with transaction():
            chunked.merge_next_chunk(project_id=project.id, lane=0, now=utcnow())
        assert fresh(RecomputeRun, run.id).chunks_done == 1 and _staged(project.id) == TASKS - 3  # dropped at the end
    real_merge = store.merge_staged_chunk

    def dies_before_commit(**kwargs):
        real_merge(**kwargs)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(store, "merge_staged_chunk", dies_before_commit)
    with pytest.raises(RuntimeError), transaction():
        chunked.merge_next_chunk(project_id=project.id, lane=0, now=utcnow())
    assert fresh(RecomputeRun, run.id).chunks_done == 1  # rolled back whole: the same chunk is next
    monkeypatch.setattr(store, "merge_staged_chunk", real_merge)
    assert chunked.stalled_projects(now=utcnow()) == []  # its last chunk is recent: not stalled yet
    with transaction():
        assert chunked.resend_stalled(now=utcnow() + chunked.WRITE_STALE_AFTER + timedelta(seconds=1)) == 1
    run = fresh(RecomputeRun, run.id)
    assert (run.status, run.chunks_done, run.results_written) == (FINISHED, 3, TASKS)
    assert _results(project.id) == expected and _staged(project.id) == 0


def test_a_late_chunk_leaves_newer_results_reviews_and_reopened_tasks_alone(in_one_go, chunks_of_three, merges_held):
    project, expected = in_one_go
    _recompute(project.id)
    newer, reviewed, reopened = sorted(expected)[3:6]  # the first staged chunk
    # While the chunks wait: a closing answer wrote one task from more answers, a reviewer decided another,
    # and a third was reopened (its result gone).
    db.session.execute(Result.__table__.update().where(Result.task_id == newer)
                       .values(answer_count=5, label="bird", confidence=0.99))
    db.session.execute(Result.__table__.update().where(Result.task_id == reviewed)
                       .values(method=REVIEW_METHOD, label="bird", confidence=1.0))
    store.delete_results([reopened])
    db.session.execute(Task.__table__.update().where(Task.id == reopened).values(status=OPEN))
    for _ in range(3):
        with transaction():
            chunked.merge_next_chunk(project_id=project.id, lane=0, now=utcnow())
    after = _results(project.id)
    assert after[newer][:2] == ("bird", 0.99) and after[newer][4] == 5
    assert after[reviewed][:3] == ("bird", 1.0, expected[reviewed][2]) and after[reviewed][3] == REVIEW_METHOD
    assert reopened not in after
    assert {t: after[t] for t in expected if t not in (newer, reviewed, reopened)} == {
        t: v for t, v in expected.items() if t not in (newer, reviewed, reopened)}
    run = db.session.scalar(select(RecomputeRun).order_by(RecomputeRun.id.desc()))
    assert run.status == FINISHED and run.results_written == TASKS - 3


def test_while_a_run_writes_new_runs_wait_and_the_status_shows_its_chunks(in_one_go, chunks_of_three, merges_held,
                                                                          client):
    project, _ = in_one_go
    writing = _recompute(project.id)
    assert recompute.queue_unless_waiting(project_id=project.id, reason="periodic", now=utcnow()) is None
    requested = _recompute(project.id)  # a requester's run is queued, and skipped while the other writes
    assert requested.status == SKIPPED and "still writing" in requested.error
    db.session.delete(requested)  # the status shows the latest run: the writing one again
    db.session.flush()
    status = client.get(f"/api/v1/projects/{project.id}/recompute", headers=bearer(_owner(project))).json
    assert (status["id"], status["status"], status["chunks_total"], status["chunks_done"]) == (writing.id, WRITING, 3, 0)


def test_a_run_whose_stage_was_emptied_fails_and_a_new_run_takes_its_place(in_one_go, chunks_of_three, monkeypatch):
    project, expected = in_one_go
    with monkeypatch.context() as held:
        held.setattr(chunked, "MERGE_RECOMPUTE_CHUNK", NOT_SENT)
        lost = _recompute(project.id)
    db.session.execute(RecomputeStage.__table__.delete())  # what a crash does to an UNLOGGED table
    with transaction():
        chunked.merge_next_chunk(project_id=project.id, lane=0, now=utcnow())
    lost = fresh(RecomputeRun, lost.id)
    assert lost.status == FAILED and lost.error == chunked.LOST
    again = db.session.scalar(select(RecomputeRun).order_by(RecomputeRun.id.desc()))
    assert (again.reason, again.status, again.chunks_done) == ("lost_chunks", FINISHED, 3)
    assert _results(project.id) == expected


def test_two_lanes_merge_two_chunks_side_by_side_and_the_last_chunk_finishes_the_run(committed_app, monkeypatch):
    monkeypatch.setitem(committed_app.config, "RECOMPUTE_CHUNK_TASKS", 3)
    monkeypatch.setattr(chunked, "WRITE_RANGE", 3)
    monkeypatch.setattr(chunked, "WRITE_BUDGET_SHARE", 0.0)
    monkeypatch.setattr(chunked, "MERGE_RECOMPUTE_CHUNK", NOT_SENT)  # the lanes are run by hand below
    with committed_app.app_context():
        project_id = _closed_project().id
        db.session.commit()
        run_id = _recompute(project_id).id
    both_claimed = threading.Barrier(2, timeout=30)  # a lane that waited for the other's claim would time out
    real_merge = store.merge_staged_chunk

    def merge_once_both_claimed(**kwargs):
        both_claimed.wait()
        return real_merge(**kwargs)

    monkeypatch.setattr(store, "merge_staged_chunk", merge_once_both_claimed)
    merged, failures = {}, []

    def lane(number):
        with committed_app.app_context():
            try:
                with transaction():
                    merged[number] = chunked.merge_next_chunk(project_id=project_id, lane=number, now=utcnow())
            except Exception as exc:  # reported below, with the lane's number
                failures.append((number, exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(m["merged"] for m in merged.values()) == [0, 1]
    monkeypatch.setattr(store, "merge_staged_chunk", real_merge)
    with committed_app.app_context():
        assert fresh(RecomputeRun, run_id).chunks_done == 2
        with transaction():
            last = chunked.merge_next_chunk(project_id=project_id, lane=1, now=utcnow())
        assert (last["merged"], last["left"]) == (2, 0)
        run = fresh(RecomputeRun, run_id)
        assert (run.status, run.chunks_done, run.results_written) == (FINISHED, 3, TASKS)
        assert _staged(project_id) == 0
        with transaction():
            assert chunked.merge_next_chunk(project_id=project_id, lane=0, now=utcnow()) == {"merged": None, "left": 0}


def test_merges_reopen_the_tasks_the_fitting_job_judged_short_whatever_their_stored_confidence(ctx, chunks_of_three,
                                                                                                monkeypatch):
    # The fit stores 0.5 on every task, under any bar, while the submit path's rule with the new fit
    # (policy.short_of_target) finds every other task short of the target: exactly those are reopened,
    # the first range's by the fitting job and the staged ones by the merges, from the verdicts staged.
    import numpy as np

    from marketplace.results import policy, truth_model

    project = _closed_project()
    project.target_confidence, project.min_answers, project.max_answers = 0.9, 2, 6
    real = truth_model.posteriors_of

    def half(result, answers):
        post = real(result, answers)
        out = np.full(post.shape, 0.25)
        out[np.arange(len(post)), post.argmax(axis=1)] = 0.5
        return out

    monkeypatch.setattr(truth_model, "posteriors_of", half)
    monkeypatch.setattr(policy, "short_of_target",
                        lambda project, encoded, result, answers: np.arange(encoded.task_ids.size) % 2 == 0)
    closed = db.session.scalars(select(Task.id).where(Task.project_id == project.id, Task.status == CLOSED)
                                .order_by(Task.id)).all()
    run = _recompute(project.id)
    assert run.status == FINISHED and run.chunks_total == 3 and run.tasks_reopened == TASKS // 2
    reopened = db.session.scalars(select(Task.id).where(Task.project_id == project.id, Task.status == OPEN)).all()
    assert sorted(reopened)[:TASKS // 2] == closed[::2]  # (and the task that never closed)
    kept = _results(project.id)
    assert sorted(kept) == closed[1::2] and {confidence for _, confidence, *_ in kept.values()} == {0.5}
