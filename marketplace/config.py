"""Configuration. The environment is read here and only here."""
import os
from pathlib import Path

from croniter import croniter

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _cron(name: str, default: str) -> str:
    """A cron expression (UTC) from the environment, refused at start rather than when the job is due."""
    value = os.environ.get(name) or default
    if not croniter.is_valid(value):
        raise ValueError(f"{name}={value!r} is not a cron expression (minute hour day month weekday, UTC), "
                         f"e.g. {default!r}")
    return value


class Config:
    """Defaults: the embedded mode (SQLite file, jobs inline, no Stripe)."""

    SECRET_KEY = "dev-insecure-secret-change-me"
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{ROOT / 'instance' / 'marketplace.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL: str | None = None
    MIGRATIONS_DIR = str(ROOT / "migrations")
    TOKEN_TTL_S = 24 * 3600
    # How long a process may go on trusting a credential it checked (accounts/principals.py): a revoked
    # key or a suspended account is refused by every process within this many seconds. 0: check every time.
    AUTH_CACHE_S = 5.0
    MAX_TASKS_PER_IMPORT = 10_000
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    RQ_JOB_TIMEOUT_S = 600
    # Level of the JSON log lines on stderr (marketplace/logs.py). None: logging is left as the process
    # set it up (tests, the demo); from the environment it defaults to INFO.
    LOG_LEVEL: str | None = None
    REPUTATION_HALF_LIFE_DAYS = 90.0
    # Outgoing webhooks (marketplace/webhooks). http:// targets only in development; private/loopback
    # targets only for tests and local development (the SSRF guard is off when this is true).
    WEBHOOKS_ALLOW_HTTP = False
    WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    WEBHOOKS_MAX_ATTEMPTS = 6
    WEBHOOKS_TIMEOUT_S = 5.0
    WEBHOOKS_SECRET_KEY: str | None = None  # derives endpoint signing secrets; None: SECRET_KEY
    # Money (marketplace/payments, marketplace/ledger). Without STRIPE_API_KEY the gateway is
    # ledger-only: fundings are simulated (development only) and payouts are recorded as not sent.
    STRIPE_API_KEY: str | None = None
    # Without a Stripe key: simulated money (fundings credited at once, payouts not sent) if this is
    # true, else payments are switched off. The embedded default says yes; from the environment it is
    # an explicit opt-in (PAYMENTS_SIMULATED=1), on by itself only on the SQLite development database.
    PAYMENTS_SIMULATED = True
    STRIPE_WEBHOOK_SECRET: str | None = None
    STRIPE_API_BASE: str | None = None  # e.g. a local fake Stripe in tests; None: Stripe itself
    STRIPE_TIMEOUT_S = 20.0
    STRIPE_MAX_RETRIES = 2
    STRIPE_CONNECT_COUNTRY = "US"
    PLATFORM_FEE_BPS = 2000
    AUTO_APPROVE_AFTER_S = 3 * 86_400
    DISPUTE_WINDOW_DAYS = 14
    PAYOUT_MINIMUM_CENTS = 1000
    PAYOUT_RETURN_URL = "https://example.com/payouts/done"
    PAYOUT_REFRESH_URL = "https://example.com/payouts/retry"
    # When rq cron runs the payout run and the Stripe reconciliation: cron expressions in UTC. The
    # payout schedule is also the payout period: ledger-only mode records one payout per period.
    PAYOUTS_CRON = "0 3 * * *"
    RECONCILE_CRON = "30 3 * * *"

    # Browser origins allowed to call the API (CORS), e.g. ["https://annotate.example.com"]; empty: none.
    CORS_ORIGINS: list[str] = []

    # The quality rules run on about one ordinary answer in this many (secret checkpoints per annotator,
    # never a gold answer) and in every periodic recompute: their effects must not point at a gold answer.
    QUALITY_CHECK_EVERY = 5

    # The shortest wait between qualification attempts (quick retries read the answers off the scores).
    QUALIFICATION_MIN_RETRY_DELAY_S = 3600

    # Rate limits (marketplace/limits.py): Flask-Limiter strings, tiers separated by ";". Counters are
    # kept in RATELIMIT_STORAGE_URI (default: REDIS_URL; in memory, per process, without Redis).
    RATE_LIMITS_ENABLED = True  # not Flask-Limiter's RATELIMIT_ENABLED: that one would switch off every app in the process
    RATELIMIT_STORAGE_URI: str | None = None
    RATELIMIT_LOGIN_PER_CLIENT = "20 per minute; 200 per hour"
    RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT = "5 per minute; 20 per hour; 50 per day"
    RATELIMIT_SIGNUP_PER_CLIENT = "20 per hour"
    RATELIMIT_API = "1200 per minute"
    TRUST_PROXY_HOPS = 0  # reverse proxies in front that append X-Forwarded-For (the client address)
    # GET /metrics (marketplace/metrics.py): with a token, scrapers send it as a bearer; without one,
    # only loopback and private addresses may scrape. The multiprocess directory is prometheus_client's
    # own switch (read by it at import): set, every process writes its values there and /metrics sums them.
    METRICS_TOKEN: str | None = None
    PROMETHEUS_MULTIPROC_DIR: str | None = None

    # A recompute with more results than this stages them and merges them this many tasks per job
    # (results/chunked.py): each merge job takes seconds, far inside RQ_JOB_TIMEOUT_S, at any size.
    RECOMPUTE_CHUNK_TASKS = 100_000

    # Import and export jobs (marketplace/transfers): files live in PostgreSQL as chunks of this size;
    # an import commits this many rows at a time with its checkpoint; results (and failed imports'
    # files) are purged this long after they finish; the sweep re-enqueues a running transfer whose
    # heartbeat (one per committed chunk) is older than TRANSFER_STALE_AFTER_S, a queued one older
    # than TRANSFER_QUEUED_STALE_AFTER_S.
    TRANSFER_CHUNK_BYTES = 1024 * 1024
    TRANSFER_IMPORT_CHUNK_ROWS = 10_000
    TRANSFER_MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024
    TRANSFER_RESULT_TTL_S = 7 * 86_400
    TRANSFER_STALE_AFTER_S = 300
    TRANSFER_QUEUED_STALE_AFTER_S = 600
    TRANSFER_JOB_TIMEOUT_S = 6 * 3600
    TRANSFER_MAX_ATTEMPTS = 10  # runs of one transfer (retries and the sweep's re-enqueues) before it fails
    TRANSFER_FETCH_TIMEOUT_S = 30.0
    # Parse an import's next chunk in a thread while the current one is inserted (PostgreSQL; the
    # thread reads the committed file over a connection of its own).
    TRANSFER_PARSE_AHEAD = True

    API_TITLE = "Labeling marketplace"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    # The browsable reference at /api/v1/docs (Swagger UI; its script comes from the CDN to the browser).
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "Crowdsourced labels for machine-learning data. Requesters post projects (label schema, price, "
                "redundancy, quality rules), import tasks, fund an escrow and get labels with calibrated "
                "confidence; annotators qualify, lease one task at a time, answer and get paid. Authenticate "
                "with `Authorization: Bearer <API key or login token>`. Every error has one shape "
                "(`status`, `type`, `code`, `message`, `param`, `errors`, `request_id`); `code` is stable "
                "and listed in the README's error catalogue."),
        },
        "servers": [{"url": "/", "description": "this deployment"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


# Values anyone can read in this repository or guess: never a key on a real database.
KNOWN_SECRETS = frozenset({Config.SECRET_KEY, "", "secret", "changeme", "change-me", "dev", "development"})


class UnsafeConfig(RuntimeError):
    """The app refuses to start with a setting that would make it unsafe."""


def check_secrets(config) -> None:
    """Refuse to run on PostgreSQL (a real deployment) with a known or empty key.

    SECRET_KEY signs the pseudonyms in exports and tasks' `tsk_` refs: with a known one an annotator
    recovers real task ids and exported annotator ids become reversible. WEBHOOKS_SECRET_KEY, when
    set, derives every endpoint's signing secret. The embedded SQLite mode (the demo) keeps its
    development default.
    """
    if not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        return
    if (config.get("SECRET_KEY") or "") in KNOWN_SECRETS:
        raise UnsafeConfig("SECRET_KEY is unset or a known default value; set SECRET_KEY to a long random value "
                           "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))') before starting "
                           "on PostgreSQL")
    webhooks = config.get("WEBHOOKS_SECRET_KEY")
    if webhooks is not None and webhooks in KNOWN_SECRETS:
        raise UnsafeConfig("WEBHOOKS_SECRET_KEY is set to a known default value; set it to a long random value "
                           "(or leave it unset to derive from SECRET_KEY)")


def config_from_env() -> type[Config]:
    """Return a Config subclass filled from environment variables."""
    env = os.environ
    database_url = env.get("DATABASE_URL", Config.SQLALCHEMY_DATABASE_URI)
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    # No pre-ping by default: it costs a round trip on every request; connections are recycled instead.
    engine_options = {"pool_pre_ping": env.get("DATABASE_POOL_PRE_PING") == "1", "pool_recycle": 1800}
    if database_url.startswith("postgresql"):
        engine_options.update(pool_size=_int("DATABASE_POOL_SIZE", 10), max_overflow=20)

    class EnvConfig(Config):
        SECRET_KEY = env.get("SECRET_KEY", Config.SECRET_KEY)
        SQLALCHEMY_DATABASE_URI = database_url
        SQLALCHEMY_ENGINE_OPTIONS = engine_options
        REDIS_URL = env.get("REDIS_URL") or None
        LOG_LEVEL = env.get("LOG_LEVEL") or "INFO"
        TOKEN_TTL_S = _int("TOKEN_TTL_S", Config.TOKEN_TTL_S)
        AUTH_CACHE_S = float(env.get("AUTH_CACHE_S", Config.AUTH_CACHE_S))
        MAX_TASKS_PER_IMPORT = _int("MAX_TASKS_PER_IMPORT", Config.MAX_TASKS_PER_IMPORT)
        REPUTATION_HALF_LIFE_DAYS = float(env.get("REPUTATION_HALF_LIFE_DAYS", Config.REPUTATION_HALF_LIFE_DAYS))
        WEBHOOKS_ALLOW_HTTP = env.get("WEBHOOKS_ALLOW_HTTP") == "1"
        WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.get("WEBHOOKS_ALLOW_PRIVATE_TARGETS") == "1"
        WEBHOOKS_MAX_ATTEMPTS = _int("WEBHOOKS_MAX_ATTEMPTS", Config.WEBHOOKS_MAX_ATTEMPTS)
        WEBHOOKS_TIMEOUT_S = float(env.get("WEBHOOKS_TIMEOUT_S", Config.WEBHOOKS_TIMEOUT_S))
        WEBHOOKS_SECRET_KEY = env.get("WEBHOOKS_SECRET_KEY") or None
        STRIPE_API_KEY = env.get("STRIPE_API_KEY") or None
        PAYMENTS_SIMULATED = env.get("PAYMENTS_SIMULATED", "1" if database_url.startswith("sqlite") else "0") == "1"
        STRIPE_WEBHOOK_SECRET = env.get("STRIPE_WEBHOOK_SECRET") or None
        STRIPE_API_BASE = env.get("STRIPE_API_BASE") or None
        STRIPE_TIMEOUT_S = float(env.get("STRIPE_TIMEOUT_S", Config.STRIPE_TIMEOUT_S))
        STRIPE_MAX_RETRIES = _int("STRIPE_MAX_RETRIES", Config.STRIPE_MAX_RETRIES)
        STRIPE_CONNECT_COUNTRY = env.get("STRIPE_CONNECT_COUNTRY", Config.STRIPE_CONNECT_COUNTRY)
        PLATFORM_FEE_BPS = _int("PLATFORM_FEE_BPS", Config.PLATFORM_FEE_BPS)
        AUTO_APPROVE_AFTER_S = _int("AUTO_APPROVE_AFTER_S", Config.AUTO_APPROVE_AFTER_S)
        DISPUTE_WINDOW_DAYS = _int("DISPUTE_WINDOW_DAYS", Config.DISPUTE_WINDOW_DAYS)
        PAYOUT_MINIMUM_CENTS = _int("PAYOUT_MINIMUM_CENTS", Config.PAYOUT_MINIMUM_CENTS)
        PAYOUT_RETURN_URL = env.get("PAYOUT_RETURN_URL", Config.PAYOUT_RETURN_URL)
        PAYOUT_REFRESH_URL = env.get("PAYOUT_REFRESH_URL", Config.PAYOUT_REFRESH_URL)
        PAYOUTS_CRON = _cron("PAYOUTS_CRON", Config.PAYOUTS_CRON)
        RECONCILE_CRON = _cron("RECONCILE_CRON", Config.RECONCILE_CRON)
        CORS_ORIGINS = [origin for origin in env.get("CORS_ORIGINS", "").split(",") if origin.strip()]
        QUALIFICATION_MIN_RETRY_DELAY_S = _int("QUALIFICATION_MIN_RETRY_DELAY_S", Config.QUALIFICATION_MIN_RETRY_DELAY_S)
        QUALITY_CHECK_EVERY = _int("QUALITY_CHECK_EVERY", Config.QUALITY_CHECK_EVERY)
        RATE_LIMITS_ENABLED = env.get("RATE_LIMITS_ENABLED", "1") == "1"
        RATELIMIT_STORAGE_URI = env.get("RATELIMIT_STORAGE_URI") or None
        RATELIMIT_LOGIN_PER_CLIENT = env.get("RATELIMIT_LOGIN_PER_CLIENT", Config.RATELIMIT_LOGIN_PER_CLIENT)
        RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT = env.get("RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT",
                                                       Config.RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT)
        RATELIMIT_SIGNUP_PER_CLIENT = env.get("RATELIMIT_SIGNUP_PER_CLIENT", Config.RATELIMIT_SIGNUP_PER_CLIENT)
        RATELIMIT_API = env.get("RATELIMIT_API", Config.RATELIMIT_API)
        TRUST_PROXY_HOPS = _int("TRUST_PROXY_HOPS", Config.TRUST_PROXY_HOPS)
        METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        PROMETHEUS_MULTIPROC_DIR = env.get("PROMETHEUS_MULTIPROC_DIR") or None
        RECOMPUTE_CHUNK_TASKS = _int("RECOMPUTE_CHUNK_TASKS", Config.RECOMPUTE_CHUNK_TASKS)
        TRANSFER_CHUNK_BYTES = _int("TRANSFER_CHUNK_BYTES", Config.TRANSFER_CHUNK_BYTES)
        TRANSFER_IMPORT_CHUNK_ROWS = _int("TRANSFER_IMPORT_CHUNK_ROWS", Config.TRANSFER_IMPORT_CHUNK_ROWS)
        TRANSFER_MAX_UPLOAD_BYTES = _int("TRANSFER_MAX_UPLOAD_BYTES", Config.TRANSFER_MAX_UPLOAD_BYTES)
        TRANSFER_RESULT_TTL_S = _int("TRANSFER_RESULT_TTL_S", Config.TRANSFER_RESULT_TTL_S)
        TRANSFER_STALE_AFTER_S = _int("TRANSFER_STALE_AFTER_S", Config.TRANSFER_STALE_AFTER_S)
        TRANSFER_QUEUED_STALE_AFTER_S = _int("TRANSFER_QUEUED_STALE_AFTER_S", Config.TRANSFER_QUEUED_STALE_AFTER_S)
        TRANSFER_JOB_TIMEOUT_S = _int("TRANSFER_JOB_TIMEOUT_S", Config.TRANSFER_JOB_TIMEOUT_S)
        TRANSFER_MAX_ATTEMPTS = _int("TRANSFER_MAX_ATTEMPTS", Config.TRANSFER_MAX_ATTEMPTS)
        TRANSFER_FETCH_TIMEOUT_S = float(env.get("TRANSFER_FETCH_TIMEOUT_S", Config.TRANSFER_FETCH_TIMEOUT_S))
        TRANSFER_PARSE_AHEAD = env.get("TRANSFER_PARSE_AHEAD", "1") == "1"

    return EnvConfig
