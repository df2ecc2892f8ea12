"""The jobs the assignments feature runs, with their queue and schedule."""
from marketplace.queue import MAINTENANCE, Job

EXPIRE_LEASES = Job("workers.assignments.expire_leases", MAINTENANCE, interval_s=60)
