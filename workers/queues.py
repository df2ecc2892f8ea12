"""Queue names and their retry policies."""
from rq import Retry

DEFAULT = "default"
TRUTH = "truth"
MAINTENANCE = "maintenance"

ALL = (DEFAULT, TRUTH, MAINTENANCE)

_RETRIES = {
    DEFAULT: Retry(max=3, interval=[10, 60, 300]),
    TRUTH: Retry(max=5, interval=[5, 30, 60, 300, 900]),
    MAINTENANCE: Retry(max=2, interval=[30, 120]),
}


def retry_for(queue: str) -> Retry:
    """Return the retry policy of a queue."""
    return _RETRIES[queue]
