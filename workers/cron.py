"""Periodic jobs for `rq cron workers/cron.py` (RQ >= 2.5)."""
from rq import cron

from marketplace import queue as queues
from workers.assignments import expire_leases
from workers.results import recompute_due_projects, sweep_unaggregated
from workers.payments import (approve_due_answers, check_escrow_holds, reconcile, run_payouts, sweep_money_jobs,
                              sweep_stripe_events)
from workers.webhooks import sweep_due_deliveries

cron.register(expire_leases, queue_name=queues.MAINTENANCE, interval=60)
cron.register(sweep_unaggregated, queue_name=queues.MAINTENANCE, interval=120)
cron.register(recompute_due_projects, queue_name=queues.TRUTH, interval=180)
cron.register(sweep_due_deliveries, queue_name=queues.WEBHOOKS, interval=60)
cron.register(approve_due_answers, queue_name=queues.MAINTENANCE, interval=300)
cron.register(sweep_stripe_events, queue_name=queues.DEFAULT, interval=120)
cron.register(run_payouts, queue_name=queues.DEFAULT, interval=86_400)
cron.register(reconcile, queue_name=queues.MAINTENANCE, interval=86_400)
cron.register(sweep_money_jobs, queue_name=queues.DEFAULT, interval=600)
cron.register(check_escrow_holds, queue_name=queues.MAINTENANCE, interval=3600)
