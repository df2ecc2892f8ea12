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
    """The clock's module state, restored after the test; a monotonic clock the test moves, and a wall clock
    that moves with it (`wall_ahead` seconds ahead, 0 until the test steps it)."""
    saved = (clock._conninfo, clock._anchor, clock._next_read, clock._parted_from)
    mono = SimpleNamespace(value=1_000.0, wall_ahead=0.0)
    monkeypatch.setattr(clock, "time", SimpleNamespace(monotonic=lambda: mono.value,
                                                       time=lambda: 1.7e9 + mono.value + mono.wall_ahead))
    clock._conninfo = None
    yield mono
    clock._conninfo, clock._anchor, clock._next_read, clock._parted_from = saved


@pytest.fixture
def counted_reads(monkeypatch):
    """Each connection the clock opens to read the server's time, appended here."""
    reads = []
    connect = psycopg.connect
    monkeypatch.setattr(clock.psycopg, "connect", lambda *a, **k: reads.append(1) or connect(*a, **k))
    return reads


def test_the_clock_reads_the_database_once_and_carries_the_reading_forward(app, own_clock, counted_reads):
    reads = counted_reads
    clock.use_database(make_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    first = clock.now()
    with psycopg.Connection.connect(clock._conninfo) as conn:  # not through the counted connect
        server = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    assert abs(server - first) < timedelta(seconds=1)
    own_clock.value += 30  # half a minute passes on the monotonic clock: no new reading
    assert clock.now() - first == timedelta(seconds=30)
    assert len(reads) == 1
    own_clock.value += clock.RESYNC_S
    clock.now()
    assert len(reads) == 2


def test_a_pause_that_stops_the_monotonic_clock_is_caught_up_at_once(app, own_clock, counted_reads):
    """A VM paused for 20 s: once its wall clock is stepped over the pause, which its monotonic clock did not
    count, the next reading is not left to the minute's resync (the old one would date things 20 s early)."""
    clock.use_database(make_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    first = clock.now()
    own_clock.value += 5
    assert clock.now() - first == timedelta(seconds=5)  # wall and monotonic agree: no new reading
    assert len(counted_reads) == 1
    own_clock.wall_ahead += 20  # the step after the pause: the server's clock went on, the monotonic one did not
    after = clock.now()
    assert len(counted_reads) == 2
    assert abs(after - first) < timedelta(seconds=1)  # the server's own time, not the carried-forward first + 5 s
    own_clock.value += clock.JUMP_RETRY_S + 0.5
    clock.now()
    assert len(counted_reads) == 2  # the new reading takes the step in: wall and monotonic agree again


def test_a_parted_wall_clock_is_read_again_at_most_once_a_second(app, own_clock, counted_reads):
    """A wall clock that keeps stepping (an operator, a broken NTP) costs a reading per JUMP_RETRY_S, not one a call."""
    clock.use_database(make_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    clock.now()
    own_clock.value += clock.JUMP_RETRY_S / 2
    own_clock.wall_ahead -= 3_600  # stepped back an hour, too soon after the reading to read again
    clock.now()
    assert len(counted_reads) == 1
    own_clock.value += clock.JUMP_RETRY_S / 2
    clock.now()
    assert len(counted_reads) == 2
    own_clock.wall_ahead += 0.4  # within JUMP_S of the monotonic clock: slew, not a step
    own_clock.value += clock.JUMP_RETRY_S
    clock.now()
    assert len(counted_reads) == 2


def test_an_unreachable_database_with_a_stepped_wall_clock_is_tried_every_retry_s(own_clock, counted_reads):
    """A stepped wall clock does not turn a database that is down into a connection attempt every second."""
    clock.use_database(make_url("postgresql+psycopg://postgres@127.0.0.1:1/nothing"))
    clock._anchor = (datetime(2026, 1, 1, tzinfo=timezone.utc), own_clock.value, 1.7e9 + own_clock.value)
    clock._next_read = own_clock.value + clock.RESYNC_S  # a reading a moment ago
    own_clock.wall_ahead += 30
    clock.now()
    assert len(counted_reads) == 1
    own_clock.value += clock.RETRY_S - 0.5  # past JUMP_RETRY_S, not past RETRY_S
    clock.now()
    assert len(counted_reads) == 1
    own_clock.value += 0.5
    clock.now()
    assert len(counted_reads) == 2


def test_an_unreachable_database_falls_back_to_the_wall_clock_and_is_read_again_later(own_clock, caplog):
    clock.use_database(make_url("postgresql+psycopg://postgres@127.0.0.1:1/nothing"))
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)
    assert "using the wall clock" in caplog.text
    assert clock._next_read == own_clock.value + clock.RETRY_S


def test_without_postgresql_the_wall_clock_is_the_clock(own_clock):
    clock.use_database(make_url("sqlite:///demo.db"))
    assert clock._conninfo is None
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(seconds=1)


class _SlowServer:
    """A connection whose every `SELECT clock_timestamp()` takes `delays[i]` seconds of the test's monotonic
    clock, with the server's clock read at the start of each (the worst place for a midpoint)."""

    def __init__(self, mono, delays, server_at):
        self.mono, self.delays, self.server_at = mono, list(delays), server_at

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, _sql):
        server = self.server_at + timedelta(seconds=self.mono.value - 1_000.0)
        self.mono.value += self.delays.pop(0)
        return SimpleNamespace(fetchone=lambda: (server,))


def test_a_reading_keeps_the_quickest_of_its_round_trips(own_clock, monkeypatch):
    """One slow round trip (a busy host) would misplace the server's time by half of it: the reading is
    placed with the quickest of its SAMPLES."""
    server_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    delays = [0.8, 0.002, 0.4][:clock.SAMPLES]
    monkeypatch.setattr(clock.psycopg, "connect", lambda *a, **k: _SlowServer(own_clock, delays, server_at))
    clock._conninfo = "postgresql://fake"
    clock._anchor, clock._next_read = None, 0.0
    clock.now()
    read_at, mono_at, _wall = clock._anchor
    # The 2 ms round trip started 0.8 s in: its server time, placed 1 ms into it.
    assert read_at == server_at + timedelta(seconds=0.8)
    assert abs(mono_at - (1_000.0 + 0.8 + 0.001)) < 1e-9
