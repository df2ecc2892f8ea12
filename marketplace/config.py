"""Configuration. The environment is read here and only here."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    """Defaults: the embedded mode (SQLite file, jobs inline, no Stripe)."""

    SECRET_KEY = "dev-insecure-secret-change-me"
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{ROOT / 'instance' / 'marketplace.db'}"
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL: str | None = None
    MIGRATIONS_DIR = str(ROOT / "migrations")
    TOKEN_TTL_S = 24 * 3600
    MAX_TASKS_PER_IMPORT = 10_000
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    RQ_JOB_TIMEOUT_S = 600
    REPUTATION_HALF_LIFE_DAYS = 90.0
    # Outgoing webhooks (marketplace/webhooks). http:// targets only in development; private/loopback
    # targets only for tests and local development (the SSRF guard is off when this is true).
    WEBHOOKS_ALLOW_HTTP = False
    WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    WEBHOOKS_MAX_ATTEMPTS = 6
    WEBHOOKS_TIMEOUT_S = 5.0
    WEBHOOKS_SECRET_KEY: str | None = None  # derives endpoint signing secrets; None: SECRET_KEY

    API_TITLE = "Labeling marketplace"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    API_SPEC_OPTIONS = {
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


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
        TOKEN_TTL_S = _int("TOKEN_TTL_S", Config.TOKEN_TTL_S)
        MAX_TASKS_PER_IMPORT = _int("MAX_TASKS_PER_IMPORT", Config.MAX_TASKS_PER_IMPORT)
        REPUTATION_HALF_LIFE_DAYS = float(env.get("REPUTATION_HALF_LIFE_DAYS", Config.REPUTATION_HALF_LIFE_DAYS))
        WEBHOOKS_ALLOW_HTTP = env.get("WEBHOOKS_ALLOW_HTTP") == "1"
        WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.get("WEBHOOKS_ALLOW_PRIVATE_TARGETS") == "1"
        WEBHOOKS_MAX_ATTEMPTS = _int("WEBHOOKS_MAX_ATTEMPTS", Config.WEBHOOKS_MAX_ATTEMPTS)
        WEBHOOKS_TIMEOUT_S = float(env.get("WEBHOOKS_TIMEOUT_S", Config.WEBHOOKS_TIMEOUT_S))
        WEBHOOKS_SECRET_KEY = env.get("WEBHOOKS_SECRET_KEY") or None

    return EnvConfig
