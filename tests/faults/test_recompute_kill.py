"""A large recompute survives the worker merging its chunks killed mid-run (issue 21).

The fitting job stages 9 of 12 results in 3 chunks; a real `rq worker` merges them. Where it dies is
made deterministic without sleeping: the test holds, uncommitted, a lock on a result of the second
chunk, waits for the first chunk's `NOTIFY recompute_chunks` (sent as its merge commits), SIGKILLs
the worker, ends its sessions and lets the row go. The sweep sends the merge jobs again once the run
is stale; a burst worker finishes it. The results must equal an undisturbed run's, each chunk
merged once.
"""
import time
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import select

from marketplace import queue
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.results import chunked, recompute
from marketplace.results.models import FINISHED, QUEUED, WRITING, RecomputeRun, Result
from tests.factories import fresh
from tests.faults.workers import PG_URL, burst_worker, kill, start_worker
from tests.results.test_chunked import TASKS, _closed_project, _results
from workers.results import recompute_project

pytestmark = pytest.mark.postgres

NAME = "recompute-worker-to-kill"


def test_a_merge_worker_killed_mid_run_leaves_the_results_of_an_undisturbed_run(committed_app, with_redis, monkeypatch,
                                                                               blocker, worker_log):
    app = committed_app
    with app.app_context():
        project_id = _closed_project().id
        db.session.commit()
        recompute.recompute_project(project_id=project_id, now=utcnow())  # undisturbed: written in one go
        db.session.commit()
        queue.discard_pending()  # its aggregation (the results announced) is not what this test is about
        expected = _results(project_id)
        db.session.execute(Result.__table__.update().where(Result.project_id == project_id)
                           .values(label="bird", confidence=0.0))  # what the chunks must write back
        run = RecomputeRun(project_id=project_id, status=QUEUED, reason="requested", queued_at=utcnow())
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        monkeypatch.setitem(app.config, "RECOMPUTE_CHUNK_TASKS", 3)
        monkeypatch.setattr(chunked, "WRITE_RANGE", 3)  # the fitting job writes 3 results, stages 9
        monkeypatch.setattr(chunked, "WRITE_BUDGET_SHARE", 0.0)
        second_chunk = sorted(expected)[6]
        blocker.execute("SELECT 1 FROM results WHERE task_id = %s FOR UPDATE", (second_chunk,))
        recompute_project(project_id)  # the fitting job, here; its merge jobs go to Redis
        assert (fresh(RecomputeRun, run_id).status, fresh(RecomputeRun, run_id).chunks_total) == (WRITING, 3)
    with psycopg.connect(PG_URL, autocommit=True) as listener:
        listener.execute("LISTEN recompute_chunks")
        worker = start_worker(app, worker_log, [queue.TRUTH], NAME)
        try:
            notes = list(listener.notifies(timeout=120, stop_after=1))
            assert [note.payload for note in notes] == [str(project_id)], "the worker merged no chunk"
        finally:
            kill(worker, NAME)
    blocker.rollback()
    killed_at = time.perf_counter()
    with app.app_context():
        run = fresh(RecomputeRun, run_id)
        assert (run.status, run.chunks_done) == (WRITING, 1)  # the second chunk died with the worker
        with transaction():
            assert chunked.resend_stalled(now=utcnow() + chunked.WRITE_STALE_AFTER + timedelta(seconds=1)) == 1
    burst_worker(app, worker_log, [queue.TRUTH], NAME)
    recovered = time.perf_counter() - killed_at
    with app.app_context():
        run = fresh(RecomputeRun, run_id)
        assert (run.status, run.chunks_done, run.results_written) == (FINISHED, 3, TASKS)  # no chunk counted twice
        assert _results(project_id) == expected
        assert not db.session.scalars(select(RecomputeRun).where(RecomputeRun.status == WRITING)).all()
    print(f"\ninjected: SIGKILL of the worker merging a recompute's chunks, after chunk 1 of 3 committed and "
          f"while chunk 2 was held; recovered (sweep + burst worker) in {recovered:.1f} s, results as undisturbed")
