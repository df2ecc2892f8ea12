"""Column types and mixins shared by every feature, and the one commit boundary."""
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, TypeDecorator, cast, event, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Mapped, mapped_column

import psycopg
from flask import current_app
from psycopg.pq import TransactionStatus
from psycopg.rows import namedtuple_row

from marketplace import clock, queue
from marketplace.extensions import db

# BIGINT ids on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime: the database's clock (marketplace.clock), not this host's."""
    return clock.now()


class UTCDateTime(TypeDecorator):
    """A timestamp stored with its zone on PostgreSQL and always read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def tune_engine(app) -> None:
    """Per dialect: WAL on the embedded SQLite file (one fsync per commit instead of three); PostgreSQL
    connections given back to the pool in psycopg's transaction mode (pg_one leaves autocommit on)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "checkin", _transactions_again)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _transactions_again(dbapi_connection, _record) -> None:
    if dbapi_connection is not None and not dbapi_connection.closed and dbapi_connection.autocommit:
        dbapi_connection.autocommit = False  # the pool's reset has ended any transaction by now


def core(statement, params: dict | None = None):
    """Execute a Core statement in the session's transaction, skipping the ORM layer."""
    return db.session.connection().execute(statement, params or {})


def pg_sql(sql: str) -> str:
    """Turn `:name` placeholders into psycopg's `%(name)s` (casts like `::text` are left alone)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


def pg_one(sql: str, params: dict):
    """Run one PostgreSQL statement on the session's connection with a bare psycopg cursor; return its first row.

    Only for the per-request hot paths (auth, lease, answer, closing a task): SQLAlchemy's execution
    layer costs ~40 us of CPU per statement over the driver, several percent of a whole lease request.
    The statement runs inside the session's transaction, so it commits or rolls back with it.
    Placeholders are psycopg's `%(name)s`; rows are named tuples.
    """
    return _pg_run(sql, params, lambda cursor: cursor.fetchone())


def pg_all(sql: str, params: dict) -> list:
    """pg_one's every row."""
    return _pg_run(sql, params, lambda cursor: cursor.fetchall())


def pg_exec(sql: str, params: dict) -> None:
    """pg_one for a statement that returns no rows."""
    _pg_run(sql, params, lambda cursor: None)


_DRIVER = "marketplace.driver"  # session.info key: (the session's transaction, its Connection, the psycopg connection)


def _driver(session):
    """The session transaction's SQLAlchemy and psycopg connections, looked up once per transaction.

    Session.connection() walks SQLAlchemy's transaction state on every call (~45 us here); the hot
    paths run 3-7 statements a request.
    """
    transaction = session.get_transaction()
    found = session.info.get(_DRIVER)
    if found is None or found[0] is not transaction or transaction is None:
        connection = session.connection()
        found = session.info[_DRIVER] = (session.get_transaction(), connection, connection.connection.dbapi_connection)
    return found[1], found[2]


def _pg_run(sql: str, params: dict, fetch):
    session = db.session()
    session.flush()  # what the session's own statements do first (autoflush): pending changes go out in order
    connection, dbapi = _driver(session)
    try:
        with dbapi.cursor(row_factory=namedtuple_row) as cursor:
            if dbapi.pgconn.transaction_status == TransactionStatus.IDLE:
                _begin_with(dbapi, cursor, sql, params)
            else:
                cursor.execute(sql, params, prepare=True)
            return fetch(cursor)
    except psycopg.OperationalError as exc:
        # What SQLAlchemy's execution layer does for its own statements: a dead connection (a restart, a
        # failover) is invalidated and so is the pool, whose other connections died with it; the error
        # reaches the handlers as SQLAlchemy's, a 503 (errors.py).
        lost = dbapi.closed or dbapi.broken
        if lost:
            connection.invalidate(exc)
            db.engine.dispose()
        raise OperationalError(sql, params, exc, connection_invalidated=lost) from exc


def _begin_with(dbapi, cursor, sql: str, params: dict) -> None:
    """Open the transaction and run its first statement in one round trip.

    psycopg would send BEGIN alone and wait for it. Here BEGIN and the statement go out in one pipeline,
    synced once as it ends. So that psycopg sends no BEGIN of its own, the connection stays in autocommit
    until it goes back to the pool (`tune_engine` turns it off again); the server's transaction is
    open all the same, and psycopg's commit() and rollback() follow the server's transaction status.
    """
    dbapi.autocommit = True
    with dbapi.pipeline():
        dbapi.execute(b"BEGIN")
        cursor.execute(sql, params, prepare=True)


def is_postgres() -> bool:
    """Tell whether the app runs on PostgreSQL (leasing and bulk paths differ on SQLite)."""
    return current_app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def advisory_lock(key: int) -> None:
    """Wait for a transaction-scoped advisory lock on PostgreSQL (SQLite has one writer at a time: nothing to take)."""
    if is_postgres():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def try_advisory_lock(key: int) -> bool:
    """Take a transaction-scoped advisory lock if it is free; True when held (always on SQLite)."""
    if not is_postgres():
        return True
    return db.session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar_one()


def greatest(*values):
    """The largest of SQL values: GREATEST on PostgreSQL, SQLite's scalar MAX (both NULL-safe here)."""
    return (func.greatest if is_postgres() else func.max)(*values)


def utc_day(column):
    """The UTC calendar day of a timestamp column, to GROUP BY (a date on PostgreSQL, YYYY-MM-DD text on SQLite)."""
    if is_postgres():
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite keeps UTC timestamps as text: their date part is the UTC day


def seconds_between(start, end):
    """end - start in seconds, as an SQL expression."""
    if is_postgres():
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86_400.0


def upsert(table):
    """An INSERT that takes ON CONFLICT clauses, in the dialect of the app's database.

    PostgreSQL's and SQLite's insert constructs spell `on_conflict_do_nothing` / `_do_update` the same
    way; this is the one place that picks between them.
    """
    return (postgresql.insert if is_postgres() else sqlite.insert)(table)


@contextmanager
def transaction() -> Iterator[None]:
    """Run a request's work as one commit; jobs queued inside are sent only after it.

    A DomainError marked `keeps_changes` (an expired lease being returned to the pool) still
    commits what was done before it was raised; any other error rolls everything back.
    """
    try:
        yield
    except BaseException as exc:
        if getattr(exc, "keeps_changes", False):
            db.session.commit()
            queue.dispatch_committed()
        else:
            db.session.rollback()
            queue.discard_pending()
        raise
    db.session.commit()
    queue.dispatch_committed()
