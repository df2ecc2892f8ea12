"""Test fixtures: PostgreSQL schema built once by the migrations; each test inside a rolled-back transaction.

Flask-SQLAlchemy 3 ignores a session's own bind (its issue #1167), so the test binds through
`db.engines`: the app's default engine is replaced by one connection holding an outer transaction,
and sessions join it with savepoints. Routes commit (releasing a savepoint) exactly as in production;
the outer rollback at the end of the test throws everything away. `test_isolation.py` is the canary.

Tests that need real commits (threads, an RQ worker) use `committed_app`; the tables are truncated after.

The embedded lane (`MARKETPLACE_TEST_DB=sqlite pytest -m embedded`, run by `make test` after the
PostgreSQL suite) runs the tests marked `embedded` on the SQLite file the demo and a first-time
user run: the migrations build a template database once, and each test starts from a fresh copy
of it (real commits; SQLite has no savepoint-joined outer transaction worth trusting).
"""
import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from marketplace import create_app
from marketplace.config import Config
from marketplace.extensions import db
from tests.payments.fake_stripe import FakeStripe

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = os.environ.get("TEST_DB_NAME", "marketplace_test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("MARKETPLACE_REQUIRE_SERVICES") == "1"
SQLITE = os.environ.get("MARKETPLACE_TEST_DB", "postgresql") == "sqlite"
SQLITE_DIR = Path(tempfile.mkdtemp(prefix="marketplace-test-")) if SQLITE else None
# The API contract is fuzzed on PostgreSQL (CI's database); the embedded lane does not even collect it
# (the module builds its app and schema when imported).
collect_ignore = ["test_schemathesis.py"] if SQLITE else []


def _database_url() -> str:
    if SQLITE:
        return f"sqlite:///{SQLITE_DIR / 'test.db'}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{TEST_DB}"


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {} if SQLITE else {"pool_size": 40, "max_overflow": 10}
    REDIS_URL = None
    # Tests change credentials and accounts behind the API's back: check them on every request
    # (tests/accounts/test_principal_cache.py turns the cache on).
    AUTH_CACHE_S = 0
    QUALITY_CHECK_EVERY = 1  # rules at every ordinary answer; tests/quality/test_gold_tells.py sets the real spacing
    # An import's parser thread reads over its own connection, which cannot see a test's rolled-back
    # transaction; the real workers of tests/faults/test_transfer_restarts.py run it.
    TRANSFER_PARSE_AHEAD = False


def _service_missing(what: str, error: Exception):
    message = f"{what} is not reachable ({error}); start it as DESIGN.md §4 says"
    if REQUIRE_SERVICES:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _recreate_database() -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEST_DB}"')


@pytest.fixture(scope="session")
def app():
    """The app on a fresh database whose schema the migrations built (PostgreSQL, or the SQLite template)."""
    if not SQLITE:
        try:
            _recreate_database()
        except psycopg.OperationalError as exc:
            _service_missing("PostgreSQL", exc)
    app = create_app(TestConfig)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        if SQLITE:
            db.session.remove()
            db.engine.dispose()  # closes the last connection: WAL checkpointed into the file
            shutil.copy(SQLITE_DIR / "test.db", SQLITE_DIR / "template.db")
    yield app
    with app.app_context():
        db.engine.dispose()


def _fresh_sqlite(app):
    """Start the SQLite test database again from the migrated template."""
    db.session.remove()
    db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        (SQLITE_DIR / f"test.db{suffix}").unlink(missing_ok=True)
    shutil.copy(SQLITE_DIR / "template.db", SQLITE_DIR / "test.db")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Every test starts with empty rate-limit counters (the limiter's storage outlives one test)."""
    from marketplace.limits import limiter

    if limiter.initialized:
        limiter.reset()
    yield


@pytest.fixture
def ctx(app):
    """An app context whose database work is rolled back at the end of the test (SQLite: a fresh copy)."""
    app.extensions["rate_budget"].reset()  # and the per-credential budget starts empty
    if SQLITE:
        with app.app_context():
            _fresh_sqlite(app)
            yield app
            db.session.remove()
        return
    with app.app_context():
        engines = db._app_engines[app]
        engine = engines[None]
        connection = engine.connect()
        outer = connection.begin()
        engines[None] = connection
        factory_kw = db.session.session_factory.kw
        factory_kw["join_transaction_mode"] = "create_savepoint"
        db.session.remove()
        try:
            yield app
        finally:
            db.session.remove()
            factory_kw.pop("join_transaction_mode", None)
            engines[None] = engine
            outer.rollback()
            connection.close()


class SetupCommittingClient(FlaskClient):
    """A test client that commits the test's own setup before each request.

    Requests share the test's session; without this, a request that rolls back (any 4xx) would
    also undo the rows the test flushed before it. The commit only releases a savepoint.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        response = super().open(*args, **kwargs)
        db.session.expire_all()  # the test reads what the request wrote, not objects it held before
        return response


@pytest.fixture
def client(ctx):
    ctx.test_client_class = SetupCommittingClient
    yield ctx.test_client()
    ctx.test_client_class = None  # the app is shared: later tests' clients are plain ones again


@pytest.fixture
def committed_app(app):
    """The app with real commits (for threads and workers); every table is emptied afterwards."""
    if SQLITE:
        with app.app_context():
            _fresh_sqlite(app)
        yield app
        return
    yield app
    with app.app_context():
        db.session.remove()
        tables = ", ".join(t.name for t in db.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def redis_conn():
    """A real Redis connection on a database reserved for tests, emptied before and after."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    conn = Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except RedisConnectionError as exc:
        _service_missing("Redis", exc)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def with_redis(app, redis_conn):
    """Point the app's queue at the test Redis for this test (jobs go to RQ instead of running inline)."""
    app.config["REDIS_URL"] = REDIS_URL
    yield redis_conn
    app.config["REDIS_URL"] = None
    with app.app_context():
        app.extensions["queue"]["redis"] = None


# The fake Stripe (tests/payments/fake_stripe.py): one server per test module, emptied before each test.
@pytest.fixture(scope="module")
def fake_stripe_server():
    """Run one FakeStripe for the whole test module."""
    with FakeStripe() as server:
        yield server


@pytest.fixture
def fake_stripe(fake_stripe_server):
    """Return the module's FakeStripe, emptied for this test."""
    fake_stripe_server.reset()
    return fake_stripe_server


@pytest.fixture
def stripe_client(fake_stripe):
    """Return a StripeClient aimed at the fake (2 network retries, 0.5 s timeout), as the gateway builds one."""
    return fake_stripe.client()


@pytest.fixture
def stripe_gateway(app, fake_stripe):
    """Point the app at the fake Stripe through the real StripeGateway for one test, then restore it."""
    from marketplace.payments.gateway import StripeGateway

    gateway = StripeGateway(api_key="sk_test_fake", webhook_secret=fake_stripe.webhook_secret, api_base=fake_stripe.url,
                            timeout_s=0.5, max_retries=2, connect_country="US")
    previous = app.extensions["payment_gateway"]
    app.extensions["payment_gateway"] = gateway
    yield gateway
    app.extensions["payment_gateway"] = previous
