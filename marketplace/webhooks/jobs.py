"""Dotted paths of the webhook jobs."""

DELIVER = "workers.webhooks.deliver"
SWEEP_DUE_DELIVERIES = "workers.webhooks.sweep_due_deliveries"
