"""Background jobs are queued during a transaction and sent only after it commits.

With `REDIS_URL` set, jobs go to RQ queues by dotted path (marketplace/ never imports workers/;
the queue names and their retry policies live here). Without it (the embedded default) each job
runs inline right after the commit, in the same process, through the same job wrapper a worker
would use: the one place a job body is loaded by its path, as RQ's worker loads it.
"""
import importlib
import logging
from dataclasses import dataclass

from croniter import croniter  # rq's own dependency: rq cron parses the same expressions
from flask import Flask, current_app
from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)

# The queues, and how often a failed job of each is tried again. Workers serve them in ALL's order.
DEFAULT = "default"      # money: payouts, refunds, Stripe events
TRUTH = "truth"
# Webhook deliveries wait on requesters' servers (up to 10 s each). On their own queue a worker
# takes waiting money jobs before them; a worker serving only this queue (README) keeps a slow or
# flooded endpoint from ever occupying the workers that pay people.
WEBHOOKS = "webhooks"
MAINTENANCE = "maintenance"
# Imports and exports run for minutes: on their own queue (and their own timeout, TRANSFER_JOB_TIMEOUT_S)
# a big one never holds up the short jobs; served last, or by a worker of its own.
TRANSFERS = "transfers"
ALL = (DEFAULT, TRUTH, WEBHOOKS, MAINTENANCE, TRANSFERS)
_RETRIES = {
    DEFAULT: Retry(max=3, interval=[10, 60, 300]),
    TRUTH: Retry(max=5, interval=[5, 30, 60, 300, 900]),
    WEBHOOKS: Retry(max=3, interval=[10, 60, 300]),  # a lost batch; each delivery also has its own backoff
    MAINTENANCE: Retry(max=2, interval=[30, 120]),
    TRANSFERS: Retry(max=3, interval=[10, 60, 300]),  # each run resumes from the last checkpoint
}
# Queues whose jobs may run longer than RQ_JOB_TIMEOUT_S: the setting that gives their timeout.
_TIMEOUT_SETTINGS = {TRANSFERS: "TRANSFER_JOB_TIMEOUT_S"}

PENDING = "pending_jobs"
DEBOUNCE_PREFIX = "marketplace:debounce:"
DEBOUNCE_TTL_S = 900
COUNT_PREFIX = "marketplace:count:"
COUNT_TTL_S = 7 * 86_400  # a count untouched this long starts again
REDIS_TIMEOUT_S = 5


@dataclass(frozen=True)
class JobCall:
    queue: str
    path: str
    args: tuple
    debounce: bool
    every: int = 0
    retry: Retry | None = None  # None: the queue's policy


@dataclass(frozen=True)
class Job:
    """A background job as its feature declares it (in the feature's jobs.py): how it is sent and run.

    `path` names the body in workers/ (RQ imports it by this path; marketplace/ never does, but in
    inline mode). `debounce`: at most one copy of (job, args) waits at a time. `every`: sent on
    every n-th call only (needs Redis). `retry`: None for the queue's policy.

    A periodic job has one schedule, which workers/cron.py registers with rq cron. `interval_s`: run
    this often, and once when the scheduler starts (right for sweeps: running one early is harmless).
    `cron`: a cron expression in UTC, for work that must happen at set times and never because a
    process restarted (payouts, reconciliation); `cron_setting` names the config setting that may
    replace it (the expression given here is that setting's default).
    """

    path: str
    queue: str = DEFAULT
    debounce: bool = False
    every: int = 0
    interval_s: int | None = None
    retry: Retry | None = None
    cron: str | None = None
    cron_setting: str | None = None

    def __post_init__(self) -> None:
        # Refused when declared (at import), so a wrong schedule never reaches a running scheduler.
        if self.interval_s is not None and self.cron is not None:
            raise ValueError(f"{self.path}: give either interval_s or cron, not both")
        if self.interval_s is not None and self.interval_s <= 0:
            raise ValueError(f"{self.path}: interval_s must be a positive number of seconds")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"{self.path}: {self.cron!r} is not a cron expression")
        if self.cron_setting is not None and self.cron is None:
            raise ValueError(f"{self.path}: cron_setting needs a default cron expression")

    @property
    def periodic(self) -> bool:
        """Whether the job runs on a schedule (rq cron) rather than when something sends it."""
        return self.interval_s is not None or self.cron is not None

    def schedule(self, config) -> dict:
        """rq cron's schedule arguments for this job under `config` ({} for a job that is not periodic)."""
        if self.interval_s is not None:
            return {"interval": self.interval_s}
        if self.cron is None:
            return {}
        return {"cron": getattr(config, self.cron_setting) if self.cron_setting else self.cron}

    def after_commit(self, *args) -> None:
        """Send this job with `args` once the current transaction commits (dropped on rollback)."""
        enqueue_after_commit(self.path, *args, queue=self.queue, debounce=self.debounce, every=self.every,
                             retry=self.retry)


# The features that declare jobs (each has a jobs.py of Job constants).
JOB_FEATURES = ("assignments", "forecasts", "idempotency", "payments", "results", "transfers", "webhooks")


def periodic_paths() -> frozenset[str]:
    """The dotted paths of every periodic job the features declare."""
    return frozenset(job.path for job in declared() if job.periodic)


def declared() -> list[Job]:
    """Every job the features declare, in feature then name order."""
    found = []
    for feature in JOB_FEATURES:
        module = importlib.import_module(f"marketplace.{feature}.jobs")
        found += [value for _, value in sorted(vars(module).items()) if isinstance(value, Job)]
    return found


def retry_for(queue: str) -> Retry:
    """Return the retry policy of a queue."""
    return _RETRIES[queue]


def init_app(app: Flask) -> None:
    """Remember how jobs are dispatched; no connection is opened here."""
    app.extensions["queue"] = {"redis": None}


def redis_connection() -> Redis | None:
    """Return the app's Redis client (created on first use), or None in inline mode."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    state = current_app.extensions["queue"]
    if state["redis"] is None:
        # A Redis that hangs rather than refuses must not hang every request after its commit.
        state["redis"] = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
    return state["redis"]


def _session():
    from marketplace.extensions import db

    return db.session


def enqueue_after_commit(job_path: str, *args, queue: str = DEFAULT, debounce: bool = False, every: int = 0,
                         retry: Retry | None = None) -> None:
    """Queue a job to be sent once the current transaction commits; dropped on rollback.

    Features send their declared jobs with Job.after_commit; this is the primitive underneath.

    `debounce` sends at most one copy of (job, args) until that job starts running: a project
    closing a thousand tasks gets one aggregation job, not a thousand. `every` sends it only on
    every n-th committed call for (job, args), counted across processes in Redis (one round trip):
    a per-answer check that need not run per answer. Without Redis such a job is never sent: run
    inline it would hold up the n-th request (the demo and the periodic jobs do without it).
    """
    _session().info.setdefault(PENDING, []).append(JobCall(queue, job_path, tuple(args), debounce, every, retry))


def discard_pending() -> None:
    """Forget the jobs queued in a transaction that rolled back."""
    _session().info.pop(PENDING, None)


def dispatch_committed() -> None:
    """Send the jobs queued in the transaction that just committed."""
    calls = _session().info.pop(PENDING, None) or []
    seen = set()
    for call in calls:
        key = (call.path, call.args)
        if call.debounce and key in seen:
            continue
        seen.add(key)
        try:
            _dispatch(call)
        except Exception:
            # The database is the source of truth: a periodic sweep re-enqueues lost work.
            log.exception("could not dispatch job %s%r", call.path, call.args)


def debounce_key(job_path: str, args: tuple) -> str:
    """Return the Redis key that marks (job, args) as already queued."""
    return DEBOUNCE_PREFIX + job_path + ":" + ",".join(map(str, args))


def count_key(job_path: str, args: tuple) -> str:
    """Return the Redis key that counts the calls of an `every` job."""
    return COUNT_PREFIX + job_path + ":" + ",".join(map(str, args))


def _dispatch(call: JobCall) -> None:
    redis = redis_connection()
    if call.every:
        if redis is None:
            return
        key = count_key(call.path, call.args)
        n, _ = redis.pipeline(transaction=False).incr(key).expire(key, COUNT_TTL_S).execute()
        if n % call.every:
            return
    if redis is None:
        _run_inline(call)
        return
    if call.debounce and not redis.set(debounce_key(call.path, call.args), 1, nx=True, ex=DEBOUNCE_TTL_S):
        return
    Queue(call.queue, connection=redis).enqueue(
        call.path,
        *call.args,
        retry=call.retry or retry_for(call.queue),
        job_timeout=current_app.config[_TIMEOUT_SETTINGS.get(call.queue, "RQ_JOB_TIMEOUT_S")],
    )


def _run_inline(call: JobCall) -> None:
    module_path, name = call.path.rsplit(".", 1)
    func = getattr(importlib.import_module(module_path), name)
    try:
        func(*call.args)
    except Exception:
        log.exception("inline job %s%r failed", call.path, call.args)


def status() -> dict:
    """Report the queue backend and whether it answers."""
    redis = redis_connection()
    if redis is None:
        return {"backend": "inline", "ok": True}
    try:
        redis.ping()
        return {"backend": "redis", "ok": True}
    except Exception as exc:  # any connection failure is a health finding, not a crash
        return {"backend": "redis", "ok": False, "error": type(exc).__name__}
