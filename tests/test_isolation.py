"""Canary: a row created in one test is gone in the next (the rollback fixture works)."""
from sqlalchemy import func, select

from marketplace.accounts.models import Account
from marketplace.extensions import db
from tests.factories import RequesterFactory

CANARY = "canary@example.test"


def test_canary_row_is_created(ctx):
    RequesterFactory(email=CANARY)
    assert db.session.scalar(select(func.count()).select_from(Account).where(Account.email == CANARY)) == 1


def test_canary_row_is_gone_in_the_next_test(ctx):
    assert db.session.scalar(select(func.count()).select_from(Account).where(Account.email == CANARY)) == 0


def test_a_committing_request_is_rolled_back_too(client):
    response = client.post("/api/v1/requesters", json={"email": CANARY, "password": "long enough pw"})
    assert response.status_code == 201


def test_the_committed_request_left_nothing(ctx):
    assert db.session.scalar(select(func.count()).select_from(Account).where(Account.email == CANARY)) == 0
