"""Webhook jobs: send a batch of new deliveries; every minute, send whatever is due (retries, lost jobs).

Both commit after each delivery: a row lock is held only while its one request is in flight, and
a crash loses at most the attempt in progress, never the record of the ones already made.
"""
import time

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.webhooks import delivery
from workers.context import job

SWEEP_BUDGET_S = 50  # the sweep runs every minute; leave the rest to the next one
SWEEP_LIMIT = 500


@job
def deliver(delivery_ids: list[int]) -> dict:
    """Attempt each delivery of a batch that is still due; returns {id: status} for those attempted."""
    outcomes = {}
    for delivery_id in delivery_ids:
        status = delivery.attempt(delivery_id=delivery_id, now=utcnow())
        db.session.commit()
        if status:
            outcomes[delivery_id] = status
    return outcomes


@job
def sweep_due_deliveries() -> int:
    """Attempt due deliveries, most overdue first, for up to SWEEP_BUDGET_S; returns how many."""
    deadline = time.monotonic() + SWEEP_BUDGET_S
    attempted = 0
    while attempted < SWEEP_LIMIT and time.monotonic() < deadline:
        if delivery.attempt_next_due(now=utcnow()) is None:
            break
        db.session.commit()
        attempted += 1
    return attempted
