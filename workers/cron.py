"""Periodic jobs for `rq cron workers/cron.py` (RQ >= 2.5): every job a feature declares with a schedule.

Sweeps run on their interval (rq cron also runs each once at start: a sweep run early is harmless).
Payouts and reconciliation run on cron expressions in UTC, read from the environment like every
other setting (PAYOUTS_CRON, RECONCILE_CRON): a restart of this process must never start an extra
payout run. RQ matches cron fields against the process's local time, so this process runs in UTC.
"""
import importlib
import os
import time

from rq import cron

from marketplace import queue
from marketplace.config import config_from_env


def _body(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _use_utc() -> None:
    """Make local time UTC in this process, so RQ reads our UTC expressions as UTC."""
    os.environ["TZ"] = "UTC"
    time.tzset()


_use_utc()
_settings = config_from_env()
for declared in queue.declared():
    schedule = declared.schedule(_settings)
    if schedule:
        cron.register(_body(declared.path), queue_name=declared.queue, **schedule)
