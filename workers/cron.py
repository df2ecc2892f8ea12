"""Periodic jobs for `rq cron workers/cron.py` (RQ >= 2.5): every job a feature declares with an interval."""
import importlib

from rq import cron

from marketplace import queue


def _body(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


for declared in queue.declared():
    if declared.interval_s:
        cron.register(_body(declared.path), queue_name=declared.queue, interval=declared.interval_s)
