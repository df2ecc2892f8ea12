"""Forecast jobs: the budget check over open projects."""
from marketplace.db import utcnow
from marketplace.forecasts import services
from workers.context import job


@job
def check_budgets() -> list[int]:
    """Warn the owners of open projects whose money runs out before their last answer (once per episode)."""
    return services.check_budgets(now=utcnow())
