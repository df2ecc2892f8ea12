"""The figures of the admin's marketplace report: throughput, money flows and disputes over a window of days.

All per-day figures are GROUP BYs over indexed timestamps inside the window; the median time to
resolve a dispute reads at most RESOLUTION_SAMPLE resolved disputes (the newest).
"""
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select

from marketplace.assignments.models import Assignment
from marketplace.db import utc_day as day
from marketplace.disputes.models import OPEN, OVERTURNED, UPHELD, Dispute
from marketplace.extensions import db
from marketplace.ledger.models import LedgerEntry, LedgerTransaction
from marketplace.projects.models import Project
from marketplace.reports.project_figures import finite, iso_day
from marketplace.tasks.models import Task

RESOLUTION_SAMPLE = 10_000


def _per_day(column, since: datetime, *where) -> dict[str, int]:
    bucket = day(column)
    rows = db.session.execute(select(bucket, func.count()).where(column >= since, *where).group_by(bucket)).all()
    return {iso_day(d): n for d, n in rows}


def _days(since: datetime, now: datetime) -> list[str]:
    first = since.date()
    return [(first + timedelta(days=i)).isoformat() for i in range((now.date() - first).days + 1)]


def throughput(since: datetime, now: datetime) -> list[dict]:
    """Per UTC day of the window: answers submitted, tasks closed, projects created and published."""
    series = {"answers": _per_day(Assignment.submitted_at, since),
              "tasks_closed": _per_day(Task.closed_at, since),
              "projects_created": _per_day(Project.created_at, since),
              "projects_published": _per_day(Project.published_at, since)}
    return [{"day": d, **{name: counts.get(d, 0) for name, counts in series.items()}} for d in _days(since, now)]


def money_flows(since: datetime) -> dict:
    """Money moved per ledger movement type: per day and in total, per currency, in cents.

    A movement's amount is the sum of its debit entries (every transaction balances, so its credits
    are the same amount).
    """
    bucket = day(LedgerEntry.created_at)
    rows = db.session.execute(
        select(bucket, LedgerTransaction.kind, LedgerEntry.currency, func.sum(LedgerEntry.amount_cents),
               func.count(func.distinct(LedgerTransaction.id)))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.created_at >= since, LedgerEntry.amount_cents > 0)
        .group_by(bucket, LedgerTransaction.kind, LedgerEntry.currency)
        .order_by(bucket, LedgerEntry.currency, LedgerTransaction.kind)).all()
    by_day = [{"day": iso_day(d), "kind": kind, "currency": currency, "amount_cents": int(cents), "movements": n}
              for d, kind, currency, cents, n in rows]
    totals: dict[tuple[str, str], dict] = {}
    for row in by_day:
        total = totals.setdefault((row["currency"], row["kind"]), {"kind": row["kind"], "currency": row["currency"],
                                                                   "amount_cents": 0, "movements": 0})
        total["amount_cents"] += row["amount_cents"]
        total["movements"] += row["movements"]
    return {"by_day": by_day, "totals": [totals[key] for key in sorted(totals)]}


def disputes(since: datetime, now: datetime) -> dict:
    """Disputes opened and resolved per day, how they ended, and how long resolving took."""
    opened = _per_day(Dispute.opened_at, since)
    resolved = _per_day(Dispute.resolved_at, since)
    overturned = _per_day(Dispute.resolved_at, since, Dispute.status == OVERTURNED)
    outcomes = dict(db.session.execute(select(Dispute.status, func.count()).where(Dispute.opened_at >= since)
                                       .group_by(Dispute.status)).all())
    spans = db.session.execute(
        select(Dispute.opened_at, Dispute.resolved_at).where(Dispute.resolved_at >= since)
        .order_by(Dispute.resolved_at.desc()).limit(RESOLUTION_SAMPLE)).all()
    hours = [(resolved_at - opened_at).total_seconds() / 3600 for opened_at, resolved_at in spans]
    return {
        "opened": sum(outcomes.values()),
        "still_open": outcomes.get(OPEN, 0), "upheld": outcomes.get(UPHELD, 0), "overturned": outcomes.get(OVERTURNED, 0),
        "open_now": int(db.session.scalar(select(func.count()).where(Dispute.status == OPEN)) or 0),
        "median_hours_to_resolve": finite(np.median(hours)) if hours else None,
        "by_day": [{"day": d, "opened": opened.get(d, 0), "resolved": resolved.get(d, 0),
                    "overturned": overturned.get(d, 0)} for d in _days(since, now)],
    }


def marketplace_figures(*, days: int, now: datetime) -> dict:
    """Every figure of the marketplace report over the last `days` UTC days (today included)."""
    since = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), tzinfo=now.tzinfo)
    return {"generated_at": now, "since": since, "days": days, "throughput": throughput(since, now),
            "money": money_flows(since), "disputes": disputes(since, now)}
