"""Registration, login, tokens, API keys and role guards through the HTTP API."""
from datetime import timedelta

import pytest

from marketplace.accounts import secrets
from marketplace.accounts.models import AccessToken, Account
from marketplace.db import utcnow
from marketplace.extensions import db
from tests.factories import PASSWORD, AnnotatorFactory, RequesterFactory, bearer

PW = "long enough password"


@pytest.mark.parametrize("path, role", [("/api/v1/requesters", "requester"), ("/api/v1/annotators", "annotator")])
def test_registration_sets_the_role_from_the_endpoint(client, path, role):
    response = client.post(path, json={"email": "New@Example.test", "password": PW})
    assert response.status_code == 201
    assert response.json["role"] == role
    assert response.json["email"] == "new@example.test"
    assert "password" not in response.json and "password_hash" not in response.json


def test_password_is_stored_hashed_with_argon2(client):
    client.post("/api/v1/requesters", json={"email": "h@example.test", "password": PW})
    stored = db.session.query(Account).filter_by(email="h@example.test").one().password_hash
    assert stored.startswith("$argon2id$") and PW not in stored


def test_duplicate_email_is_409(client):
    client.post("/api/v1/annotators", json={"email": "dup@example.test", "password": PW})
    response = client.post("/api/v1/requesters", json={"email": "DUP@example.test", "password": PW})
    assert response.status_code == 409
    assert response.json["errors"] == {"json": {"email": ["already registered"]}}


@pytest.mark.parametrize("field, value", [("role", "admin"), ("status", "active"), ("id", 1)])
def test_privileged_fields_cannot_be_set_in_the_body(client, field, value):
    response = client.post("/api/v1/requesters", json={"email": "x@example.test", "password": PW, field: value})
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_short_password_is_422_naming_the_field(client):
    response = client.post("/api/v1/annotators", json={"email": "s@example.test", "password": "short"})
    assert response.status_code == 422
    assert "password" in response.json["errors"]["json"]


def test_login_returns_a_bearer_token_with_expiry(client):
    account = RequesterFactory()
    response = client.post("/api/v1/auth/tokens", json={"email": account.email, "password": PASSWORD})
    assert response.status_code == 201
    assert response.json["token"].startswith("mt_") and response.json["expires_at"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json['token']}"})
    assert me.status_code == 200 and me.json["id"] == account.id


@pytest.mark.parametrize("email, password", [("nobody@example.test", PASSWORD), (None, "wrong password!")])
def test_wrong_credentials_are_401(client, email, password):
    account = RequesterFactory()
    response = client.post("/api/v1/auth/tokens", json={"email": email or account.email, "password": password})
    assert response.status_code == 401


def test_expired_token_is_401(client):
    account = AnnotatorFactory()
    full, prefix, secret_hash = secrets.new_secret(secrets.TOKEN)
    db.session.add(AccessToken(account_id=account.id, prefix=prefix, secret_hash=secret_hash,
                               expires_at=utcnow() - timedelta(seconds=1)))
    db.session.flush()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {full}"})
    assert response.status_code == 401
    assert "expired" in response.json["message"]


def test_logout_revokes_the_token(client):
    account = AnnotatorFactory()
    token = client.post("/api/v1/auth/tokens", json={"email": account.email, "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer mk_nope", "Bearer mk_abc.def", "Bearer xx_abc.def"])
def test_missing_or_bad_credentials_are_401(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401


def test_api_key_is_shown_once_stored_hashed_and_revocable(client):
    requester = RequesterFactory()
    headers = bearer(requester)
    created = client.post("/api/v1/api-keys", json={"name": "ci"}, headers=headers)
    assert created.status_code == 201
    key = created.json["key"]
    assert key.startswith(f"mk_{created.json['prefix']}.")
    second = client.post("/api/v1/api-keys", json={"name": "laptop"}, headers=headers).json
    listed = client.get("/api/v1/api-keys", headers=headers).json["items"]
    assert {k["id"] for k in listed} == {created.json["id"], second["id"]}
    assert all("key" not in k for k in listed)
    assert key.split(".", 1)[1] not in str(db.session.execute(db.text("SELECT secret_hash FROM api_keys")).all())
    key_headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/me", headers=key_headers).json["id"] == requester.id
    assert client.delete(f"/api/v1/api-keys/{created.json['id']}", headers=headers).json["revoked_at"]
    assert client.get("/api/v1/me", headers=key_headers).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer mk_{second['prefix']}.guess"}).status_code == 401


def test_someone_elses_api_key_cannot_be_revoked(client):
    owner, other = RequesterFactory(), RequesterFactory()
    key_id = client.post("/api/v1/api-keys", json={}, headers=bearer(owner)).json["id"]
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=bearer(other)).status_code == 404


def test_annotators_cannot_create_api_keys(client):
    response = client.post("/api/v1/api-keys", json={}, headers=bearer(AnnotatorFactory()))
    assert response.status_code == 403


def test_suspended_account_is_refused_and_login_does_not_confirm_its_password(client):
    account = AnnotatorFactory(status="suspended")
    assert client.get("/api/v1/me", headers=bearer(account)).status_code == 403  # a verified credential: 403
    right = client.post("/api/v1/auth/tokens", json={"email": account.email, "password": PASSWORD})
    wrong = client.post("/api/v1/auth/tokens", json={"email": account.email, "password": "not the password"})
    assert right.status_code == wrong.status_code == 401
    assert {**right.json, "request_id": None} == {**wrong.json, "request_id": None}
    assert db.session.query(AccessToken).filter_by(account_id=account.id).count() == 1  # the factory's, no new one


def test_create_admin_command(ctx):
    runner = ctx.test_cli_runner()
    result = runner.invoke(args=["accounts", "create-admin", "--email", "Root@Example.test", "--password", PW])
    assert result.exit_code == 0, result.output
    admin = db.session.query(Account).filter_by(email="root@example.test").one()
    assert admin.role == "admin"
    again = runner.invoke(args=["accounts", "create-admin", "--email", "root@example.test", "--password", PW])
    assert again.exit_code != 0 and "already exists" in again.output
