"""Fixtures of the fault tests: a second database session that holds rows, and the killed worker's log."""
import sys
import tempfile

import psycopg
import pytest

from tests.faults.workers import PG_URL


@pytest.fixture
def blocker():
    """A session of the test's own whose uncommitted locks stop a worker at a chosen row."""
    conn = psycopg.connect(PG_URL)
    yield conn
    conn.rollback()
    conn.close()


@pytest.fixture
def worker_log():
    """The workers' output, printed (its end) after the test."""
    with tempfile.TemporaryFile() as log:
        yield log
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace")[-4000:])
