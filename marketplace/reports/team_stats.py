"""What a team's owner or manager sees of its work: per project, the team's throughput and quality.

Only the answers given through the team (assignments.team_id), and of each project only its id
and name: a vendor's manager learns nothing else of the requester's projects, results or crowd.
"""
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from marketplace.accounts.models import Account
from marketplace.assignments.models import Assignment
from marketplace.experiments.stats import wilson
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.teams.services import managed


def team_stats(*, account: Account, team_id: int, days: int, now: datetime) -> dict:
    team = managed(account=account, team_id=team_id)
    since = now - timedelta(days=days)
    answered = Assignment.submitted_at.is_not(None)
    recent = answered & (Assignment.submitted_at >= since)
    rows = db.session.execute(
        select(Project.id, Project.name, func.count(Assignment.submitted_at),
               func.count(case((recent, 1))),
               func.count(func.distinct(case((recent, Assignment.annotator_id)))),
               func.count(case((answered & Assignment.gold_correct.is_not(None), 1))),
               func.count(case((answered & Assignment.gold_correct.is_(True), 1))),
               func.count(Assignment.approved_at),
               func.count(case((Assignment.rejected_at.is_not(None) & Assignment.approved_at.is_(None), 1))))
        .join(Project, Project.id == Assignment.project_id)
        .where(Assignment.team_id == team.id)
        .group_by(Project.id, Project.name).order_by(Project.id)
    ).all()
    projects = []
    for project_id, name, answers, in_window, active, gold_seen, gold_correct, approved, rejected in rows:
        interval = wilson(gold_correct, gold_seen)
        projects.append({
            "project_id": project_id, "project_name": name, "answers": answers, "answers_in_window": in_window,
            "answers_per_hour": round(in_window / (days * 24), 3), "active_members": active,
            "gold_seen": gold_seen, "gold_correct": gold_correct,
            "gold_accuracy": round(gold_correct / gold_seen, 4) if gold_seen else None,
            "gold_accuracy_interval": [round(x, 4) for x in interval] if interval else None,
            "approved": approved, "rejected": rejected,
        })
    return {"team_id": team.id, "days": days, "projects": projects}
