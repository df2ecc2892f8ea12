"""Truth jobs: aggregate a project's closed tasks; sweep up what lost jobs left undone."""
from marketplace.db import utcnow
from marketplace.results import services
from workers.context import job


@job
def aggregate_project(project_id: int) -> int:
    """Give a project's closed tasks their results and complete the project when all are done."""
    return services.aggregate_project(project_id=project_id, now=utcnow())


@job
def sweep_unaggregated() -> int:
    """Re-enqueue aggregation where closed tasks still lack a result."""
    return services.sweep_unaggregated()
