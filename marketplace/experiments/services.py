"""Running an experiment: start it with its arms, put annotators or tasks in arms, stop it.

- By annotator: each annotator is in one arm for the whole run, drawn from a keyed hash of the
  experiment and the annotator (stable, unpredictable, weighted). Arms may differ in guideline
  version, reward and an extra qualification.
- By task: each task is in one arm (the same keyed draw on the task), stamped on the task when the
  experiment starts and when tasks are added while it runs. Arms may differ in redundancy
  (answers_per_task of fixed-redundancy projects), reward and guideline version; a lease draws an
  arm at random by weight and leases from its tasks, then tries the others.
- One experiment runs per project at a time. Stopping it ends the arms' terms for new leases only:
  live leases and answers keep the terms they were given, and the report still counts them.
"""
from datetime import datetime

from sqlalchemy import select

from marketplace.accounts.models import ADMIN, Account
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.experiments.models import RUNNING, STOPPED, TASK_UNIT, Arm, Experiment
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.payments import escrow
from marketplace.projects import arms as project_arms
from marketplace.projects import store as project_store
from marketplace.projects.models import CLOSED, COMPLETED, OPEN, PAUSED, Project
from marketplace.qualifications.models import Qualification

TERMS = ("weight", "guideline_version", "reward_cents", "qualification_id", "answers_per_task")


def arms_of(experiment_id: int) -> list[Arm]:
    return list(db.session.scalars(select(Arm).where(Arm.experiment_id == experiment_id).order_by(Arm.position)))


def _terms(experiment: Experiment, arms: list[Arm]) -> dict:
    """The snapshot the project carries while the experiment runs (projects/arms.py reads it)."""
    return {"id": experiment.id, "unit": experiment.unit,
            "arms": [{"id": arm.id, **{name: getattr(arm, name) for name in TERMS}} for arm in arms]}


def _checked_arms(project: Project, account: Account, unit: str, arms: list[dict]) -> None:
    names = set()
    for i, arm in enumerate(arms):
        if arm["name"] in names:
            raise field_error("two arms have this name", "arms", str(i), "name")
        names.add(arm["name"])
        version = arm.get("guideline_version")
        if version is not None and version > project.guideline_version:
            raise field_error(f"this project's guidelines go up to version {project.guideline_version}",
                              "arms", str(i), "guideline_version")
        if arm.get("qualification_id") is not None:
            if unit == TASK_UNIT:
                raise field_error("a qualification arm needs unit=annotator (tasks hold no qualifications)",
                                  "arms", str(i), "qualification_id")
            qualification = db.session.get(Qualification, arm["qualification_id"])
            if qualification is None or (qualification.owner_id != account.id and account.role != ADMIN):
                raise field_error("no such qualification of yours", "arms", str(i), "qualification_id")
        if arm.get("answers_per_task") is not None:
            if unit != TASK_UNIT:
                raise field_error("a redundancy arm needs unit=task (redundancy belongs to tasks)",
                                  "arms", str(i), "answers_per_task")
            if project.target_confidence is not None:
                raise field_error("this project's redundancy is adaptive (target_confidence); arms can set "
                                  "answers_per_task only on fixed redundancy", "arms", str(i), "answers_per_task")


def start(*, account: Account, project: Project, name: str, unit: str, arms: list[dict], now: datetime) -> Experiment:
    """Start an experiment on a project (one at a time)."""
    if project.status in (CLOSED, COMPLETED):
        raise Conflict(f"This project is {project.status}.", code="project_closed")
    if project.experiment is not None:
        raise Conflict("This project already runs an experiment; stop it first.", code="experiment_running")
    _checked_arms(project, account, unit, arms)
    experiment = Experiment(project_id=project.id, name=name.strip() or "experiment", unit=unit, status=RUNNING,
                            started_at=now)
    db.session.add(experiment)
    db.session.flush()
    rows = [Arm(experiment_id=experiment.id, position=position, **arm) for position, arm in enumerate(arms)]
    db.session.add_all(rows)
    db.session.flush()
    project_store.set_experiment(project, _terms(experiment, rows))
    project_arms.stamp_tasks(project)
    if project.status in (OPEN, PAUSED):  # an arm may pay more, or ask for more answers: the worst case grows
        escrow.top_up(project=project, amount_cents=None, now=now)
    return experiment


def stop(*, experiment: Experiment, project: Project, now: datetime) -> Experiment:
    """Stop it: new leases get the project's own terms; live leases and answers keep theirs."""
    if experiment.status == STOPPED:
        raise Conflict("This experiment is already stopped.", code="experiment_stopped")
    experiment.status, experiment.stopped_at = STOPPED, now
    if project.experiment and project.experiment["id"] == experiment.id:
        project_store.set_experiment(project, None)
    project_arms.unstamp(project, _terms(experiment, arms_of(experiment.id)))
    db.session.flush()
    if project.status in (OPEN, PAUSED):  # fresh tasks may ask for more answers again
        escrow.top_up(project=project, amount_cents=None, now=now)
    return experiment


def of_project(*, project: Project, experiment_id: int) -> Experiment:
    experiment = db.session.get(Experiment, experiment_id)
    if experiment is None or experiment.project_id != project.id:
        raise NotFound("No such experiment.")
    return experiment


def listing(*, project: Project, cursor: int | None, limit: int) -> list[Experiment]:
    return list(db.session.scalars(keyset(select(Experiment).where(Experiment.project_id == project.id),
                                          Experiment.id, cursor, limit)))

