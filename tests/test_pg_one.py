"""pg_one, the hot paths' bare statement: a transaction's first one goes out with its BEGIN, in one round trip."""
import psycopg
import pytest
from psycopg.pq import TransactionStatus

from marketplace.db import pg_one
from marketplace.extensions import db

pytestmark = pytest.mark.postgres


def _status():
    return db.session.connection().connection.dbapi_connection.info.transaction_status


def test_the_first_statement_opens_the_transaction_and_the_next_ones_run_in_it(app):
    with app.app_context():  # the real engine: no test transaction around it
        try:
            db.session.connection()
            db.session.commit()  # a connection checked out with no transaction open on it
            assert pg_one("SELECT txid_current() AS txid, 1 AS one", {}).one == 1
            assert _status() == TransactionStatus.INTRANS
            first = pg_one("SELECT txid_current() AS txid", {}).txid
            again = pg_one("SELECT txid_current() AS txid", {}).txid
            assert first == again  # one transaction for both, as without the pipeline
        finally:
            db.session.rollback()
            db.session.remove()


def test_an_error_in_the_first_statement_raises_as_usual_and_rolls_back(app):
    with app.app_context():
        try:
            db.session.connection()
            db.session.commit()
            with pytest.raises(psycopg.errors.DivisionByZero):
                pg_one("SELECT 1 / %(zero)s AS x", {"zero": 0})
            db.session.rollback()
            assert pg_one("SELECT 2 AS two", {}).two == 2  # the connection is usable again
        finally:
            db.session.rollback()
            db.session.remove()
