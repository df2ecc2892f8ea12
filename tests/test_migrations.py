"""Migrations: one head, and upgrading an empty PostgreSQL leaves no drift from the models."""
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from marketplace import create_app
from tests.conftest import PG_ADMIN_URL, TestConfig, _service_missing

ROOT = Path(__file__).resolve().parent.parent
DRIFT_DB = "marketplace_drift_check"


def test_migrations_have_a_single_head(app):
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        assert len(script.get_heads()) == 1


@pytest.fixture
def empty_database_url():
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DRIFT_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DRIFT_DB}"')
    except psycopg.OperationalError as exc:
        _service_missing("PostgreSQL", exc)
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + DRIFT_DB
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DRIFT_DB}" WITH (FORCE)')


def test_upgrade_on_empty_postgres_then_db_check_finds_no_drift(empty_database_url):
    env = {"DATABASE_URL": empty_database_url, "FLASK_APP": "wsgi", "PATH": str(Path(sys.executable).parent),
           "SECRET_KEY": "migration-test-secret-0123456789"}
    flask = str(Path(sys.executable).parent / "flask")
    upgraded = subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stderr
    checked = subprocess.run([flask, "db", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No new upgrade operations detected" in checked.stdout + checked.stderr


def test_downgrade_to_base_and_back_works(empty_database_url):
    class DriftConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url.replace("postgresql://", "postgresql+psycopg://", 1)

    app = create_app(DriftConfig)
    with app.app_context():
        from flask_migrate import downgrade

        upgrade()
        downgrade(revision="base")
        upgrade()
        from marketplace.extensions import db

        db.engine.dispose()


def test_escrow_lanes_are_added_to_existing_escrows_and_fold_back_on_downgrade(empty_database_url):
    """Upgrading gives an existing escrow its empty lanes 1-7; downgrading sums the lanes back onto lane 0
    with every entry pointed there, so the book still balances and each balance matches its entries."""
    class LanesConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url.replace("postgresql://", "postgresql+psycopg://", 1)

    before = "d7a3f1c9e5b2"
    app = create_app(LanesConfig)
    with app.app_context():
        from flask_migrate import downgrade

        from marketplace.extensions import db

        upgrade(revision=before)
        with psycopg.connect(empty_database_url, autocommit=True) as conn:
            source, escrow = (row[0] for row in conn.execute(
                """INSERT INTO ledger_accounts (kind, owner_id, currency, balance_cents, held_cents, created_at)
                   VALUES ('requester_available', 7, 'usd', 40, 0, now()), ('project_escrow', 9, 'usd', 60, 12, now())
                   RETURNING id""").fetchall())
            funded = conn.execute("INSERT INTO ledger_transactions (idempotency_key, kind, reference_type, reference_id, "
                                  "memo, created_at) VALUES ('escrow-9-1', 'escrow', 'project', 9, '', now()) "
                                  "RETURNING id").fetchone()[0]
            conn.execute("INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, currency, created_at) "
                         "VALUES (%s, %s, 60, 'usd', now()), (%s, %s, -60, 'usd', now())",
                         (funded, source, funded, escrow))
        upgrade()
        with psycopg.connect(empty_database_url, autocommit=True) as conn:
            lanes = conn.execute("SELECT lane, balance_cents, held_cents FROM ledger_accounts "
                                 "WHERE kind = 'project_escrow' AND owner_id = 9 ORDER BY lane").fetchall()
            assert lanes == [(0, 60, 12)] + [(lane, 0, 0) for lane in range(1, 8)]
            # Money spread and pooled across lanes as the app does: 25 to lane 3, 5 of it on to lane 6.
            ids = dict(conn.execute("SELECT lane, id FROM ledger_accounts WHERE kind = 'project_escrow'").fetchall())
            pooled = conn.execute("INSERT INTO ledger_transactions (idempotency_key, kind, reference_type, reference_id, "
                                  "memo, created_at) VALUES ('escrow_pool-9-1', 'escrow_pool', 'project', 9, '', now()) "
                                  "RETURNING id").fetchone()[0]
            conn.execute("INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, currency, created_at) "
                         "VALUES (%s, %s, 25, 'usd', now()), (%s, %s, -20, 'usd', now()), (%s, %s, -5, 'usd', now())",
                         (pooled, ids[0], pooled, ids[3], pooled, ids[6]))
            conn.execute("UPDATE ledger_accounts SET balance_cents = 35 WHERE id = %s", (ids[0],))
            conn.execute("UPDATE ledger_accounts SET balance_cents = 20, held_cents = 10 WHERE id = %s", (ids[3],))
            conn.execute("UPDATE ledger_accounts SET balance_cents = 5 WHERE id = %s", (ids[6],))
        downgrade(revision=before)
        with psycopg.connect(empty_database_url, autocommit=True) as conn:
            assert conn.execute("SELECT id, balance_cents, held_cents FROM ledger_accounts "
                                "WHERE kind = 'project_escrow'").fetchall() == [(escrow, 60, 22)]
            assert conn.execute("SELECT -sum(amount_cents) FROM ledger_entries WHERE account_id = %s",
                                (escrow,)).fetchone() == (60,)
            assert conn.execute("SELECT sum(amount_cents) FROM ledger_entries").fetchone() == (0,)
        upgrade()
        db.engine.dispose()
