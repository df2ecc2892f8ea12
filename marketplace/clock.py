"""The one clock every process reads: the database server's, carried forward by this process's monotonic clock.

Leases expire, answers fall due for auto-approval and stuck payouts are sent again by comparing times
that different processes wrote (gunicorn workers, rq workers, cron, on different hosts). A host whose
wall clock is stepped (NTP after a drift, a VM restored from a snapshot, an operator) would expire live
leases or approve answers early if it trusted its own wall clock. So each process reads PostgreSQL's
clock (`clock_timestamp()`) and between readings advances it by `time.monotonic()`, which no step of the
wall clock moves. It reads again every `RESYNC_S` to follow slow drift, and at once (at most every
`JUMP_RETRY_S`) when the wall clock is stepped against the monotonic one by more than `JUMP_S` since the
last reading: after a VM was paused or migrated, its guest agent or NTP steps the wall clock forward
over the time the monotonic clock did not count, and a process carrying its old reading would lag
the others by that much until the next resync. If the database can't be reached it keeps carrying the
last reading forward (or, before any, uses the wall clock) and tries again after `RETRY_S`. On SQLite
(the embedded demo, one host) the wall clock is the database's clock.
"""
import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg

log = logging.getLogger(__name__)

RESYNC_S = 60.0
RETRY_S = 5.0
JUMP_S = 0.5  # above any disagreement of the two clocks' readings, far below any lease or staleness bound
JUMP_RETRY_S = 1.0
CONNECT_TIMEOUT_S = 2
SAMPLES = 3  # round trips per reading: a busy host delays some (the midpoint is off by up to half of one)

_conninfo: str | None = None
# (the database's time, this process's monotonic and wall times then)
_anchor: tuple[datetime, float, float] | None = None
_next_read = 0.0  # monotonic time of the next reading
_parted_from = float("-inf")  # monotonic time from which a stepped wall clock may call for a reading
_reading = threading.Lock()


def use_database(url) -> None:
    """Read the time from this SQLAlchemy URL's server (PostgreSQL), or from the wall clock (anything else)."""
    global _conninfo, _anchor, _next_read, _parted_from
    conninfo = None
    if url.get_backend_name() == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    if conninfo != _conninfo:
        _conninfo, _anchor, _next_read, _parted_from = conninfo, None, 0.0, float("-inf")


def now() -> datetime:
    """The database's current time, as an aware UTC datetime."""
    if _conninfo is None:
        return datetime.now(timezone.utc)
    if _due(time.monotonic()) and _reading.acquire(blocking=False):
        try:
            mono = time.monotonic()
            if _due(mono):  # not if another thread's reading ended as this one took the lock
                _read(mono)
        finally:
            _reading.release()
    anchor = _anchor
    if anchor is None:
        return datetime.now(timezone.utc)
    return anchor[0] + timedelta(seconds=time.monotonic() - anchor[1])


def _due(mono: float) -> bool:
    """Whether to read the server's clock now: the resync is due, or the wall clock was stepped against the
    monotonic one since the last reading (and no attempt to read was made within JUMP_RETRY_S, or within
    RETRY_S of a failed one)."""
    if mono >= _next_read:
        return True
    anchor = _anchor
    if anchor is None or mono < _parted_from:
        return False
    return abs((time.time() - anchor[2]) - (mono - anchor[1])) > JUMP_S


def _read(mono: float) -> None:
    """Take a reading of the server's clock, placed at the midpoint of the quickest of SAMPLES round trips.

    A reading is off by up to half its round trip, and processes compare the times they write (a heartbeat
    one wrote, a staleness another judges). The first query on a new connection is the slowest (0.8 ms
    against 0.3 ms for the next, measured here), and on a busy host one took 257 ms: 128 ms of possible
    error from one reading, where the quickest of three was under a millisecond.
    """
    global _anchor, _next_read, _parted_from
    _parted_from = mono + JUMP_RETRY_S
    try:
        with psycopg.connect(_conninfo, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
            best = None
            for _ in range(SAMPLES):  # the quickest round trip places the server's time most tightly
                sent, sent_wall = time.monotonic(), time.time()
                (server,) = conn.execute("SELECT clock_timestamp()").fetchone()
                back, back_wall = time.monotonic(), time.time()
                if best is None or back - sent < best[2] - best[1]:
                    best = (server, sent, back, sent_wall, back_wall)
    except psycopg.Error as exc:
        log.warning("clock: could not read the database's time (%s); %s", exc,
                    "keeping the last reading" if _anchor else "using the wall clock")
        _next_read = _parted_from = mono + RETRY_S
        return
    server, sent, back, sent_wall, back_wall = best
    _anchor = (server.astimezone(timezone.utc), (sent + back) / 2, (sent_wall + back_wall) / 2)
    _next_read = back + RESYNC_S
