"""marketplace.clock: the database's time, carried forward by the monotonic clock, the wall clock only without one."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy.engine import make_url

from marketplace import clock

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_clock(app, monkeypatch):
    """The clock's module state, restored after the test; a monotonic clock the test moves."""
    saved = (clock._conninfo, clock._anchor, clock._next_read)
    mono = SimpleNamespace(value=1_000.0)
    monkeypatch.setattr(clock, "time", SimpleNamespace(monotonic=lambda: mono.value))
    clock._conninfo = None
    yield mono
    clock._conninfo, clock._anchor, clock._next_read = saved


def test_the_clock_reads_the_database_once_and_carries_the_reading_forward(app, own_clock, monkeypatch):
    reads = []
    connect = psycopg.connect
    monkeypatch.setattr(clock.psycopg, "connect", lambda *a, **k: reads.append(1) or connect(*a, **k))
    clock.use_database(make_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    first = clock.now()
    with connect(clock._conninfo) as conn:  # the real connect: not counted
        server = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    assert abs(server - first) < timedelta(seconds=1)
    own_clock.value += 30  # half a minute passes on the monotonic clock: no new reading
    assert clock.now() - first == timedelta(seconds=30)
    assert len(reads) == 1
    own_clock.value += clock.RESYNC_S
    clock.now()
    assert len(reads) == 2


def test_an_unreachable_database_falls_back_to_the_wall_clock_and_is_read_again_later(own_clock, caplog):
    clock.use_database(make_url("postgresql+psycopg://postgres@127.0.0.1:1/nothing"))
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)
    assert "using the wall clock" in caplog.text
    assert clock._next_read == own_clock.value + clock.RETRY_S


def test_without_postgresql_the_wall_clock_is_the_clock(own_clock):
    clock.use_database(make_url("sqlite:///demo.db"))
    assert clock._conninfo is None
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)
