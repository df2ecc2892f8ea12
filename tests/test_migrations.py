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
