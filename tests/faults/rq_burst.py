"""The worker class of the fault tests' burst workers (imported by the `rq worker` subprocess)."""
from rq.worker import SimpleWorker


class BurstWorker(SimpleWorker):
    """A SimpleWorker without the command channel, which a burst run has no use for.

    RQ 3.0 runs its pubsub thread with a 60 s `sleep_time`, and redis-py 8.2's `PubSubWorkerThread.stop()`
    joins that thread: a worker leaving could wait out the whole minute, which made recovery times
    read 64 s instead of 4.
    """

    def subscribe(self):
        pass
