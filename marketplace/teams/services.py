"""Teams: make one, invite (one email, or a link), accept, leave, remove; who may see which team.

- A requester's team is private: only its owner targets it with their projects.
- A vendor's team may be targeted by any requester; its owner and its managers see its work
  (teams/stats.py) and nothing else of the projects it works on.
- An invite's token is shown once and only its hash is kept. An email invite is for that
  account and is used once; a link invite serves anyone holding it until it expires or is revoked.
- Someone else's team is a 404, never a 403, as for every other object.
"""
import secrets as _secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER, VENDOR, Account
from marketplace.accounts.secrets import hash_secret
from marketplace.errors import Conflict, Forbidden, NotFound, field_error
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.teams.models import MANAGER, PRIVATE, VENDOR as VENDOR_TEAM, WORKING_ROLES, Team, TeamInvite, TeamMember

TOKEN_PREFIX = "tmi_"


def create(*, owner: Account, name: str, now: datetime) -> Team:
    """A requester makes a private team, a vendor a vendor team."""
    team = Team(owner_id=owner.id, kind=VENDOR_TEAM if owner.role == VENDOR else PRIVATE, name=name.strip(),
                created_at=now)
    if not team.name:
        raise field_error("must not be blank", "name")
    db.session.add(team)
    db.session.flush()
    return team


def current_membership(team_id: int, account_id: int) -> TeamMember | None:
    return db.session.scalar(select(TeamMember).where(TeamMember.team_id == team_id, TeamMember.account_id == account_id,
                                                      TeamMember.left_at.is_(None)))


def managed(*, account: Account, team_id: int) -> Team:
    """A team the account runs: its owner, a manager of a vendor team, or an admin; anyone else gets 404."""
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    if account.role == ADMIN or team.owner_id == account.id:
        return team
    membership = current_membership(team.id, account.id)
    if team.kind == VENDOR_TEAM and membership is not None and membership.role == MANAGER:
        return team
    raise NotFound("No such team.")


def visible(*, account: Account, team_id: int) -> Team:
    """A team the account runs or belongs to; a vendor team's name is visible to requesters (to target it)."""
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    if team.kind == VENDOR_TEAM and account.role in (REQUESTER, ADMIN):
        return team
    if current_membership(team.id, account.id) is not None:
        return team
    return managed(account=account, team_id=team_id)


def listing(*, account: Account, scope: str, cursor: int | None, limit: int) -> list[Team]:
    """scope=mine: the teams the account owns, manages or belongs to; scope=vendors: every vendor team."""
    query = select(Team)
    if scope == "vendors":
        query = query.where(Team.kind == VENDOR_TEAM)
    elif account.role != ADMIN:
        joined = select(TeamMember.team_id).where(TeamMember.account_id == account.id, TeamMember.left_at.is_(None))
        query = query.where((Team.owner_id == account.id) | Team.id.in_(joined))
    return list(db.session.scalars(keyset(query, Team.id, cursor, limit)))


def member_counts(team_ids: list[int]) -> dict[int, int]:
    """How many current working members (not managers) each team has."""
    if not team_ids:
        return {}
    rows = db.session.execute(select(TeamMember.team_id, func.count()).where(
        TeamMember.team_id.in_(team_ids), TeamMember.left_at.is_(None), TeamMember.role.in_(WORKING_ROLES)
    ).group_by(TeamMember.team_id))
    return dict(rows.all())


def invite(*, account: Account, team_id: int, email: str | None, role: str, expires_in_hours: int,
           now: datetime) -> tuple[TeamInvite, str]:
    """Make an invite; returns it and its token (shown this once)."""
    team = managed(account=account, team_id=team_id)
    if role == MANAGER and team.kind != VENDOR_TEAM:
        raise field_error("only a vendor team has managers", "role")
    token = TOKEN_PREFIX + _secrets.token_urlsafe(24)
    row = TeamInvite(team_id=team.id, email=email.strip().lower() if email else None, role=role,
                     token_hash=hash_secret(token), created_at=now, expires_at=now + timedelta(hours=expires_in_hours))
    db.session.add(row)
    db.session.flush()
    return row, token


def invites(*, account: Account, team_id: int, cursor: int | None, limit: int) -> list[TeamInvite]:
    team = managed(account=account, team_id=team_id)
    return list(db.session.scalars(keyset(select(TeamInvite).where(TeamInvite.team_id == team.id), TeamInvite.id,
                                          cursor, limit)))


def revoke_invite(*, account: Account, team_id: int, invite_id: int, now: datetime) -> TeamInvite:
    team = managed(account=account, team_id=team_id)
    row = db.session.get(TeamInvite, invite_id)
    if row is None or row.team_id != team.id:
        raise NotFound("No such invite.")
    if row.revoked_at is None:
        row.revoked_at = now
    db.session.flush()
    return row


def accept(*, account: Account, token: str, now: datetime) -> TeamMember:
    """Join the team an invite is for, in the invite's role."""
    row = db.session.scalar(select(TeamInvite).where(TeamInvite.token_hash == hash_secret(token or "")))
    if row is None:
        raise NotFound("No such invite.", code="invite_not_found")
    if row.revoked_at is not None or row.used_at is not None or row.expires_at <= now:
        raise Conflict("This invite was revoked, used or has expired; ask for a new one.", code="invite_expired")
    if row.email is not None and row.email != db.session.get(Account, account.id).email:
        raise Forbidden("This invite is for another email address.", code="invite_for_another_account")
    needed = VENDOR if row.role == MANAGER else ANNOTATOR
    if account.role != needed:
        raise Forbidden(f"A {row.role} of a team must be a {needed} account.", code="wrong_role")
    team = db.session.get(Team, row.team_id)
    if team.owner_id == account.id:
        raise Conflict("You own this team.", code="already_member")
    if row.email is not None and db.session.execute(
        update(TeamInvite).where(TeamInvite.id == row.id, TeamInvite.used_at.is_(None)).values(used_at=now)
    ).rowcount == 0:  # a racing acceptance used it first
        raise Conflict("This invite was revoked, used or has expired; ask for a new one.", code="invite_expired")
    membership = TeamMember(team_id=team.id, account_id=account.id, role=row.role, invite_id=row.id, joined_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(membership)
            db.session.flush()
    except IntegrityError:  # the partial unique index: one current membership per account and team
        raise Conflict("You are already a member of this team.", code="already_member") from None
    return membership


def members(*, account: Account, team_id: int, cursor: int | None, limit: int) -> list[tuple[TeamMember, Account, TeamInvite | None]]:
    """A team's current members, newest first, with their account and the invite they came by."""
    team = managed(account=account, team_id=team_id)
    query = (select(TeamMember, Account, TeamInvite).join(Account, Account.id == TeamMember.account_id)
             .outerjoin(TeamInvite, TeamInvite.id == TeamMember.invite_id)
             .where(TeamMember.team_id == team.id, TeamMember.left_at.is_(None)))
    return [tuple(row) for row in db.session.execute(keyset(query, TeamMember.id, cursor, limit))]


def _member_of(team: Team, member_id: int) -> TeamMember:
    membership = db.session.get(TeamMember, member_id)
    if membership is None or membership.team_id != team.id or membership.left_at is not None:
        raise NotFound("No such member.")
    return membership


def set_role(*, account: Account, team_id: int, member_id: int, role: str) -> TeamMember:
    """Make a member a reviewer or a reviewer a member (managers stay managers)."""
    membership = _member_of(managed(account=account, team_id=team_id), member_id)
    if MANAGER in (role, membership.role):
        raise field_error("managers join by a manager invite and stay managers", "role")
    membership.role = role
    db.session.flush()
    return membership


def remove(*, account: Account, team_id: int, member_id: int, now: datetime) -> None:
    """Take someone off a team; their live leases run out as usual, and they get no new team work."""
    membership = _member_of(managed(account=account, team_id=team_id), member_id)
    membership.left_at = now
    db.session.flush()


def leave(*, account: Account, team_id: int, now: datetime) -> None:
    membership = current_membership(team_id, account.id)
    if membership is None:
        raise NotFound("No such team.")
    membership.left_at = now
    db.session.flush()
