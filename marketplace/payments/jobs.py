"""Dotted paths of the jobs the payments feature enqueues."""

PROCESS_STRIPE_EVENT = "workers.payments.process_stripe_event"
SWEEP_STRIPE_EVENTS = "workers.payments.sweep_stripe_events"
SEND_PAYOUT = "workers.payments.send_payout"
RUN_PAYOUTS = "workers.payments.run_payouts"
SEND_REFUND = "workers.payments.send_refund"
RECONCILE = "workers.payments.reconcile"
APPROVE_DUE_ANSWERS = "workers.payments.approve_due_answers"
