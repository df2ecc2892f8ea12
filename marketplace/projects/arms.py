"""An experiment's arms as a project carries them (projects.experiment): who is in which arm, what it pays.

Pure functions of the snapshot the experiments feature writes on the project, so the lease, the task
import and the escrow read arms in the row they already have. An annotator (or a task) is in the arm
a keyed hash of the experiment and its id falls in, the arms laid side by side by weight: stable for
the whole run and not guessable from outside.
"""
import random

from marketplace import pseudonyms
from marketplace.experiments.models import TASK_UNIT
from marketplace.projects.models import initial_slots
from marketplace.tasks import store as tasks_store



def _draw(arms: list[dict], fraction: float) -> dict:
    total = sum(arm["weight"] for arm in arms)
    edge = 0.0
    for arm in arms:
        edge += arm["weight"] / total
        if fraction < edge:
            return arm
    return arms[-1]


def arm_of(experiment: dict, unit_id: int) -> dict:
    """The arm an annotator (or a task) is in."""
    return _draw(experiment["arms"], pseudonyms.keyed_fraction(f"experiment-arm:{experiment['id']}:{unit_id}"))


def lease_order(experiment: dict | None, annotator_id: int, rng: random.Random) -> list[dict]:
    """The arms a lease tries, in order: the annotator's own arm; by task, one drawn by weight, then the others."""
    if not experiment:
        return []
    if experiment["unit"] != TASK_UNIT:
        return [arm_of(experiment, annotator_id)]
    first = _draw(experiment["arms"], rng.random())
    return [first] + [arm for arm in experiment["arms"] if arm["id"] != first["id"]]


STAMP_BATCH = 10_000


def stamp_tasks(project) -> int:
    """Put the project's tasks not yet in an arm into the running experiment's arms (by task); how many.

    A task nobody has leased yet also takes its arm's redundancy. Called when the experiment starts,
    after tasks are added while it runs, and when publishing resets every task's slots.
    """
    experiment = project.experiment
    if not experiment or experiment["unit"] != TASK_UNIT:
        return 0
    stamped = 0
    while True:
        ids = tasks_store.unstamped_ids(project_id=project.id, limit=STAMP_BATCH)
        per_arm: dict[int, list[int]] = {}
        for task_id in ids:
            per_arm.setdefault(arm_of(experiment, task_id)["id"], []).append(task_id)
        for arm_id, chosen in sorted(per_arm.items()):
            tasks_store.stamp_arm(task_ids=chosen, arm_id=arm_id)
        stamped += len(ids)
        if len(ids) < STAMP_BATCH:
            break
    for arm in experiment["arms"]:
        if arm.get("answers_per_task") is not None:
            tasks_store.set_fresh_slot_limits(project_id=project.id, arm_ids=[arm["id"]],
                                              slot_limit=arm["answers_per_task"])
    return stamped


def unstamp(project, experiment: dict) -> None:
    """An experiment stopped: its redundancy arms' fresh tasks go back to the project's own redundancy, and
    its tasks leave its arms (a later experiment by task stamps them afresh)."""
    arm_ids = [arm["id"] for arm in experiment["arms"] if arm.get("answers_per_task") is not None]
    if arm_ids:
        tasks_store.set_fresh_slot_limits(project_id=project.id, arm_ids=arm_ids, slot_limit=initial_slots(project))
    if experiment["unit"] == TASK_UNIT:
        tasks_store.clear_arms(project_id=project.id, arm_ids=[arm["id"] for arm in experiment["arms"]])
