"""The `Idempotency-Key` header: a replayed POST returns what the first one created, once.

Rows that move money (fundings, bonuses, refunds) store the key and a hash of the request under a
unique (account, key) constraint, so the first request creates and a replay finds; the same key
with a different request is a 422 rather than a silent second effect.
"""
import hashlib
import json

from flask import request
from sqlalchemy.exc import IntegrityError

from marketplace.errors import ValidationFailed
from marketplace.extensions import db

MAX_LENGTH = 100


def key_from_request(*, required: bool) -> str | None:
    """Read and check the Idempotency-Key header."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        if required:
            raise ValidationFailed("Send an Idempotency-Key header with this request.",
                                   errors={"headers": {"Idempotency-Key": ["required"]}})
        return None
    if len(key) > MAX_LENGTH or not key.isprintable():
        raise ValidationFailed("The Idempotency-Key header must be at most 100 printable characters.",
                               errors={"headers": {"Idempotency-Key": ["invalid"]}})
    return key


def request_hash(body: dict) -> str:
    """A stable hash of a request's parsed body."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def ensure_same(stored_hash: str | None, new_hash: str) -> None:
    """Refuse a key reused for a different request."""
    if stored_hash is not None and stored_hash != new_hash:
        raise ValidationFailed("This Idempotency-Key was already used for a different request.",
                               errors={"headers": {"Idempotency-Key": ["reused with a different request"]}})


def insert_once(row, find_existing):
    """Insert a row keyed by an idempotency key; if a concurrent request inserted it first, return theirs."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
        return row
    except IntegrityError:
        existing = find_existing()
        if existing is None:
            raise
        return existing
