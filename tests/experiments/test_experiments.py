"""Experiments through the API: stable arms, each arm's terms on the lease and in the ledger, the verdict."""
import random

import pytest

from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.assignments.models import Assignment
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, LedgerAccount
from marketplace.payments import escrow
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, RequesterFactory, bearer, open_project
from tests.quality.helpers import GOLD_DRAW, force_draw, gold_project


pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane (the portable lease path)


def _available(annotator_id):
    row = db.session.scalar(select(LedgerAccount).where(LedgerAccount.kind == ANNOTATOR_AVAILABLE,
                                                        LedgerAccount.owner_id == annotator_id)
                            .execution_options(populate_existing=True))
    return 0 if row is None else row.balance_cents


def _owner(project):
    return bearer(db.session.get(Account, project.requester_id))


def _start(client, project, body):
    started = client.post(f"/api/v1/projects/{project.id}/experiments", json=body, headers=_owner(project))
    assert started.status_code == 201, started.json
    return started.json


def _answer(client, project, annotator, label="cat"):
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator))
    if lease.status_code != 201:
        return None
    done = client.post(f"/api/v1/assignments/{lease.json['id']}/answer", json={"answer": {"label": label}},
                       headers=bearer(annotator))
    assert done.status_code == 200, done.json
    return lease.json


def test_the_verdict_names_the_arm_whose_annotators_are_truly_better(client, monkeypatch):
    """A simulated crowd: annotators under the clearer guidelines get gold right 92% of the time, the others 65%."""
    project = gold_project(tasks=3, gold=30, answers_per_task=20)
    owner = _owner(project)
    assert client.post(f"/api/v1/projects/{project.id}/guidelines", headers=owner,
                       json={"instructions": "Pick the animal; a fox is not a dog."}).status_code == 201
    experiment = _start(client, project, {"name": "guidelines", "arms": [
        {"name": "control", "guideline_version": 1}, {"name": "clear", "guideline_version": 2}]})
    force_draw(monkeypatch, GOLD_DRAW)  # gold first whenever ordinary work is left too
    accuracy = {"control": 0.65, "clear": 0.92}
    arm_name = {arm["id"]: arm["name"] for arm in experiment["arms"]}
    rng = random.Random(7)
    for _ in range(16):  # all in one arm: a chance of 2 in 65,536
        annotator = AnnotatorFactory()
        arms_seen = set()
        for _ in range(30):
            lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator)).json
            arm = arm_name[db.session.get(Assignment, lease["id"]).arm_id]
            arms_seen.add(arm)
            assert lease["guideline_version"] == (2 if arm == "clear" else 1)
            label = "cat" if rng.random() < accuracy[arm] else "dog"
            client.post(f"/api/v1/assignments/{lease['id']}/answer", json={"answer": {"label": label}},
                        headers=bearer(annotator))
        assert len(arms_seen) == 1  # an annotator stays in one arm
    shown = client.get(f"/api/v1/projects/{project.id}/experiments/{experiment['id']}", headers=owner).json
    arms = {arm["name"]: arm for arm in shown["arms"]}
    assert arms["control"]["gold_seen"] + arms["clear"]["gold_seen"] == 16 * 30
    assert arms["clear"]["gold_accuracy"] > arms["control"]["gold_accuracy"]
    low, high = arms["clear"]["gold_accuracy_interval"]
    assert low < arms["clear"]["gold_accuracy"] < high
    assert shown["verdict"]["status"] == "winner" and shown["verdict"]["winner"] == "clear"
    assert arms["clear"]["cost_per_accepted_label_cents"] == 6  # reward 5 + fee 1 (20%, rounded up)
    assert arms["clear"]["answers_per_hour"] > 0


def test_an_arms_reward_is_what_its_annotators_are_held_paid_and_approved(client):
    project = open_project(tasks=6, answers_per_task=6, reward_cents=5, fee_bps=2000)
    experiment = _start(client, project, {"name": "pay", "arms": [{"name": "base"}, {"name": "more", "reward_cents": 12}]})
    more = next(arm["id"] for arm in experiment["arms"] if arm["name"] == "more")
    ids = []
    for _ in range(6):
        annotator = AnnotatorFactory()
        lease = _answer(client, project, annotator)
        ids.append(lease["id"])
    rows = db.session.scalars(select(Assignment).where(Assignment.id.in_(ids))
                              .execution_options(populate_existing=True)).all()
    assert {(row.arm_id == more, row.reward_cents) for row in rows} <= {(True, 12), (False, None)}
    assert escrow.check_holds() == []
    approved = client.post(f"/api/v1/projects/{project.id}/answers/approve", json={"assignment_ids": ids},
                           headers=_owner(project)).json
    assert approved["decided"] == 6
    paid = {row.annotator_id: 12 if row.arm_id == more else 5 for row in rows}
    for annotator_id, cents in paid.items():
        assert _available(annotator_id) == cents
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]
    stopped = client.post(f"/api/v1/projects/{project.id}/experiments/{experiment['id']}/stop", headers=_owner(project))
    assert stopped.status_code == 200 and stopped.json["status"] == "stopped"
    after = _answer(client, project, AnnotatorFactory())
    row = db.session.get(Assignment, after["id"])
    assert (row.arm_id, row.reward_cents) == (None, None)  # the project's own terms again


def test_by_task_each_arm_gets_its_own_redundancy_new_tasks_included(client):
    project = open_project(tasks=10, answers_per_task=2, reward_cents=5)
    experiment = _start(client, project, {"name": "redundancy", "unit": "task", "arms": [
        {"name": "one", "answers_per_task": 1}, {"name": "three", "answers_per_task": 3}]})
    setting = {arm["id"]: arm["answers_per_task_setting"] for arm in experiment["arms"]}
    added = client.post(f"/api/v1/projects/{project.id}/tasks", headers=_owner(project),
                        json={"tasks": [{"external_id": f"new{i}", "data": {"text": "x"}} for i in range(6)]})
    assert added.status_code == 201, added.json
    tasks = db.session.scalars(select(Task).where(Task.project_id == project.id)
                               .execution_options(populate_existing=True)).all()
    assert len(tasks) == 16 and all(task.arm_id in setting for task in tasks)
    assert all(task.slot_limit == setting[task.arm_id] for task in tasks)
    assert len({task.arm_id for task in tasks}) == 2
    annotators = [AnnotatorFactory() for _ in range(3)]
    while any([_answer(client, project, a) for a in annotators]):
        pass
    tasks = db.session.scalars(select(Task).where(Task.project_id == project.id)
                               .execution_options(populate_existing=True)).all()
    assert all(task.answer_count == setting[task.arm_id] for task in tasks)
    answers = db.session.scalars(select(Assignment).where(Assignment.project_id == project.id)).all()
    by_task = {task.id: task.arm_id for task in tasks}
    assert all(answer.arm_id == by_task[answer.task_id] for answer in answers)
    shown = client.get(f"/api/v1/projects/{project.id}/experiments/{experiment['id']}", headers=_owner(project)).json
    assert {arm["name"]: arm["answers_per_task"] for arm in shown["arms"]} == {"one": 1.0, "three": 3.0}
    assert shown["verdict"]["status"] == "collecting"  # no gold in this project
    assert escrow.check_holds() == [] and reports.trial_balance()["balanced"]


def test_arms_are_checked_and_only_the_owner_runs_experiments(client):
    project = open_project(tasks=2)
    url = f"/api/v1/projects/{project.id}/experiments"
    cases = [
        ({"unit": "task", "arms": [{"name": "a", "qualification_id": 1}, {"name": "b"}]}, "qualification_id"),
        ({"arms": [{"name": "a", "answers_per_task": 2}, {"name": "b"}]}, "answers_per_task"),
        ({"arms": [{"name": "a", "guideline_version": 9}, {"name": "b"}]}, "guideline_version"),
        ({"arms": [{"name": "a"}, {"name": "a"}]}, "name"),
        ({"arms": [{"name": "a"}]}, None),
    ]
    for body, field in cases:
        refused = client.post(url, json={"name": "x", **body}, headers=_owner(project))
        assert refused.status_code == 422, (body, refused.json)
        if field:
            arm = "1" if field == "name" else "0"
            assert field in refused.json["errors"]["json"]["arms"][arm], refused.json
    body = {"name": "x", "arms": [{"name": "a"}, {"name": "b"}]}
    assert client.post(url, json=body, headers=bearer(RequesterFactory())).status_code == 404
    assert client.post(url, json=body, headers=bearer(AnnotatorFactory())).status_code == 403
    assert client.post(url, json=body, headers=_owner(project)).status_code == 201
    again = client.post(url, json=body, headers=_owner(project))
    assert again.status_code == 409 and again.json["code"] == "experiment_running"
    assert client.get(url, headers=_owner(project)).json["items"][0]["verdict"]["status"] == "collecting"


def test_a_qualification_arm_asks_its_annotators_for_the_qualification_only(client):
    from marketplace.qualifications.models import Qualification

    project = open_project(tasks=6, answers_per_task=3)
    qualification = Qualification(owner_id=project.requester_id, name="q", questions_per_attempt=1, pass_score=1.0,
                                  label_schema={"type": "classification", "classes": ["cat", "dog", "bird"]},
                                  time_limit_s=60, retry_delay_s=60, max_attempts=1)
    db.session.add(qualification)
    db.session.flush()
    _start(client, project, {"name": "gate", "arms": [{"name": "open"},
                                                      {"name": "gated", "qualification_id": qualification.id}]})
    statuses = {}
    annotators = [AnnotatorFactory() for _ in range(16)]  # all in one arm: a chance of 2 in 65,536
    for annotator in annotators:
        lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator))
        statuses[annotator.id] = (lease.status_code, lease.json.get("code"))
    assert set(statuses.values()) == {(201, None), (403, "not_eligible")}  # both arms drew someone
    gated = next(a for a in annotators if statuses[a.id][0] == 403)
    granted = client.post(f"/api/v1/qualifications/{qualification.id}/grants", json={"annotator_id": gated.id},
                          headers=_owner(project))
    assert granted.status_code == 201, granted.json
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(gated)).status_code == 201


def test_a_second_experiment_by_task_restamps_every_task_and_leases_from_its_arms(client):
    project = open_project(tasks=8, answers_per_task=2)
    first = _start(client, project, {"name": "one", "unit": "task", "arms": [{"name": "a"}, {"name": "b"}]})
    client.post(f"/api/v1/projects/{project.id}/experiments/{first['id']}/stop", headers=_owner(project))
    second = _start(client, project, {"name": "two", "unit": "task", "arms": [
        {"name": "c", "answers_per_task": 1}, {"name": "d", "answers_per_task": 1}]})
    arms = {arm["id"] for arm in second["arms"]}
    tasks = db.session.scalars(select(Task).where(Task.project_id == project.id)
                               .execution_options(populate_existing=True)).all()
    assert {task.arm_id for task in tasks} <= arms and {task.slot_limit for task in tasks} == {1}
    assert _answer(client, project, AnnotatorFactory()) is not None
