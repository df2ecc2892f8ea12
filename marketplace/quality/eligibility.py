"""Who may work on a project: its requirements (qualifications, trust, skills) and blocks."""
from datetime import datetime

from flask import current_app
from sqlalchemy import or_, select

from marketplace.accounts.models import Account
from marketplace.disputes.services import final_rejections_query, window
from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.projects.models import OPEN, Project
from marketplace.qualifications.models import Grant
from marketplace.quality import trust
from marketplace.quality.models import AnnotatorStats, Skill
from marketplace.teams import workforce


class NotQualified(Forbidden):
    """The annotator does not meet one of the project's requirements."""

    code = "not_eligible"


def unmet_requirement(*, annotator: Account, project: Project, now: datetime) -> str | None:
    """Describe the first requirement of the project the annotator does not meet, or None."""
    needs = project.requirements or {}
    for need in needs.get("qualifications", []):
        grant = best_grant(annotator_id=annotator.id, qualification_id=need["id"], now=now,
                           granted_after=project.requalify_after)
        if grant is None:
            again = " again under the new guidelines" if project.requalify_after is not None else ""
            return f"qualification {need['id']} is required; take its test{again} first"
        if grant.score < need.get("min_score", 0):
            return f"qualification {need['id']} needs a score of at least {need['min_score']} (yours: {grant.score:.2f})"
    if needs.get("skills"):
        held = set(db.session.scalars(select(Skill.name).where(Skill.annotator_id == annotator.id)))
        missing = sorted(set(needs["skills"]) - held)
        if missing:
            return f"skill(s) not verified for you: {', '.join(missing)}"
    if needs.get("min_trust") is not None:
        estimate = reputation_of(annotator_id=annotator.id, now=now)
        if estimate.mean < needs["min_trust"]:
            return f"trust of at least {needs['min_trust']} is required (yours: {estimate.mean:.2f})"
    return None


def best_grant(*, annotator_id: int, qualification_id: int, now: datetime, granted_after: datetime | None = None):
    """The annotator's best live grant of a qualification (granted after `granted_after` if given), or None."""
    query = select(Grant).where(
        Grant.annotator_id == annotator_id, Grant.qualification_id == qualification_id, ~Grant.revoked,
        or_(Grant.expires_at.is_(None), Grant.expires_at > now),
    )
    if granted_after is not None:  # a major guideline version asked everyone to qualify again
        query = query.where(Grant.created_at >= granted_after)
    return db.session.scalar(query.order_by(Grant.score.desc()).limit(1))


def ensure(*, annotator: Account, project: Project, now: datetime) -> None:
    """Raise 403 naming the unmet requirement, if any."""
    if not project.requirements:
        return
    problem = unmet_requirement(annotator=annotator, project=project, now=now)
    if problem is not None:
        raise NotQualified(f"You are not eligible for this project: {problem}.")


def eligible(*, annotator: Account, projects: list[Project], now: datetime) -> list[Project]:
    """Keep the projects the annotator may work on: requirements met and not blocked there."""
    blocked = set(db.session.scalars(
        select(AnnotatorStats.project_id).where(
            AnnotatorStats.annotator_id == annotator.id, AnnotatorStats.blocked,
            AnnotatorStats.project_id.in_([p.id for p in projects]),
        )
    )) if projects else set()
    teams = workforce.working_teams(annotator.id) if any(workforce.restricted(p.workforce) for p in projects) else set()
    return [
        p for p in projects
        if p.id not in blocked and workforce.may_see(project=p, annotator_id=annotator.id, now=now, teams=teams)
        and (not p.requirements or unmet_requirement(annotator=annotator, project=p, now=now) is None)
    ]


def reputation_of(*, annotator_id: int, now: datetime) -> trust.BetaEstimate:
    """Return the annotator's global, recency-weighted gold accuracy across projects.

    From the gold record as the periodic recompute last copied it, not the live counters: the
    reputation is shown to the annotator and gates which projects they see, and neither may move
    right after one answer (that answer would be known to be gold).
    """
    return reputations_of(annotator_ids=[annotator_id], now=now)[annotator_id]


def reputations_of(*, annotator_ids, now: datetime) -> dict[int, trust.BetaEstimate]:
    """reputation_of for several annotators at once, in one query however many there are."""
    ids = sorted(set(annotator_ids))
    records: dict[int, list] = {annotator_id: [] for annotator_id in ids}
    reported = (
        select(AnnotatorStats.annotator_id, AnnotatorStats.reported_gold_correct, AnnotatorStats.reported_gold_seen,
               AnnotatorStats.updated_at)
        .where(AnnotatorStats.annotator_id.in_(ids), AnnotatorStats.reported_gold_seen > 0)
    )
    # A rejection that stood through its dispute window counts as a failed check: (0 right, n seen, last).
    for annotator_id, correct, seen, when in db.session.execute(reported.union_all(
            final_rejections_query(annotator_ids=ids, now=now))):
        records[annotator_id].append((correct, seen, when))
    half_life = current_app.config["REPUTATION_HALF_LIFE_DAYS"]
    return {annotator_id: trust.reputation(found, now, half_life) for annotator_id, found in records.items()}


def rejections_final_before(now: datetime) -> datetime:
    """A rejection made before this has stood through its dispute window (it counts against reputation)."""
    return now - window()


def reputation_from(*, reported: list[tuple], rejections: int, last_rejected, now: datetime) -> trust.BetaEstimate:
    """reputations_of's estimate of one annotator from records read elsewhere: the reported gold records
    (right, seen, when) and the count and time of the last of their final rejections."""
    records = list(reported) + ([(0, rejections, last_rejected)] if rejections else [])
    return trust.reputation(records, now, current_app.config["REPUTATION_HALF_LIFE_DAYS"])


def open_projects(*, annotator: Account, status: str | None, cursor: int | None, limit: int,
                  now: datetime) -> list[Project]:
    """The marketplace as an annotator sees it: open projects they are eligible for, by id, one page (+1)."""
    if status not in (None, OPEN):
        return []
    query = select(Project).where(Project.status == OPEN).order_by(Project.id).limit(limit + 1)
    # Eligibility is checked in Python, so read on until the page is full.
    found: list[Project] = []
    while len(found) <= limit:
        batch = list(db.session.scalars(query.where(Project.id > (cursor or 0))))
        found += eligible(annotator=annotator, projects=batch, now=now)
        if len(batch) <= limit:
            break
        cursor = batch[-1].id
    return found[: limit + 1]
