"""Periodic jobs for `rq cron workers/cron.py` (RQ >= 2.5)."""
from rq import cron

from workers import queues
from workers.assignments import expire_leases
from workers.results import recompute_due_projects, sweep_unaggregated
from workers.webhooks import sweep_due_deliveries

cron.register(expire_leases, queue_name=queues.MAINTENANCE, interval=60)
cron.register(sweep_unaggregated, queue_name=queues.MAINTENANCE, interval=120)
cron.register(recompute_due_projects, queue_name=queues.TRUTH, interval=180)
cron.register(sweep_due_deliveries, queue_name=queues.DEFAULT, interval=60)
