"""The forecasts feature's periodic job."""
from marketplace.queue import MAINTENANCE, Job

CHECK_BUDGETS = Job("workers.forecasts.check_budgets", MAINTENANCE, interval_s=900)
