"""db.pg_one's first statement of a transaction carries BEGIN in its round trip (psycopg's autocommit on until
the connection is back in the pool): the transaction must still be one transaction, and the pool must get
its connections back in psycopg's transaction mode, after a commit, a rollback or a failed statement."""
import psycopg
import pytest
from sqlalchemy import func, select, text

from marketplace.db import pg_one
from marketplace.extensions import db
from marketplace.projects.models import ProjectProgress
from tests.factories import open_project

pytestmark = pytest.mark.postgres


def _progress_rows(project_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(ProjectProgress)
                             .where(ProjectProgress.project_id == project_id))


def _dbapi():
    return db.session.connection().connection.dbapi_connection


def test_a_transaction_begun_by_pg_one_rolls_back_whole(committed_app):
    with committed_app.app_context():
        project_id = open_project(tasks=1).id
        db.session.commit()
        db.session.execute(text("DELETE FROM project_progress WHERE project_id = :p"), {"p": project_id})
        db.session.commit()
        assert pg_one("SELECT 1 AS one", {}).one == 1  # the transaction's first statement: BEGIN rides with it
        assert _dbapi().autocommit  # psycopg's own BEGIN is off ...
        db.session.execute(text("INSERT INTO project_progress (project_id, done_tasks) VALUES (:p, 5)"),
                           {"p": project_id})
        db.session.rollback()  # ... and yet the insert goes with the rollback
        assert _progress_rows(project_id) == 0
        assert not _dbapi().autocommit  # the next transaction's connection is back in transaction mode
        db.session.rollback()


def test_a_failed_first_statement_leaves_the_connection_usable_and_in_transaction_mode(committed_app):
    with committed_app.app_context():
        with pytest.raises(psycopg.errors.DivisionByZero):
            pg_one("SELECT 1 / %(zero)s AS x", {"zero": 0})
        db.session.rollback()
        assert pg_one("SELECT 2 AS two", {}).two == 2
        db.session.commit()
        assert not _dbapi().autocommit
        db.session.rollback()
