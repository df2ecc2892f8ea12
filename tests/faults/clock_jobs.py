"""Jobs the clock-jump test queues for a real worker: one steps the worker's wall clock, one reports its clocks."""
from datetime import datetime, timezone
from pathlib import Path

from marketplace.db import utcnow
from workers.context import job


@job
def step_wall_clock(faketime_file: str, offset: str) -> str:
    """Read the clock (the process's first reading of the database's), then step the wall clock by `offset`."""
    before = utcnow()
    Path(faketime_file).write_text(offset + "\n")  # libfaketime reads it again at every call (FAKETIME_NO_CACHE)
    return before.isoformat()


@job
def clocks() -> dict:
    """This process's wall clock and its clock of record, side by side."""
    return {"wall": datetime.now(timezone.utc).isoformat(), "now": utcnow().isoformat()}
