"""Idempotency keys: the first response to a state-changing request, kept 24 h for its replays."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, UTCDateTime
from marketplace.extensions import db


class IdempotencyKey(IdMixin, db.Model):
    """One (account, key): the request it was first used for and, once it succeeded, its response.

    The row is written in the same commit as the request's own work, so the effect and the claim on
    the key stand or fall together; `status` is null until the response is recorded just after.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("account_id", "key", name="uq_idempotency_keys_account_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),  # the purge of expired keys
    )

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    key: Mapped[str] = mapped_column(String(100))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
