"""The project row's counters and lifecycle as other features change them (the projects table's owner).

Importing tasks, closing or reopening tasks and recomputing change a project's counters and may
complete or reopen it; those features call these instead of setting the project's columns.
"""
from datetime import datetime

from sqlalchemy import select, update

from marketplace.db import is_postgres, pg_one, pg_sql, upsert
from marketplace.extensions import db
from marketplace.projects.models import COMPLETED, OPEN, PAUSED, Project, ProjectProgress


def count_imported(project, *, tasks: int, gold: int) -> None:
    """Count tasks just imported (the caller holds the project's row lock)."""
    project.task_count += tasks
    project.gold_count += gold


_ADD_DONE = pg_sql("""
INSERT INTO project_progress (project_id, done_tasks) VALUES (:project_id, :tasks)
ON CONFLICT (project_id) DO UPDATE SET done_tasks = project_progress.done_tasks + excluded.done_tasks
RETURNING done_tasks
""")


def add_done(project_id: int, tasks: int) -> int:
    """Count tasks that just became done (the closing answer's step); return the project's new total.

    Takes the progress row's lock until commit: closers of one project queue here for a moment,
    never behind the project row.
    """
    if is_postgres():
        return pg_one(_ADD_DONE, {"project_id": project_id, "tasks": tasks}).done_tasks
    insert = upsert(ProjectProgress.__table__).values(project_id=project_id, done_tasks=tasks)
    return db.session.execute(insert.on_conflict_do_update(
        index_elements=["project_id"], set_={"done_tasks": ProjectProgress.done_tasks + insert.excluded.done_tasks},
    ).returning(ProjectProgress.done_tasks)).scalar_one()


def lock_progress(project_id: int) -> None:
    """Hold the progress row until commit, so a recount sees every closer that committed before it
    and every later closer adds to the recounted figure. Take it last: closers hold task, ledger and
    trust rows while they wait for it."""
    db.session.execute(upsert(ProjectProgress.__table__).values(project_id=project_id, done_tasks=0)
                       .on_conflict_do_nothing(index_elements=["project_id"]))
    db.session.execute(select(ProjectProgress.project_id).where(ProjectProgress.project_id == project_id)
                       .with_for_update())


def set_done(project, done: int) -> None:
    """Record a recount of the project's done tasks (the caller holds lock_progress)."""
    db.session.execute(update(ProjectProgress).where(ProjectProgress.project_id == project.id)
                       .values(done_tasks=max(done, 0)))
    db.session.expire(project, ["closed_task_count"])


def complete_if_done(project, now: datetime) -> bool:
    """Complete an open or paused project whose tasks are all done; True if it just completed."""
    if project.status in (OPEN, PAUSED) and project.task_count > 0 and project.closed_task_count >= project.task_count:
        project.status, project.completed_at = COMPLETED, now
        return True
    return False


def reopen_if_completed(project) -> None:
    """A completed project whose tasks need answers again is open again."""
    if project.status == COMPLETED:
        project.status, project.completed_at = OPEN, None


def set_workforce(project, workforce: dict) -> None:
    """Who may work on the project (checked by teams.workforce.checked)."""
    project.workforce = workforce


def set_experiment(project, terms: dict | None) -> None:
    """The running experiment's terms (projects/arms.py), or None when it stops."""
    project.experiment = terms


LEARNED = ("truth_model", "model_confusion", "class_priors")


def record_fit(project, **learned) -> None:
    """Remember what a recompute learned: the truth model it chose (method, weights, calibrations), the
    model-as-annotator's confusion matrix, the class priors. Only those three columns."""
    unknown = set(learned) - set(LEARNED)
    if unknown:
        raise TypeError(f"record_fit takes {LEARNED}, not {sorted(unknown)}")
    for name, value in learned.items():
        setattr(project, name, value)


def mark_budget_warning(project_id: int, runs_out: bool, now: datetime) -> bool:
    """Record that the money runs out first (True: this call started the episode) or that it no longer does.

    Conditional UPDATEs of the row itself: no lock is taken unless the state changes, and two
    checks at once start one episode.
    """
    if runs_out:
        started = db.session.execute(update(Project).where(Project.id == project_id, Project.budget_warned_at.is_(None))
                                     .values(budget_warned_at=now).execution_options(synchronize_session=False))
        return started.rowcount == 1
    db.session.execute(update(Project).where(Project.id == project_id, Project.budget_warned_at.is_not(None))
                       .values(budget_warned_at=None).execution_options(synchronize_session=False))
    return False
