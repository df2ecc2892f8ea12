"""Idempotency jobs."""
from marketplace.db import utcnow
from marketplace.idempotency import store
from marketplace.idempotency.keys import TTL
from workers.context import job


@job
def purge_keys() -> int:
    """Delete idempotency keys past their 24 h."""
    return store.purge(before=utcnow() - TTL)
