"""Task import (JSON, JSONL, CSV): duplicates, row-level errors that change nothing, limits, reads."""
import io
import json

import pytest
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, ProjectFactory, RequesterFactory, TaskFactory, bearer
from tests.projects.test_routes import _owner


def tasks_in(project_id):
    return db.session.scalar(select(func.count()).select_from(Task).where(Task.project_id == project_id))


def batch(*ids, data=None):
    return {"tasks": [{"external_id": i, "data": data or {"text": f"item {i}"}} for i in ids]}


@pytest.fixture
def project():
    return ProjectFactory()


@pytest.fixture
def headers(project):
    return bearer(_owner(project))


def test_json_import_creates_tasks_and_counts_them(client, project, headers):
    response = client.post(f"/api/v1/projects/{project.id}/tasks", json=batch("a", "b", "c"), headers=headers)
    assert response.status_code == 201
    assert response.json == {"created": 3, "duplicates": [], "duplicate_count": 0, "task_count": 3}
    assert tasks_in(project.id) == 3


def test_reimporting_reports_duplicates_and_creates_nothing_twice(client, project, headers):
    client.post(f"/api/v1/projects/{project.id}/tasks", json=batch("a", "b"), headers=headers)
    again = client.post(f"/api/v1/projects/{project.id}/tasks", json=batch("b", "a", "c"), headers=headers)
    assert again.json == {"created": 1, "duplicates": ["a", "b"], "duplicate_count": 2, "task_count": 3}
    assert tasks_in(project.id) == 3


def test_the_same_external_id_in_another_project_is_not_a_duplicate(client, project, headers):
    other = ProjectFactory(requester_id=project.requester_id)
    client.post(f"/api/v1/projects/{project.id}/tasks", json=batch("a"), headers=headers)
    assert client.post(f"/api/v1/projects/{other.id}/tasks", json=batch("a"), headers=headers).json["created"] == 1


@pytest.mark.parametrize("row, field", [
    ({"external_id": "", "data": {}}, "external_id"),
    ({"external_id": 7, "data": {}}, "external_id"),
    ({"external_id": "x" * 256, "data": {}}, "external_id"),
    ({"external_id": "z", "data": [1, 2]}, "data"),
    ({"external_id": "z"}, "data"),
    ({"external_id": "z", "data": {}, "gold": "cat"}, "gold"),
    ({"external_id": "a", "data": {}}, "external_id"),  # repeats row 0 of the batch
    ("just a string", "_schema"),
])
def test_a_bad_row_rejects_the_whole_batch_naming_row_and_field(client, project, headers, row, field):
    body = {"tasks": [{"external_id": "a", "data": {}}, {"external_id": "b", "data": {}}, row]}
    response = client.post(f"/api/v1/projects/{project.id}/tasks", json=body, headers=headers)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]["tasks"]["2"]
    assert response.json["message"].startswith("row 2")
    assert tasks_in(project.id) == 0


def test_batch_size_limits(client, project, headers, ctx):
    assert client.post(f"/api/v1/projects/{project.id}/tasks", json={"tasks": []}, headers=headers).status_code == 422
    ctx.config["MAX_TASKS_PER_IMPORT"] = 3
    try:
        too_many = client.post(f"/api/v1/projects/{project.id}/tasks", json=batch("a", "b", "c", "d"), headers=headers)
    finally:
        ctx.config["MAX_TASKS_PER_IMPORT"] = 10_000
    assert too_many.status_code == 422 and "At most 3" in too_many.json["message"]


def test_ten_thousand_tasks_in_one_request(client, project, headers):
    ids = [f"id-{i}" for i in range(10_000)]
    response = client.post(f"/api/v1/projects/{project.id}/tasks", json=batch(*ids), headers=headers)
    assert response.status_code == 201 and response.json["created"] == 10_000
    assert tasks_in(project.id) == 10_000


def upload(client, project, headers, content: bytes, filename: str, query=""):
    return client.post(
        f"/api/v1/projects/{project.id}/tasks/upload{query}",
        data={"file": (io.BytesIO(content), filename)}, headers=headers, content_type="multipart/form-data",
    )


def test_jsonl_upload(client, project, headers):
    lines = "\n".join(json.dumps({"external_id": f"j{i}", "data": {"n": i}}) for i in range(3)) + "\n\n"
    response = upload(client, project, headers, lines.encode(), "tasks.jsonl")
    assert response.status_code == 201 and response.json["created"] == 3
    task = db.session.scalar(select(Task).where(Task.project_id == project.id, Task.external_id == "j2"))
    assert task.data == {"n": 2}


def test_csv_upload_with_a_json_data_column(client, project, headers):
    content = b'external_id,data\nc1,"{""url"": ""https://x/1.jpg""}"\nc2,"{""url"": ""https://x/2.jpg""}"\n'
    response = upload(client, project, headers, content, "tasks.csv")
    assert response.status_code == 201 and response.json["created"] == 2
    assert db.session.scalar(select(Task.data).where(Task.external_id == "c1")) == {"url": "https://x/1.jpg"}


def test_csv_upload_with_plain_columns_builds_data(client, project, headers):
    response = upload(client, project, headers, "external_id,text,lang\nc1,héllo,fr\n".encode(), "t.txt", "?format=csv")
    assert response.status_code == 201
    assert db.session.scalar(select(Task.data).where(Task.external_id == "c1")) == {"text": "héllo", "lang": "fr"}


@pytest.mark.parametrize("content, filename, line, field", [
    (b'{"external_id": "a", "data": {}}\nnot json\n', "t.jsonl", "2", "_line"),
    (b'{"external_id": "a", "data": {}}\n\n{"external_id": "b", "data": 3}\n', "t.jsonl", "3", "data"),
    (b"external_id,data\na,{}\nb,[1]\n", "t.csv", "3", "data"),
    (b"id,text\na,b\n", "t.csv", "1", "external_id"),
    (b"external_id,data\na,{}\na,{}\n", "t.csv", "3", "external_id"),
])
def test_bad_file_line_rejects_the_upload_naming_the_line(client, project, headers, content, filename, line, field):
    response = upload(client, project, headers, content, filename)
    assert response.status_code == 422
    assert field in response.json["errors"]["file"][line]
    assert tasks_in(project.id) == 0


def test_upload_without_a_known_format_is_422(client, project, headers):
    response = upload(client, project, headers, b"external_id\na\n", "tasks.bin")
    assert response.status_code == 422 and "format" in response.json["errors"]["query"]


def test_tasks_cannot_be_added_to_a_closed_project(client, headers, project):
    project.status = "closed"
    assert client.post(f"/api/v1/projects/{project.id}/tasks", json=batch("a"), headers=headers).status_code == 409


def test_list_filters_by_status_and_pages(client, project, headers):
    for i in range(3):
        TaskFactory(project_id=project.id, status="open")
    closed = TaskFactory(project_id=project.id, status="closed")
    listed = client.get(f"/api/v1/projects/{project.id}/tasks?status=closed", headers=headers).json
    assert [t["id"] for t in listed["items"]] == [closed.id]
    page = client.get(f"/api/v1/projects/{project.id}/tasks?limit=2", headers=headers).json
    assert len(page["items"]) == 2 and page["next_cursor"] == page["items"][1]["id"]
    assert client.get(f"/api/v1/projects/{project.id}/tasks?status=bogus", headers=headers).status_code == 422


def test_tasks_of_someone_elses_project_are_404(client, project):
    task = TaskFactory(project_id=project.id)
    stranger = bearer(RequesterFactory())
    assert client.get(f"/api/v1/projects/{project.id}/tasks", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/tasks/{task.id}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/projects/{project.id}/tasks", json=batch("x"), headers=stranger).status_code == 404
    assert client.get(f"/api/v1/tasks/{task.id}", headers=bearer(AnnotatorFactory())).status_code == 403
    assert tasks_in(project.id) == 1


def test_copy_sized_batches_with_gold_and_with_ids_already_there(client, project, headers):
    """A fresh COPY-sized batch goes straight in (gold marked, with its result); one that meets existing ids
    is taken back whole and inserted row by row: the new rows in file order, the others reported."""
    from marketplace.results.models import Result
    from marketplace.tasks import store

    n = store.COPY_MIN_ROWS + 10
    rows = [{"external_id": f"a{i}", "data": {"n": i}} for i in range(n)]
    rows[7] = {"external_id": "g7", "data": {}, "gold_answer": {"label": "dog"}, "gold_explanation": "Bark."}
    first = client.post(f"/api/v1/projects/{project.id}/tasks", json={"tasks": rows}, headers=headers)
    assert first.status_code == 201 and first.json["created"] == n and first.json["duplicates"] == []
    gold = db.session.scalars(select(Task).where(Task.project_id == project.id, Task.status == "gold")).all()
    assert [(t.external_id, t.gold_answer, t.gold_explanation) for t in gold] == [("g7", {"label": "dog"}, "Bark.")]
    assert db.session.scalar(select(Result.label).where(Result.task_id == gold[0].id)) == "dog"

    again = [{"external_id": f"b{i}", "data": {"n": i}} for i in range(n)]
    again[5], again[400] = rows[0], {"external_id": "g-new", "data": {}, "gold_answer": {"label": "cat"}}
    response = client.post(f"/api/v1/projects/{project.id}/tasks", json={"tasks": again}, headers=headers)
    assert response.json["created"] == n - 1 and response.json["duplicates"] == ["a0"]
    assert tasks_in(project.id) == 2 * n - 1
    added = db.session.execute(select(Task.external_id, Task.status).where(Task.project_id == project.id)
                               .order_by(Task.id).offset(n)).all()
    assert [external_id for external_id, _ in added] == [r["external_id"] for r in again if r is not rows[0]]
    assert dict(added)["g-new"] == "gold" and client.get(f"/api/v1/projects/{project.id}",
                                                         headers=headers).json["gold_count"] == 2
