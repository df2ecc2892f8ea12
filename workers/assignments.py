"""Lease jobs."""
from marketplace.assignments import services
from marketplace.db import utcnow
from workers.context import job


@job
def expire_leases() -> int:
    """Return expired leases' slots to the pool."""
    return services.expire_leases(now=utcnow())
