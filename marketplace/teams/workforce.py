"""Who may work on a project: the public crowd, some teams, or both (teams first, the crowd after N hours).

A project's `workforce` is {"crowd": bool, "teams": [{"team_id", "reward_cents"}], "crowd_after_hours"};
{} means the crowd alone, as before teams existed. A member of a targeted team works through the
team (at the team's reward when it sets one); anyone else only when the crowd is admitted. Someone
who may not work on a project does not see it either: it is a 404 and it is not listed.
Qualifications, skills, trust and blocks (quality/eligibility.py) apply on top, to everyone.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from marketplace.accounts.models import ADMIN, Account
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.extensions import db
from marketplace.payments import escrow
from marketplace.projects import store as project_store
from marketplace.projects.models import CLOSED, COMPLETED, OPEN, PAUSED
from marketplace.teams.models import PRIVATE, REVIEWER, WORKING_ROLES, Team, TeamMember


@dataclass(frozen=True)
class Access:
    """How an annotator works on a project: through which team (None: as the crowd) and at what reward."""

    team_id: int | None = None
    reward_cents: int | None = None  # None: the project's reward


CROWD = Access()


def restricted(workforce: dict | None) -> bool:
    """Does this workforce keep anyone out (a team target, or no crowd)?"""
    return bool(workforce) and (bool(workforce.get("teams")) or not workforce.get("crowd", True))


def crowd_admitted(workforce: dict | None, published_at: datetime | None, now: datetime) -> bool:
    if not workforce:
        return True
    if not workforce.get("crowd", True):
        return False
    after = workforce.get("crowd_after_hours")
    return after is None or (published_at is not None and now >= published_at + timedelta(hours=after))


def working_teams(account_id: int) -> set[int]:
    """The teams the account currently works in (members and reviewers)."""
    return set(db.session.scalars(select(TeamMember.team_id).where(
        TeamMember.account_id == account_id, TeamMember.left_at.is_(None), TeamMember.role.in_(WORKING_ROLES))))


def access(*, workforce: dict | None, published_at: datetime | None, annotator_id: int, now: datetime,
           teams: set[int] | None = None) -> Access | None:
    """The way in for this annotator (the best-paid of their targeted teams first), or None."""
    targets = (workforce or {}).get("teams") or []
    if targets:
        mine = working_teams(annotator_id) if teams is None else teams
        ours = [t for t in targets if t["team_id"] in mine]
        if ours:
            best = max(ours, key=lambda t: (t.get("reward_cents") or 0, -t["team_id"]))
            return Access(best["team_id"], best.get("reward_cents"))
    return CROWD if crowd_admitted(workforce, published_at, now) else None


def ensure_access(*, project, annotator_id: int, now: datetime) -> Access:
    """The annotator's way in, or the 404 anyone outside the workforce gets."""
    found = access(workforce=project.workforce, published_at=project.published_at, annotator_id=annotator_id, now=now)
    if found is None:
        raise NotFound("No such project.")
    return found


def may_see(*, project, annotator_id: int, now: datetime, teams: set[int] | None = None) -> bool:
    if not restricted(project.workforce):
        return True
    return access(workforce=project.workforce, published_at=project.published_at, annotator_id=annotator_id, now=now,
                  teams=teams) is not None


def is_team_reviewer(*, project, account_id: int) -> bool:
    """Is the account a reviewer in one of the teams the project targets?"""
    targets = [t["team_id"] for t in (project.workforce or {}).get("teams") or []]
    return bool(targets) and db.session.scalar(select(TeamMember.id).where(
        TeamMember.account_id == account_id, TeamMember.team_id.in_(targets), TeamMember.left_at.is_(None),
        TeamMember.role == REVIEWER).limit(1)) is not None


def checked(*, requester: Account, body: dict) -> dict:
    """Validate a workforce: teams the requester may target, no repeats, someone able to work."""
    targets = body.get("teams") or []
    seen = set()
    for i, target in enumerate(targets):
        team = db.session.get(Team, target["team_id"])
        if team is None or (team.kind == PRIVATE and team.owner_id != requester.id and requester.role != ADMIN):
            raise field_error("no such team of yours (or vendor team)", "teams", str(i), "team_id")
        if team.id in seen:
            raise field_error("this team is listed twice", "teams", str(i), "team_id")
        seen.add(team.id)
    crowd = body.get("crowd", True)
    if not crowd and not targets:
        raise field_error("with no crowd, target at least one team", "teams")
    after = body.get("crowd_after_hours")
    if after is not None and (not crowd or not targets):
        raise field_error("needs the crowd and at least one team: the teams get the work first", "crowd_after_hours")
    return {"crowd": crowd, "crowd_after_hours": after,
            "teams": [{"team_id": t["team_id"], "reward_cents": t.get("reward_cents")} for t in targets]}


def set_workforce(*, account: Account, project, body: dict, now: datetime) -> dict:
    """Change who may work on a project (any time before it closes); live leases keep their terms.

    A published project's escrow is topped up to the worst case at the new rewards (or 402), as when
    tasks are added to it.
    """
    if project.status in (CLOSED, COMPLETED):
        raise Conflict(f"This project is {project.status}; its workforce cannot change.", code="project_closed")
    project_store.set_workforce(project, checked(requester=account, body=body))
    db.session.flush()
    if project.status in (OPEN, PAUSED):
        escrow.top_up(project=project, amount_cents=None, now=now)
    return shown(project)


def shown(project) -> dict:
    workforce = project.workforce or {}
    return {"crowd": workforce.get("crowd", True), "crowd_after_hours": workforce.get("crowd_after_hours"),
            "teams": workforce.get("teams") or [], "crowd_admitted_at": _crowd_from(project)}


def _crowd_from(project) -> datetime | None:
    workforce = project.workforce or {}
    if not workforce.get("crowd", True) or project.published_at is None:
        return None
    return project.published_at + timedelta(hours=workforce.get("crowd_after_hours") or 0)
