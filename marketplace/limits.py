"""Rate limits (Flask-Limiter): login per client and per account, sign-up per client, a budget per credential.

Login is the cheapest way to starve the API (argon2 is slow on purpose), so its limits are checked
before the view runs: a refused attempt costs a counter increment, not a password hash. Three kinds:
- `LOGIN_PER_CLIENT`: every login attempt, per client address.
- `LOGIN_FAILURES_PER_ACCOUNT`: failed attempts only (401), per email, in tiers (a minute, an hour, a
  day), so guessing slows down step by step until the account's login is locked for the longest
  window; tokens already issued keep working. Distributed guessing from many addresses meets it too.
- `SIGNUP_PER_CLIENT`: registrations per client address, requester and annotator together.
- `API`: every other call, per credential (the bearer's public prefix; the client address without
  one), shared across all routes.

Limits are strings in the app's config, read per request, so tests and deployments change them
without code. Counters live in Redis when RATELIMIT_STORAGE_URI names it (production), in memory in
the embedded mode. A refusal is a 429 in the one error shape with `Retry-After`; every limited
response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the
window resets, as the IETF draft says).
"""
import functools
import logging
import json
import math
import threading
import time

from apispec import BasePlugin
from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from limits import parse_many
from limits.storage import storage_from_string
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace.errors import DomainError

log = logging.getLogger(__name__)

# Endpoints outside the per-credential budget: liveness probes and Stripe's signed deliveries
# (Stripe retries on 429, which would only delay money events).
EXEMPT_ENDPOINTS = frozenset({"health.Health", "payments.StripeWebhook", "metrics"})
# Routes with limits of their own (Flask-Limiter decorators below), all in one blueprint.
LIMITED_BLUEPRINT = "accounts"
ROUTE_LIMITED = frozenset({"accounts.Tokens", "accounts.Requesters", "accounts.Annotators"})
assert all(endpoint.startswith(LIMITED_BLUEPRINT + ".") for endpoint in ROUTE_LIMITED)
RESET_HEADER = "RateLimit-Reset"


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For hop when TRUST_PROXY_HOPS says so)."""
    return request.remote_addr or "unknown"


def credential_key() -> str:
    """The bearer's public prefix (`mk_ab12…`, never the secret), or the client address without one."""
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    public, dot, _secret = bearer.strip().partition(".")
    if scheme.lower() == "bearer" and dot and 0 < len(public) <= 24:
        return f"credential:{public}"
    return f"address:{client_address()}"


def login_email() -> str:
    """The email a login attempt names (normalised as the login does); a constant when unreadable."""
    try:
        data = json.loads(request.get_data(cache=True, as_text=True) or "null")
    except ValueError:
        data = None
    email = data.get("email") if isinstance(data, dict) else None
    return f"email:{email.strip().lower()[:320]}" if isinstance(email, str) else "email:-"


def _config(name: str):
    return lambda: current_app.config[name]


def _switched_off() -> bool:
    return not current_app.config["RATE_LIMITS_ENABLED"]


def _not_route_limited() -> bool:
    """Flask-Limiter works only where a route has its own limits (login, sign-up): elsewhere it would
    resolve and evaluate its limit tables on every request (~0.5 ms each); the per-credential budget
    is one counter increment instead (_check_budget)."""
    return _switched_off() or request.endpoint not in ROUTE_LIMITED


limiter = Limiter(key_func=credential_key, headers_enabled=True, retry_after="delta-seconds", key_prefix="marketplace")
limiter.request_filter(_not_route_limited)  # per app: one limiter serves every app a process builds (tests)


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


class WindowCounts:
    """In-process fixed-window counters: the per-credential budget's storage without Redis (embedded mode).

    limits' MemoryStorage starts a timer thread to expire keys on nearly every increment: under load,
    a thread per request, 7% of a lease's time in the lease benchmark. These expire lazily instead (a
    key whose window ended starts again at 1, as in MemoryStorage), and ended windows are swept only
    when the table grows past MAX_KEYS.
    """

    MAX_KEYS = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, int]] = {}

    def incr(self, key: str, expiry: float) -> int:
        now = time.time()
        with self._lock:
            end, count = self._counts.get(key, (0.0, 0))
            if end <= now:
                end, count = now + expiry, 0
            self._counts[key] = (end, count + 1)
            if len(self._counts) > self.MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            return count + 1

    def get_expiry(self, key: str) -> float:
        return self._counts.get(key, (time.time(), 0))[0]

    def reset(self) -> None:
        """Forget every count (as limits' storages do)."""
        with self._lock:
            self._counts.clear()


@functools.lru_cache(maxsize=32)
def _budget(text: str) -> tuple:
    return tuple(parse_many(text))


@functools.lru_cache(maxsize=8192)
def _counter_key(item, key: str) -> str:
    return item.key_for("marketplace", "api", key)


def _check_budget() -> None:
    """Count this request against its credential's budget (RATELIMIT_API): one increment per window."""
    endpoint = request.endpoint
    if _switched_off() or endpoint in EXEMPT_ENDPOINTS or endpoint is None:
        return
    app = current_app._get_current_object()
    key, storage = credential_key(), app.extensions["rate_budget"]
    tightest = None
    for item in _budget(app.config["RATELIMIT_API"]):
        counter = _counter_key(item, key)
        try:
            count = storage.incr(counter, item.get_expiry())
        except Exception:  # the shared counters' Redis is down: count in this process until it is back
            _storage_down()
            storage = current_app.extensions["rate_budget_fallback"]
            count = storage.incr(counter, item.get_expiry())
        if count > item.amount:
            wait = max(1, math.ceil(storage.get_expiry(counter) - time.time()))
            raise RateLimited(f"This credential made more than {item} requests; wait {wait} s.", headers={
                "Retry-After": str(wait), "RateLimit-Limit": str(item.amount), "RateLimit-Remaining": "0",
                RESET_HEADER: str(wait)})
        if tightest is None or item.amount - count < tightest[1]:
            tightest = (item.amount, item.amount - count)
    g.rate_budget = tightest


_LAST_WARNED = [0.0]
WARN_EVERY_S = 60


def _storage_down() -> None:
    """Say (at most once a minute per process) that rate limits count per process while Redis is down."""
    now = time.monotonic()
    if now - _LAST_WARNED[0] >= WARN_EVERY_S:
        _LAST_WARNED[0] = now
        log.warning("rate-limit storage unreachable: counting per process until it answers", exc_info=True)


def _budget_headers(response):
    budget = g.get("rate_budget")
    if budget is not None and "RateLimit-Limit" not in response.headers:
        response.headers["RateLimit-Limit"], response.headers["RateLimit-Remaining"] = map(str, budget)
    return response

# The decorators routes use.
login_per_client = limiter.limit(_config("RATELIMIT_LOGIN_PER_CLIENT"), key_func=lambda: f"address:{client_address()}")
login_failures_per_account = limiter.limit(
    _config("RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT"),
    key_func=login_email,
    deduct_when=lambda response: response.status_code == 401,
    error_message="Too many failed logins for this account; wait and try again.",
)
signup_per_client = limiter.shared_limit(_config("RATELIMIT_SIGNUP_PER_CLIENT"), scope="signup",
                                         key_func=lambda: f"address:{client_address()}")


def _reset_in_seconds(response):
    """Flask-Limiter writes the reset as an epoch time; the RateLimit-Reset draft wants seconds from now."""
    value = response.headers.get(RESET_HEADER)
    if value and value.isdigit() and int(value) > 1_000_000_000:
        response.headers[RESET_HEADER] = str(max(0, int(value) - int(time.time())))
    return response


def init_app(app: Flask) -> None:
    """Trust the configured proxy hops for the client address, then bind the limiter."""
    hops = app.config["TRUST_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    app.config.setdefault("RATELIMIT_HEADER_LIMIT", "RateLimit-Limit")
    app.config.setdefault("RATELIMIT_HEADER_REMAINING", "RateLimit-Remaining")
    app.config.setdefault("RATELIMIT_HEADER_RESET", RESET_HEADER)
    app.after_request(_budget_headers)
    # The budget's counters are the app's own (Flask-Limiter's storage belongs to its one instance).
    uri = app.config["RATELIMIT_STORAGE_URI"]
    app.extensions["rate_budget"] = WindowCounts() if uri.startswith("memory://") else storage_from_string(uri)
    app.extensions["rate_budget_fallback"] = WindowCounts()
    # Flask-Limiter's own limits (login, sign-up) likewise count in memory while Redis is down, and a
    # storage error never fails the request: Redis is not needed to serve the API.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    _bind_to_limited_blueprint(app, limiter.init_app)
    app.before_request(_check_budget)


def _bind_to_limited_blueprint(app: Flask, init) -> None:
    """Run `init` (Flask-Limiter's init_app), then move the request hooks it added to LIMITED_BLUEPRINT.

    Flask-Limiter hooks every request (before, after and teardown), though only ROUTE_LIMITED's routes
    have limits: about 7% of a lease's CPU spent deciding there is nothing to do. As blueprint hooks
    they run for that blueprint's requests only, after the app's own before-hooks (the budget, the
    body checks) and before its after-hooks; _reset_in_seconds, added first, runs after the limiter's.
    """
    app.after_request_funcs.setdefault(LIMITED_BLUEPRINT, []).append(_reset_in_seconds)  # runs after the limiter's
    registries = (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs)
    counts = [len(registry.get(None, ())) for registry in registries]
    init(app)
    for registry, count in zip(registries, counts):
        added = registry.get(None, [])[count:]
        del registry.get(None, [])[count:]
        registry.setdefault(LIMITED_BLUEPRINT, []).extend(added)


class DocumentLimits(BasePlugin):
    """Document the 429 (and its headers) on every operation the limits can refuse."""

    HEADERS = {
        "Retry-After": "Seconds to wait before trying again.",
        "RateLimit-Limit": "Requests allowed in the current window.",
        "RateLimit-Remaining": "Requests left in the current window.",
        "RateLimit-Reset": "Seconds until the current window resets.",
    }

    def init_spec(self, spec):
        super().init_spec(spec)
        spec.components.response("RATE_LIMITED", {
            "description": "A rate limit was reached (login, sign-up, or the per-credential budget).",
            "headers": {name: {"description": text, "schema": {"type": "integer"}} for name, text in self.HEADERS.items()},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        })

    def operation_helper(self, path=None, operations=None, **kwargs):
        if path and path.rstrip("/").endswith(("/health", "/payments/stripe/webhook")):
            return  # EXEMPT_ENDPOINTS
        for operation in (operations or {}).values():
            operation.setdefault("responses", {}).setdefault("429", "RATE_LIMITED")
