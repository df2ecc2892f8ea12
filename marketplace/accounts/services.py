"""Registration, login, API keys and bearer authentication."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.accounts import principals, secrets, store
from marketplace.accounts.models import (
    ACTIVE,
    ADMIN,
    ANNOTATOR,
    REQUESTER,
    VENDOR,
    AccessToken,
    Account,
    ApiKey,
)
from marketplace.errors import Conflict, Forbidden, NotFound, Unauthorized
from marketplace.extensions import db
from marketplace.pagination import keyset


def register(*, email: str, password: str, role: str, display_name: str = "") -> Account:
    """Create an account; the role comes from the endpoint, never from the request body."""
    if role not in (REQUESTER, ANNOTATOR, ADMIN, VENDOR):
        raise ValueError(f"unknown role {role!r}")
    email = email.strip().lower()
    if db.session.scalar(select(Account.id).where(Account.email == email)) is not None:
        raise Conflict("An account with this email already exists.", {"json": {"email": ["already registered"]}}, code="email_taken")
    account = Account(
        email=email,
        password_hash=secrets.hash_password(password),
        role=role,
        status=ACTIVE,
        display_name=display_name,
    )
    db.session.add(account)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("An account with this email already exists.", {"json": {"email": ["already registered"]}}, code="email_taken")
    return account


def login(*, email: str, password: str, now: datetime, ttl_s: int) -> tuple[AccessToken, str]:
    """Check a password and issue a bearer token; returns the row and the token shown once."""
    account = db.session.scalar(select(Account).where(Account.email == email.strip().lower()))
    if account is None:
        secrets.password_matches(password, secrets.dummy_password_hash())
        raise Unauthorized("Email or password is wrong.", code="invalid_credentials")
    if not secrets.password_matches(password, account.password_hash) or account.status != ACTIVE:
        # A suspended account answers exactly like a wrong password: a 403 here would tell whoever is
        # guessing that the password is right. Its existing tokens get the 403 (authenticate).
        raise Unauthorized("Email or password is wrong.", code="invalid_credentials")
    bearer, prefix, secret_hash = secrets.new_secret(secrets.TOKEN)
    token = AccessToken(account_id=account.id, prefix=prefix, secret_hash=secret_hash, expires_at=now + timedelta(seconds=ttl_s))
    db.session.add(token)
    db.session.flush()
    return token, bearer


def revoke_token(*, token_id: int, account: Account, now: datetime) -> None:
    """Revoke one of the caller's login tokens."""
    token = db.session.get(AccessToken, token_id)
    if token is None or token.account_id != account.id:
        raise NotFound("No such token.")
    token.revoked_at = token.revoked_at or now
    principals.forget(account.id)


def create_api_key(*, account: Account, name: str) -> tuple[ApiKey, str]:
    """Create an API key; the full key is returned once and never stored."""
    bearer, prefix, secret_hash = secrets.new_secret(secrets.API_KEY)
    key = ApiKey(account_id=account.id, name=name, prefix=prefix, secret_hash=secret_hash)
    db.session.add(key)
    db.session.flush()
    return key, bearer


def list_api_keys(*, account: Account, cursor: int | None, limit: int) -> list[ApiKey]:
    """List the caller's API keys, revoked ones included, newest first (one page, +1)."""
    return list(db.session.scalars(keyset(select(ApiKey).where(ApiKey.account_id == account.id), ApiKey.id, cursor, limit)))


def revoke_api_key(*, key_id: int, account: Account, now: datetime) -> ApiKey:
    """Revoke one of the caller's API keys; revoking twice is harmless."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.account_id != account.id:
        raise NotFound("No such API key.")
    key.revoked_at = key.revoked_at or now
    principals.forget(account.id)
    return key


@dataclass(frozen=True)
class Principal:
    """Who is calling: read from one narrow query per request, not a full ORM account."""

    id: int
    role: str


def authenticate(*, bearer: str, now: datetime, cache_s: float = 0) -> Principal:
    """Return the active account behind a bearer API key or token (one round trip, or none within
    `cache_s` seconds of the last check in this process: accounts/principals.py)."""
    if cache_s > 0 and (known := principals.recall(bearer, now)) is not None:
        return known
    parts = secrets.split_bearer(bearer)
    if parts is None:
        raise Unauthorized("Malformed bearer credential.", code="malformed_credential")
    kind, prefix, secret = parts
    row = store.bearer_row(kind, prefix)
    if row is None or not secrets.secret_matches(secret, row.secret_hash) or row.revoked_at is not None:
        raise Unauthorized("Invalid or revoked credential.", code="invalid_credential")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("This token has expired; log in again.", code="token_expired")
    if row.status != ACTIVE:
        raise Forbidden("This account is suspended.", code="account_suspended")
    principal = Principal(row.id, row.role)
    principals.remember(bearer, principal, row.expires_at, cache_s)
    return principal


def get_account(*, account_id: int) -> Account:
    """Return an account by id."""
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound("No such account.")
    return account

