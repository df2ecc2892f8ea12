"""The quality report of a project (its owner's or an admin's) and the admin's marketplace report."""
from datetime import datetime

from marketplace.accounts.models import Account
from marketplace.projects import services as projects
from marketplace.reports.marketplace_figures import marketplace_figures
from marketplace.reports.project_figures import project_figures


def project_report(*, account: Account, project_id: int, now: datetime) -> dict:
    """Every figure of a project's quality report; another requester's project is a 404."""
    project = projects.owned(account=account, project_id=project_id)
    return project_figures(project, now)


def marketplace_report(*, days: int, now: datetime) -> dict:
    """Throughput, money flows and disputes of the whole marketplace over the last `days` days."""
    return marketplace_figures(days=days, now=now)
