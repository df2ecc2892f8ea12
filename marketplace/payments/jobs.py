"""The jobs the payments feature runs, with their queue and schedule (money first: the default queue).

Payouts and reconciliation run at set times (cron, UTC, from the config's defaults or the environment):
on an interval, rq cron would also run them every time the scheduler restarts.
"""
from marketplace.config import Config
from marketplace.queue import DEFAULT, MAINTENANCE, Job

PROCESS_STRIPE_EVENT = Job("workers.payments.process_stripe_event", DEFAULT)
SWEEP_STRIPE_EVENTS = Job("workers.payments.sweep_stripe_events", DEFAULT, interval_s=120)
SEND_PAYOUT = Job("workers.payments.send_payout", DEFAULT)
RUN_PAYOUTS = Job("workers.payments.run_payouts", DEFAULT, cron=Config.PAYOUTS_CRON, cron_setting="PAYOUTS_CRON")
SEND_REFUND = Job("workers.payments.send_refund", DEFAULT)
RECONCILE = Job("workers.payments.reconcile", MAINTENANCE, cron=Config.RECONCILE_CRON, cron_setting="RECONCILE_CRON")
APPROVE_DUE_ANSWERS = Job("workers.payments.approve_due_answers", MAINTENANCE, interval_s=300)
SWEEP_MONEY_JOBS = Job("workers.payments.sweep_money_jobs", DEFAULT, interval_s=600)
CHECK_ESCROW_HOLDS = Job("workers.payments.check_escrow_holds", MAINTENANCE, interval_s=3600)
