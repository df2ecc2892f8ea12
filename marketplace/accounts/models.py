"""Accounts and the credentials that authenticate them."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, TimestampMixin, UTCDateTime
from marketplace.extensions import db

REQUESTER = "requester"
ANNOTATOR = "annotator"
ADMIN = "admin"
# A labeling vendor: owns teams that requesters may target, and watches their work (marketplace/teams).
VENDOR = "vendor"
ROLES = (REQUESTER, ANNOTATOR, ADMIN)  # the marketplace's roles; a vendor only works with teams

ACTIVE = "active"
SUSPENDED = "suspended"


class Account(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "accounts"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    display_name: Mapped[str] = mapped_column(String(100), default="")


class ApiKey(IdMixin, TimestampMixin, db.Model):
    """A requester's long-lived key. Only the prefix and a hash of the secret are stored."""

    __tablename__ = "api_keys"

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccessToken(IdMixin, TimestampMixin, db.Model):
    """A bearer token issued at login; expires."""

    __tablename__ = "access_tokens"

    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
