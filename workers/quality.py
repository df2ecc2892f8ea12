"""Quality jobs: recompute a project's trust (Dawid-Skene), and the periodic sweep over open projects."""
from marketplace.db import utcnow
from marketplace.quality import recompute
from marketplace.quality.jobs import RECOMPUTE_TRUST
from marketplace.queue import enqueue_after_commit
from workers import queues
from workers.context import job


@job
def recompute_trust(project_id: int) -> dict:
    """Re-estimate annotators' trust in a project and apply its quality rules."""
    return recompute.recompute_trust(project_id=project_id, now=utcnow())


@job
def recompute_open_projects() -> int:
    """Queue a trust recompute for every open project with answers."""
    project_ids = recompute.projects_to_recompute()
    for project_id in project_ids:
        enqueue_after_commit(RECOMPUTE_TRUST, project_id, queue=queues.TRUTH, debounce=True)
    return len(project_ids)
