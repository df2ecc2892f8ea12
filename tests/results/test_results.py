"""Majority vote results, project completion, the results API and its streamed exports."""
import csv
import io
import json

import numpy as np
import pandas
import pytest

from marketplace import pseudonyms
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.results import services, votes
from marketplace.results.models import Result
from tests.assignments.test_routes import answer, lease, task_of
from tests.factories import AnnotatorFactory, RequesterFactory, bearer, open_project
from tests.projects.test_routes import _owner

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane


def test_majority_vote_breaks_ties_by_schema_order():
    # classes: 0 cat, 1 dog, 2 bird; tasks: (dog dog cat) (bird cat) (bird dog bird dog) (bird)
    task_idx = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    label_idx = np.array([1, 1, 0, 2, 0, 2, 1, 2, 1, 2])
    annotator_idx = np.array([0, 1, 2, 0, 1, 0, 1, 2, 3, 0])
    method, labels, shares, ties = votes.vote(task_idx, annotator_idx, label_idx, np.ones(4), n_tasks=4, K=3)
    assert method == "majority_vote"
    assert labels.tolist() == [1, 0, 1, 2]  # a tie goes to the class listed first in the schema
    assert shares.tolist() == pytest.approx([2 / 3, 0.5, 0.5, 1.0])
    assert ties.tolist() == [False, True, True, False]


def test_a_down_weighted_annotator_counts_for_less():
    task_idx, annotator_idx, label_idx = np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([1, 1, 0])
    method, labels, shares, _ = votes.vote(task_idx, annotator_idx, label_idx, np.array([0.1, 0.1, 1.0]), 1, 3)
    assert method == "weighted_vote" and labels.tolist() == [0] and shares[0] == pytest.approx(1 / 1.2)


def run_project(client, project, labels_per_task):
    """Have one fresh annotator per answer position label every task of the project."""
    annotators = [bearer(AnnotatorFactory()) for _ in range(project.answers_per_task)]
    for position, headers in enumerate(annotators):
        for _ in range(project.task_count):
            leased = lease(client, project, headers).json
            answer(client, leased["id"], headers, labels_per_task[task_of(leased)][position])


def test_closed_tasks_get_results_and_the_project_completes(client):
    project = open_project(tasks=3, answers_per_task=3)
    owner = bearer(_owner(project))
    task_ids = [t["id"] for t in client.get(f"/api/v1/projects/{project.id}/tasks", headers=owner).json["items"]]
    labels = {task_ids[0]: ["cat", "cat", "dog"], task_ids[1]: ["dog", "bird", "bird"], task_ids[2]: ["bird", "dog", "cat"]}
    run_project(client, project, labels)
    assert db.session.get(Project, project.id).status == "completed"
    assert db.session.get(Project, project.id).closed_task_count == 3
    page = client.get(f"/api/v1/projects/{project.id}/results", headers=owner).json
    by_task = {row["task_id"]: row for row in page["items"]}
    assert by_task[task_ids[0]]["label"] == "cat" and by_task[task_ids[0]]["confidence"] == pytest.approx(2 / 3)
    assert by_task[task_ids[1]]["label"] == "bird"
    assert by_task[task_ids[2]]["label"] == "cat" and by_task[task_ids[2]]["tie"] is True
    row = by_task[task_ids[0]]
    assert row["method"] == "majority_vote" and row["answer_count"] == 3 and row["external_id"] == "t0"
    assert sorted(a["label"] for a in row["answers"]) == ["cat", "cat", "dog"]
    assert all(a["annotator"].startswith("ann_") for a in row["answers"])


def test_aggregation_is_idempotent(client):
    project = open_project(tasks=1, answers_per_task=1)
    headers = bearer(AnnotatorFactory())
    answer(client, lease(client, project, headers).json["id"], headers)
    assert services.aggregate_project(project_id=project.id, now=utcnow()) == 0
    assert db.session.query(Result).filter_by(project_id=project.id).count() == 1


def test_pseudonyms_are_stable_per_project_and_hide_account_ids(ctx):
    assert pseudonyms.annotator(1, 42) == pseudonyms.annotator(1, 42)
    assert pseudonyms.annotator(1, 42) != pseudonyms.annotator(2, 42)
    assert pseudonyms.task_ref(5, 42) != pseudonyms.task_ref(5, 43)


@pytest.fixture
def finished(client):
    project = open_project(tasks=5, answers_per_task=1)
    headers = bearer(AnnotatorFactory())
    for _ in range(5):
        answer(client, lease(client, project, headers).json["id"], headers, "dog")
    return project


def test_results_are_paginated(client, finished):
    owner = bearer(_owner(finished))
    first = client.get(f"/api/v1/projects/{finished.id}/results?limit=2", headers=owner).json
    rest = client.get(f"/api/v1/projects/{finished.id}/results?limit=10&cursor={first['next_cursor']}", headers=owner).json
    assert len(first["items"]) == 2 and len(rest["items"]) == 3 and rest["next_cursor"] is None
    assert first["items"][-1]["task_id"] < rest["items"][0]["task_id"]


def test_jsonl_export_streams_every_result(client, finished):
    response = client.get(f"/api/v1/projects/{finished.id}/results/export", headers=bearer(_owner(finished)))
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    assert response.is_streamed
    rows = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(rows) == 5 and {r["label"] for r in rows} == {"dog"}
    assert set(rows[0]) == {"task_id", "external_id", "label", "confidence", "method", "answer_count", "tie", "gold",
                            "posterior", "guideline_version", "data", "answers"}


def test_csv_export_reads_back(client, finished, monkeypatch):
    monkeypatch.setattr(services, "iter_results", _small_batches(services.iter_results))
    response = client.get(f"/api/v1/projects/{finished.id}/results/export?format=csv", headers=bearer(_owner(finished)))
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["external_id"] for r in rows] == [f"t{i}" for i in range(5)]
    assert json.loads(rows[0]["answers"])[0]["label"] == "dog"
    assert {(r["tie"], r["gold"]) for r in rows} == {("false", "false")}  # JSON's spelling, not Python's True/False


def test_pandas_reads_the_csv_booleans_as_booleans_and_the_jsonl_alike(client, finished):
    owner = bearer(_owner(finished))
    body = client.get(f"/api/v1/projects/{finished.id}/results/export?format=csv", headers=owner).get_data(as_text=True)
    frame = pandas.read_csv(io.StringIO(body))
    assert frame["gold"].dtype == bool and frame["tie"].dtype == bool and not frame["gold"].any()
    assert list(frame["label"]) == ["dog"] * 5 and frame["confidence"].dtype == float
    lines = client.get(f"/api/v1/projects/{finished.id}/results/export", headers=owner).get_data(as_text=True)
    records = pandas.read_json(io.StringIO(lines), lines=True)
    assert list(records["task_id"]) == list(frame["task_id"]) and records["gold"].dtype == bool


def _small_batches(iter_results):
    def with_batch_of_two(**kwargs):
        return iter_results(batch=2, **kwargs)

    return with_batch_of_two


def test_results_of_someone_elses_project_are_404(client, finished):
    stranger = bearer(RequesterFactory())
    assert client.get(f"/api/v1/projects/{finished.id}/results", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/projects/{finished.id}/results/export", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/projects/{finished.id}/results", headers=bearer(AnnotatorFactory())).status_code == 403
