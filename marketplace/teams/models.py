"""Teams: private workforces a requester (or a vendor) builds, and the invitations that fill them."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, UTCDateTime, utcnow
from marketplace.extensions import db

PRIVATE = "private"  # owned by a requester, for their own projects
VENDOR = "vendor"  # owned by a vendor account; any requester may target it, its managers watch its work
KINDS = (PRIVATE, VENDOR)

MEMBER = "member"
REVIEWER = "reviewer"  # works on the team's projects and may also review them
MANAGER = "manager"  # vendor teams only: sees the team's throughput and quality, does no labeling
ROLES = (MEMBER, REVIEWER, MANAGER)
WORKING_ROLES = (MEMBER, REVIEWER)


class Team(IdMixin, db.Model):
    __tablename__ = "teams"

    owner_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(IdMixin, db.Model):
    """One account's membership; leaving or being removed sets left_at (the row stays for the record)."""

    __tablename__ = "team_members"
    __table_args__ = (
        Index("ix_team_members_account", "account_id", "team_id"),
        # At most one current membership per account and team.
        Index("uq_team_members_current", "team_id", "account_id", unique=True,
              postgresql_where=text("left_at IS NULL"), sqlite_where=text("left_at IS NULL")),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"))
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"))
    role: Mapped[str] = mapped_column(String(16))
    invite_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("team_invites.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TeamInvite(IdMixin, db.Model):
    """An invitation: to one email (used once) or a link anyone holding it may use until it expires.

    Only a hash of the token is stored; the token is shown once, when the invite is made.
    """

    __tablename__ = "team_invites"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_team_invites_token_hash"),)

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
