"""The idempotency_keys table's one writer: claim a key with the request's work, record its response, purge."""
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from marketplace.extensions import db
from marketplace.idempotency.models import IdempotencyKey


def find(*, account_id: int, key: str, since: datetime) -> IdempotencyKey | None:
    """The account's live (not expired) use of a key, or None."""
    return db.session.scalar(select(IdempotencyKey).where(
        IdempotencyKey.account_id == account_id, IdempotencyKey.key == key, IdempotencyKey.created_at >= since))


def claim(*, account_id: int, key: str, method: str, path: str, request_hash: str, now: datetime,
          expired_before: datetime) -> bool:
    """Claim a key in the current transaction (it commits with the request's work); False if taken meanwhile."""
    db.session.execute(delete(IdempotencyKey).where(  # an expired use frees the key
        IdempotencyKey.account_id == account_id, IdempotencyKey.key == key, IdempotencyKey.created_at < expired_before))
    try:
        with db.session.begin_nested():
            db.session.add(IdempotencyKey(account_id=account_id, key=key, method=method, path=path[:2000],
                                          request_hash=request_hash, created_at=now))
            db.session.flush()
    except IntegrityError:  # a concurrent request with the same key committed its claim first
        return False
    return True


def finish(*, account_id: int, key: str, status: int, body: str, headers: dict) -> None:
    """Record the first response to a key (its own small commit, after the request's)."""
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.account_id == account_id, IdempotencyKey.key == key)
                       .values(status=status, body=body, headers=headers))
    db.session.commit()


def release(*, account_id: int, key: str) -> None:
    """Forget an unfinished claim (the request failed): the key may be used again."""
    db.session.rollback()  # whatever the failed request left uncommitted, the claim included
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.account_id == account_id,
                                                    IdempotencyKey.key == key, IdempotencyKey.status.is_(None)))
    db.session.commit()


def purge(*, before: datetime) -> int:
    """Delete keys older than their lifetime (the job wrapper commits); returns how many."""
    return db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before)).rowcount
