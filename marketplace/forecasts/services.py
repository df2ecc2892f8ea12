"""A project's forecast from its tasks, its recent answers and its money; the budget warning it raises.

Three GROUP BY/count queries and the escrow's lanes: cheap enough for the request and for the
periodic check over every open project.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from marketplace.accounts.models import Account
from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from marketplace.forecasts import model
from marketplace.payments import escrow
from marketplace.projects import services as projects, store as project_store
from marketplace.projects.models import DRAFT, OPEN, Project
from marketplace.reports.project_figures import answer_cost_cents, cost
from marketplace.tasks.models import CLOSED, ESCALATED, OPEN as TASK_OPEN, Task
from marketplace.webhooks import models as webhooks, services as webhook_services

WINDOW = timedelta(hours=24)  # the pace is read from the ordinary answers of the last day (or since publishing)
CHECK_PAGE = 200


def project_forecast(*, account: Account, project_id: int, now: datetime) -> dict:
    """The forecast of a project its requester owns (an admin: any); another requester's project is a 404."""
    return forecast(projects.owned(account=account, project_id=project_id), now)


def forecast(project: Project, now: datetime) -> dict:
    """Remaining answers, pace, completion time and cost, each with its LEVEL interval, and the budget's outlook."""
    remaining = _remaining(project)
    since = max(now - WINDOW, project.published_at) if project.published_at else now
    hours = (now - since).total_seconds() / 3600
    answered = int(db.session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.project_id == project.id, Assignment.submitted_at > since, Assignment.is_gold.is_(False))) or 0)
    to_come = model.answers_to_come(remaining)
    finish = model.hours_to_finish(remaining, answered, hours) if project.status != DRAFT else None
    pace = model.pace(answered, hours) if project.published_at else None
    money = _money(project, to_come)
    return {
        "project_id": project.id, "status": project.status, "as_of": now, "level": model.LEVEL,
        "open_tasks": remaining.tasks,
        "remaining_answers": {"expected": round(to_come.expected), "low": round(to_come.low), "high": round(to_come.high)},
        "pace": {"window_hours": round(hours, 3), "answers_in_window": answered,
                 "answers_per_hour": None if pace is None else _spread(pace, 2)},
        "completion": None if finish is None else {
            "expected_at": now + timedelta(hours=finish.expected), "earliest": now + timedelta(hours=finish.low),
            "latest": now + timedelta(hours=finish.high), "hours": _spread(finish, 2)},
        "cost": money,
        "budget": _outlook(money, finish, now),
    }


def _remaining(project: Project) -> model.Remaining:
    counts = dict(db.session.execute(
        select(Task.answer_count, func.count()).where(Task.project_id == project.id, Task.status == TASK_OPEN)
        .group_by(Task.answer_count)).all())
    if project.target_confidence is None:
        return model.remaining_answers(counts, fixed=project.answers_per_task)
    finals = dict(db.session.execute(
        select(Task.answer_count, func.count()).where(Task.project_id == project.id,
                                                      Task.status.in_((CLOSED, ESCALATED)))
        .group_by(Task.answer_count)).all())
    return model.remaining_answers(counts, closed_final=finals, max_answers=project.max_answers)


def _money(project: Project, to_come: model.Spread) -> dict:
    """What was spent (as the report counts it), what the remaining answers and their gold will cost, what is left."""
    per_answer = answer_cost_cents(project)
    gold_share = project.gold_rate / (1 - project.gold_rate) if project.gold_count and project.gold_rate < 1 else 0.0
    remaining = {key: round(getattr(to_come, key) * (1 + gold_share) * per_answer) for key in ("expected", "low", "high")}
    spent = cost(project, 0)["total_cents"]
    held = escrow.state(project)
    return {"currency": project.currency, "answer_cost_cents": per_answer, "spent_cents": spent,
            "remaining_cents": remaining, "expected_total_cents": spent + remaining["expected"],
            "budget_cents": project.budget_cents, "escrow_cents": held["escrow_cents"]}


def _outlook(money: dict, finish: model.Spread | None, now: datetime) -> dict:
    """Does the money run out before the last answer? The budget cap or the escrow, whichever leaves less."""
    limits = [("escrow", money["escrow_cents"])]
    if money["budget_cents"] is not None:
        limits.append(("budget", money["budget_cents"] - money["spent_cents"]))
    limit, left = min(limits, key=lambda item: item[1])
    needed = money["remaining_cents"]["expected"]
    runs_out = needed > left
    at = None
    if runs_out and finish is not None and needed:
        at = now + timedelta(hours=finish.expected * max(left, 0) / needed)
    return {"runs_out": runs_out, "limited_by": limit, "left_cents": left,
            "shortfall_cents": max(needed - left, 0), "runs_out_at": at}


def _spread(spread: model.Spread, digits: int) -> dict:
    return {"expected": round(spread.expected, digits), "low": round(spread.low, digits), "high": round(spread.high, digits)}


def check_budgets(*, now: datetime) -> list[int]:
    """Warn (webhook `project.budget_warning`) for open projects whose money will run out before they finish.

    Once per episode: the project keeps when it was warned, and forgets it when the forecast no
    longer runs out (after a top-up or a raised cap), so a later shortfall warns again. Returns the
    ids of the projects warned now.
    """
    warned, after = [], 0
    while True:
        page = list(db.session.scalars(select(Project).where(Project.status == OPEN, Project.id > after)
                                       .order_by(Project.id).limit(CHECK_PAGE)))
        for project in page:
            outlook = forecast(project, now)
            if project_store.mark_budget_warning(project.id, outlook["budget"]["runs_out"], now):
                webhook_services.emit(project_id=project.id, event=webhooks.PROJECT_BUDGET_WARNING, now=now,
                                      payload=_warning(outlook))
                warned.append(project.id)
        if len(page) < CHECK_PAGE:
            return warned
        after = page[-1].id


def _warning(outlook: dict) -> dict:
    budget, completion = outlook["budget"], outlook["completion"]
    return {"project_id": outlook["project_id"], "limited_by": budget["limited_by"], "left_cents": budget["left_cents"],
            "shortfall_cents": budget["shortfall_cents"], "currency": outlook["cost"]["currency"],
            "runs_out_at": budget["runs_out_at"].isoformat() if budget["runs_out_at"] else None,
            "expected_completion_at": completion["expected_at"].isoformat() if completion else None}
