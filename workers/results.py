"""Truth jobs: aggregate closed tasks, recompute projects, and sweep up what lost jobs left undone."""
from marketplace.db import utcnow
from marketplace.results import chunked, recompute, services
from workers.context import job


@job
def aggregate_project(project_id: int) -> int:
    """Give a project's closed tasks their results and complete the project when all are done."""
    return services.aggregate_project(project_id=project_id, now=utcnow())


@job
def sweep_unaggregated() -> int:
    """Re-enqueue aggregation where closed tasks still lack a result."""
    return services.sweep_unaggregated()


@job
def recompute_project(project_id: int) -> dict:
    """Dawid-Skene over all of a project's answers: results, trust, class priors, reopened tasks."""
    return recompute.recompute_project(project_id=project_id, now=utcnow())


@job
def recompute_if_due(project_id: int) -> bool:
    """Queue a recompute of a project once enough answers arrived since its last one started."""
    return recompute.queue_if_due(project_id=project_id, now=utcnow()) is not None


@job
def recompute_due_projects() -> int:
    """Queue a recompute for every open project with answers since its last run; send the job again where
    a queued run's job or a large run's merge jobs were lost."""
    now = utcnow()
    queued = [recompute.queue_unless_waiting(project_id=project_id, reason="periodic", now=now)
              for project_id in recompute.due_projects(now=now)]
    recompute.resend_lost_jobs(now=now)
    chunked.resend_stalled(now=now)
    return sum(run is not None for run in queued)


@job
def merge_recompute_chunk(project_id: int, lane: int) -> dict:
    """Merge a staged chunk of a large recompute's results (each lane's job sends the lane's next)."""
    return chunked.merge_next_chunk(project_id=project_id, lane=lane, now=utcnow())
