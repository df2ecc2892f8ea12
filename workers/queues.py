"""Queue names and their retry policies."""
from rq import Retry

DEFAULT = "default"      # money: payouts, refunds, Stripe events
TRUTH = "truth"
# Webhook deliveries wait on requesters' servers (up to 10 s each). On their own queue a worker
# takes waiting money jobs before them; a worker serving only this queue (README) keeps a slow or
# flooded endpoint from ever occupying the workers that pay people.
WEBHOOKS = "webhooks"
MAINTENANCE = "maintenance"

ALL = (DEFAULT, TRUTH, WEBHOOKS, MAINTENANCE)

_RETRIES = {
    DEFAULT: Retry(max=3, interval=[10, 60, 300]),
    TRUTH: Retry(max=5, interval=[5, 30, 60, 300, 900]),
    WEBHOOKS: Retry(max=3, interval=[10, 60, 300]),  # a lost batch; each delivery also has its own backoff
    MAINTENANCE: Retry(max=2, interval=[30, 120]),
}


def retry_for(queue: str) -> Retry:
    """Return the retry policy of a queue."""
    return _RETRIES[queue]
