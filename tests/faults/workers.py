"""Real `rq worker` processes for fault tests: started, killed with SIGKILL mid-job, and their work finished.

A killed worker's database sessions are ended by hand (as the server does once it notices a dead
host), so that rows it had locked are free for the worker that finishes its work.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import PG_ADMIN_URL, REDIS_URL, TEST_DB

ROOT = Path(__file__).resolve().parents[2]
RQ = str(Path(sys.executable).parent / "rq")
PG_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB


def worker_env(app, name: str, **settings) -> dict:
    """The worker's environment: the app's database (its sessions named `name`), Redis, and `settings`."""
    database = str(app.config["SQLALCHEMY_DATABASE_URI"])
    return {**os.environ, "DATABASE_URL": f"{database}?application_name={name}", "REDIS_URL": REDIS_URL,
            "SECRET_KEY": app.config["SECRET_KEY"], "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
            "PAYMENTS_SIMULATED": "1", **{key: str(value) for key, value in settings.items()}}


def start_worker(app, log, queues: list[str], name: str, **settings) -> subprocess.Popen:
    return subprocess.Popen([RQ, "worker", "-w", "rq.worker.SimpleWorker", "-u", REDIS_URL, *queues], cwd=ROOT,
                            env=worker_env(app, name, **settings), stdout=log, stderr=log, start_new_session=True)


def burst_worker(app, log, queues: list[str], name: str, **settings) -> None:
    """Run an `rq worker --burst` until the queues are empty (tests/faults/rq_burst.py says why its class)."""
    subprocess.run([RQ, "worker", "--burst", "-w", "tests.faults.rq_burst.BurstWorker", "-u", REDIS_URL, *queues],
                   cwd=ROOT, env=worker_env(app, name, **settings), stdout=log, stderr=log, timeout=300, check=True)


def kill(proc: subprocess.Popen, name: str) -> None:
    """SIGKILL the worker, then end its database sessions as the server would for a dead host."""
    assert proc.poll() is None, "the worker should be blocked mid-job, not finished"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,))
