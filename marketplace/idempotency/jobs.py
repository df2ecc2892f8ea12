"""The jobs the idempotency feature runs: the hourly purge of expired keys."""
from marketplace.queue import MAINTENANCE, Job

PURGE_KEYS = Job("workers.idempotency.purge_keys", MAINTENANCE, interval_s=3600)
