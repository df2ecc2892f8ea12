"""Prometheus metrics and the `GET /metrics` endpoint that exposes them.

Why these and where they are counted: each figure is taken where it is cheapest and certain.
- Request latency: one histogram observed in an after_request hook, labelled by the URL rule
  (`/api/v1/tasks/<int:task_id>`, never the path: ids would make a series per object), method and
  status. A request no rule matched is `unmatched`.
- Leases and answers: derived from successful responses of their two endpoints, so the hot lease
  and answer paths run no extra code.
- Tasks closed and escalated, webhook attempts, payouts, recompute and job durations: one call at
  the single place each happens (answering.py, webhooks/delivery.py, payments/payouts.py,
  results/recompute.py, workers/context.py, which runs every job, inline or under RQ). A counter
  moved inside a transaction that later rolls back (a bug, a lost connection) counts once too many.
- Queue depths: read from Redis when scraped (QueueDepths), never pushed.

Multiprocess mode: gunicorn's workers and the RQ workers are separate processes, each with its own
counters. With PROMETHEUS_MULTIPROC_DIR set (before any process starts: prometheus_client reads it
at import) every process writes its values to files there, and the endpoint sums them with
MultiProcessCollector on a registry built per scrape. The directory must be emptied at each deploy
start (old processes' files would be summed forever); gunicorn.conf.py's child_exit drops a dead
worker's live files. Without it, the process's default registry is exposed.

The endpoint sits at the root (the Prometheus convention), outside /api/v1 and the OpenAPI document.
Who may scrape it: see `_authorize`.
"""
import functools
import hmac
import ipaddress
import time

from flask import Flask, Response, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from marketplace import logs, queue
from marketplace.errors import Forbidden, Unauthorized

ENDPOINT = "metrics"  # the view's endpoint name (limits.EXEMPT_ENDPOINTS lists it)
UNMATCHED = "unmatched"
REPLAYED_HEADER = "Idempotent-Replayed"  # DESIGN §9: an Idempotency-Key replay
REDIS_TIMEOUT_S = 0.5  # a scrape waits this long for Redis at most, then reports it down
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-Ip")
# Any token is a method to HTTP: a client inventing them must not invent new series (each costs memory forever).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_SECONDS = Histogram(
    "marketplace_http_request_duration_seconds", "API request latency to the end of the view, by URL rule.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LEASES = Counter("marketplace_leases", "Leases granted (201 from POST /projects/{id}/assignments).")
ANSWERS = Counter("marketplace_answers", "Answers accepted (200 from POST /assignments/{id}/answer).")
TASKS_CLOSED = Counter("marketplace_tasks_closed", "Tasks closed after an answer: `redundancy` (all its answers "
                       "in) or `confidence` (the redundancy policy reached its target).", ["reason"])
TASKS_ESCALATED = Counter("marketplace_tasks_escalated", "Tasks the redundancy policy escalated to review.")
JOB_SECONDS = Histogram(
    "marketplace_job_duration_seconds", "Background job run time, commit included, by job path.", ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800),
)
JOB_FAILURES = Counter("marketplace_job_failures", "Background job runs that raised (RQ may retry them).", ["job"])
RECOMPUTE_SECONDS = Histogram(
    "marketplace_recompute_duration_seconds", "Project truth recomputes (Dawid-Skene and relatives), wall time.",
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
WEBHOOK_ATTEMPTS = Counter("marketplace_webhook_attempts", "Webhook delivery attempts by outcome: delivered, "
                           "retrying (failed, another attempt is scheduled) or failed (given up).", ["outcome"])
PAYOUTS_PAID = Counter("marketplace_payouts_paid", "Payouts Stripe accepted, by currency.", ["currency"])
PAYOUTS_PAID_CENTS = Counter("marketplace_payouts_paid_cents", "Money paid out, in minor units, by currency.",
                             ["currency"])

# (endpoint, method, status) of the responses that count a business event.
_RESPONSE_COUNTERS = {
    ("assignments.ProjectAssignments", "POST", 201): LEASES,
    ("assignments.AssignmentAnswer", "POST", 200): ANSWERS,
}
_OUTCOMES = {"pending": "retrying"}  # a delivery still pending after an attempt will be tried again


def task_closed(reason: str) -> None:
    """Count a task closed after an answer (`redundancy` or `confidence`)."""
    TASKS_CLOSED.labels(reason).inc()


def policy_decided(decision):
    """Count what the redundancy policy decided after an answer; returns the decision unchanged."""
    if decision == "close":  # the policy's Decision is a str enum; a task it found already closed is counted elsewhere
        task_closed("confidence")
    elif decision == "escalate":
        TASKS_ESCALATED.inc()
    return decision


def webhook_attempted(status: str | None) -> str | None:
    """Count one delivery attempt by the status it left the delivery in; returns the status unchanged."""
    if status is not None:
        WEBHOOK_ATTEMPTS.labels(_OUTCOMES.get(status, status)).inc()
    return status


def payout_paid(amount_cents: int, currency: str) -> None:
    """Count a payout Stripe accepted, and its amount."""
    PAYOUTS_PAID.labels(currency).inc()
    PAYOUTS_PAID_CENTS.labels(currency).inc(amount_cents)


def recompute_finished(seconds: float) -> None:
    """Record how long a project recompute took."""
    RECOMPUTE_SECONDS.observe(seconds)


class JobTimer:
    """Time one job run by its dotted path, counting it as failed when the block raises."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, kind, error, trace):
        JOB_SECONDS.labels(self.path).observe(time.perf_counter() - self.started)
        if kind is not None:
            JOB_FAILURES.labels(self.path).inc()
        return False


class QueueDepths:
    """Jobs per RQ queue and state, read from Redis at scrape time in one round trip.

    A Redis that is down or slow never fails the scrape: `marketplace_queue_redis_up` says 0 instead.
    Keys are read with LLEN/ZCARD only: rq's own `count` properties would clean registries up first,
    and a scrape should write nothing.
    """

    STATES = (("started", StartedJobRegistry), ("scheduled", ScheduledJobRegistry), ("failed", FailedJobRegistry))

    def __init__(self, url: str):
        self.url = url

    def collect(self):
        up = GaugeMetricFamily("marketplace_queue_redis_up", "1 when Redis answered this scrape's queue lengths.")
        jobs = GaugeMetricFamily("marketplace_queue_jobs", "RQ jobs by queue and state (queued, started, "
                                 "scheduled for a retry, failed).", labels=["queue", "state"])
        try:
            with Redis.from_url(self.url, socket_timeout=REDIS_TIMEOUT_S,
                                socket_connect_timeout=REDIS_TIMEOUT_S) as redis:
                pipe = redis.pipeline(transaction=False)
                for name in queue.ALL:
                    pipe.llen(Queue.redis_queue_namespace_prefix + name)
                    for _, registry in self.STATES:
                        pipe.zcard(registry.key_template.format(name))
                counts = iter(pipe.execute())
        except (RedisError, OSError):
            up.add_metric([], 0)
            yield up
            return
        for name in queue.ALL:
            for state in ("queued", *(state for state, _ in self.STATES)):
                jobs.add_metric([name, state], next(counts))
        up.add_metric([], 1)
        yield up
        yield jobs


@functools.lru_cache(maxsize=4096)
def _latency(route: str, method: str, status: int):
    """REQUEST_SECONDS' child for these labels (labels() takes a lock and builds its key on every call)."""
    return REQUEST_SECONDS.labels(route, method if method in METHODS else "other", str(status))


def _observe(response):
    req = request._get_current_object()  # one context lookup for the reads below
    elapsed = logs.elapsed_s()  # the request clock logs.py starts
    if elapsed is not None:  # None: a hook registered before it failed first
        _latency(req.url_rule.rule if req.url_rule else UNMATCHED, req.method, response.status_code).observe(elapsed)
    counter = _RESPONSE_COUNTERS.get((req.endpoint, req.method, response.status_code))
    if counter is not None and REPLAYED_HEADER not in response.headers:  # a replay is the first response again
        counter.inc()
    return response


def _is_local(address: str | None) -> bool:
    """A loopback or private address that reached us directly (no proxy we are not told to trust)."""
    if not current_app.config["TRUST_PROXY_HOPS"] and any(h in request.headers for h in FORWARDING_HEADERS):
        return False  # forwarded by a proxy: remote_addr is the proxy's, the client may be anyone
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback or ip.is_private


def _authorize() -> None:
    """With METRICS_TOKEN set, its bearer is required; unset, only loopback and private addresses may scrape."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        if not _is_local(request.remote_addr):
            raise Forbidden("Metrics are served to loopback and private addresses only; set METRICS_TOKEN "
                            "to scrape from elsewhere.")
        return
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        raise Unauthorized("Send 'Authorization: Bearer <METRICS_TOKEN>'.", headers={"WWW-Authenticate": "Bearer"})


def registry_for(config) -> CollectorRegistry:
    """A registry for one scrape: every process's values (multiprocess mode) or this one's, plus queue depths."""
    registry = CollectorRegistry()
    directory = config.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(REGISTRY)
    if config.get("REDIS_URL"):
        registry.register(QueueDepths(config["REDIS_URL"]))
    return registry


def _metrics_view():
    """Prometheus exposition (text format, or OpenMetrics when the scraper asks for it)."""
    _authorize()
    encode, content_type = choose_encoder(request.headers.get("Accept"))
    return Response(encode(registry_for(current_app.config)), content_type=content_type,
                    headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    """Time every request, count leases and answers, and serve GET /metrics."""
    app.after_request(_observe)
    app.add_url_rule("/metrics", endpoint=ENDPOINT, view_func=_metrics_view, methods=["GET"])
