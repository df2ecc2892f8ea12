"""Periodic jobs for `rq cron workers/cron.py` (RQ >= 2.5)."""
from rq import cron

from workers import queues
from workers.assignments import expire_leases
from workers.quality import recompute_open_projects
from workers.results import sweep_unaggregated

cron.register(expire_leases, queue_name=queues.MAINTENANCE, interval=60)
cron.register(sweep_unaggregated, queue_name=queues.MAINTENANCE, interval=120)
cron.register(recompute_open_projects, queue_name=queues.TRUTH, interval=300)
