"""The per-process credential cache: one lookup per AUTH_CACHE_S, yet revocation and suspension hold.

The same process that revokes or suspends forgets at once; a change made elsewhere (another
worker, here a direct write) is seen within AUTH_CACHE_S. Time is moved by hand, not slept.
"""
from datetime import timedelta

import pytest
from flask import current_app

from marketplace.accounts import principals, store
from marketplace.accounts.models import Account
from marketplace.db import utcnow
from marketplace.extensions import db
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer

pytestmark = pytest.mark.embedded


@pytest.fixture
def lookups(ctx, monkeypatch):
    """Turn the cache on (5 s) and count the bearer lookups that reach the database."""
    monkeypatch.setitem(current_app.config, "AUTH_CACHE_S", 5.0)
    principals.clear()
    seen = []
    real = store.bearer_row

    def counted(kind, prefix):
        seen.append(prefix)
        return real(kind, prefix)

    monkeypatch.setattr(store, "bearer_row", counted)
    yield seen
    principals.clear()


def _later(monkeypatch, seconds: float) -> None:
    now = principals.time.monotonic()
    monkeypatch.setattr(principals.time, "monotonic", lambda: now + seconds)


def test_a_checked_credential_is_not_looked_up_again_within_the_bound(client, lookups, monkeypatch):
    headers = bearer(AnnotatorFactory())
    for _ in range(5):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(lookups) == 1
    _later(monkeypatch, 5.0)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(lookups) == 2  # checked again once the bound passed


def test_revoking_a_key_refuses_it_at_once_in_this_process(client, lookups):
    requester = RequesterFactory()
    made = client.post("/api/v1/api-keys", json={"name": "ci"}, headers=bearer(requester)).json
    key = {"Authorization": f"Bearer {made['key']}"}
    assert client.get("/api/v1/me", headers=key).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{made['id']}", headers=key).status_code == 200
    refused = client.get("/api/v1/me", headers=key)
    assert refused.status_code == 401 and refused.json["code"] == "invalid_credential"


def test_a_suspension_elsewhere_is_seen_within_the_bound_and_here_at_once(client, lookups, monkeypatch):
    annotator = AnnotatorFactory()
    headers = bearer(annotator)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.get(Account, annotator.id).status = "suspended"  # as another process would, behind this one's back
    db.session.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # still trusted: within the bound
    _later(monkeypatch, 5.0)
    assert client.get("/api/v1/me", headers=headers).json["code"] == "account_suspended"

    other = AnnotatorFactory()
    theirs = bearer(other)
    assert client.get("/api/v1/me", headers=theirs).status_code == 200
    admin = bearer(AdminFactory())
    assert client.post(f"/api/v1/admin/accounts/{other.id}/suspend", json={"reason": "fraud review"},
                       headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=theirs).json["code"] == "account_suspended"  # this process: at once


def test_wrong_secrets_and_expired_tokens_are_never_trusted_from_memory(client, lookups, monkeypatch):
    headers = bearer(AnnotatorFactory())
    wrong = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
    for _ in range(2):
        assert client.get("/api/v1/me", headers=wrong).status_code == 401
    assert len(lookups) == 2
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    import marketplace.accounts.auth as auth

    monkeypatch.setattr(auth, "utcnow", lambda: utcnow() + timedelta(hours=2))  # past the token's hour
    assert client.get("/api/v1/me", headers=headers).json["code"] == "token_expired"
