"""The webhook jobs, on their own queue (a slow endpoint never delays the workers that pay people)."""
from marketplace.queue import WEBHOOKS, Job

DELIVER = Job("workers.webhooks.deliver", WEBHOOKS)
SWEEP_DUE_DELIVERIES = Job("workers.webhooks.sweep_due_deliveries", WEBHOOKS, interval_s=60)
