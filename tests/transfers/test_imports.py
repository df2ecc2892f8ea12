"""Import jobs: an uploaded or fetched file imported in chunks with the sync upload's rules and messages."""
import io
import json

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.tasks.models import Task
from marketplace.webhooks import services as webhooks
from marketplace.webhooks.models import WebhookDelivery
from tests.factories import RequesterFactory, TaskFactory, bearer


def upload(client, project, headers, content: bytes, filename="tasks.jsonl", query=""):
    return client.post(f"/api/v1/projects/{project.id}/imports/upload{query}", headers=headers,
                       data={"file": (io.BytesIO(content), filename)}, content_type="multipart/form-data")


def jsonl(ids) -> bytes:
    return "".join(json.dumps({"external_id": i, "data": {"text": f"row {i} ü"}}) + "\n" for i in ids).encode()


def external_ids(project_id) -> list[str]:
    return list(db.session.scalars(select(Task.external_id).where(Task.project_id == project_id).order_by(Task.external_id)))


@pytest.mark.embedded
def test_uploaded_jsonl_is_imported_across_many_chunks_with_duplicates_counted(client, small_chunks, project, headers):
    TaskFactory(project_id=project.id, external_id="a0005")
    ids = [f"a{i:04d}" for i in range(60)]
    created = upload(client, project, headers, jsonl(ids))
    assert created.status_code == 202, created.json
    got = client.get(f"/api/v1/imports/{created.json['id']}", headers=headers).json
    assert got["status"] == "succeeded" and got["percent"] == 100.0 and got["error"] is None
    assert (got["rows_done"], got["rows_total"], got["created"], got["duplicate_count"]) == (60, 60, 59, 1)
    assert got["duplicates"] == ["a0005"] and got["bytes_done"] == got["bytes_total"] == len(jsonl(ids))
    assert external_ids(project.id) == ids


def test_csv_import_keeps_the_header_for_every_chunk_and_counts_rows_not_lines(client, small_chunks, project, headers):
    rows = "".join(f'c{i:03d},"line one\nline two {i}",fr\n' for i in range(20))
    created = upload(client, project, headers, f"external_id,text,lang\n{rows}".encode(), "tasks.csv")
    got = client.get(f"/api/v1/imports/{created.json['id']}", headers=headers).json
    assert got["status"] == "succeeded" and got["created"] == 20 and got["rows_total"] == 20
    task = db.session.scalar(select(Task).where(Task.project_id == project.id, Task.external_id == "c019"))
    assert task.data == {"text": "line one\nline two 19", "lang": "fr"}


@pytest.mark.embedded
def test_a_bad_row_fails_the_import_naming_its_line_and_field_and_keeps_the_chunks_before(client, small_chunks,
                                                                                            project, headers):
    good = jsonl([f"b{i:02d}" for i in range(15)])
    bad = good + b'{"external_id": "b15", "data": "not an object"}\n' + jsonl(["b16"])
    created = upload(client, project, headers, bad)
    got = client.get(f"/api/v1/imports/{created.json['id']}", headers=headers).json
    assert got["status"] == "failed"
    assert got["error"] == {"code": "invalid_field", "message": "line 16: data: must be a JSON object",
                            "errors": {"file": {"16": {"data": ["must be a JSON object"]}}}}
    assert got["rows_done"] == 14 and got["created"] == 14  # two chunks of 7 committed; the third had the bad row
    assert len(external_ids(project.id)) == 14


def test_unreadable_json_names_the_line_as_the_sync_upload_does(client, small_chunks, project, headers):
    created = upload(client, project, headers, jsonl(["x1"]) + b"\n{oops\n")
    got = client.get(f"/api/v1/imports/{created.json['id']}", headers=headers).json
    sync = client.post(f"/api/v1/projects/{project.id}/tasks/upload", headers=headers,
                       data={"file": (io.BytesIO(b'{"external_id": "q", "data": {}}\n\n{oops\n'), "t.jsonl")},
                       content_type="multipart/form-data")
    assert got["status"] == "failed" and got["error"]["message"] == sync.json["message"]
    assert got["error"]["message"].startswith("line 3: _line: not valid JSON")


def test_import_completion_is_sent_to_webhooks_once(client, small_chunks, dns, project, headers, requester):
    dns["hooks.example.com"] = ["93.184.216.34"]
    webhooks.register(account=requester, fields={"url": "https://hooks.example.com/x", "events": ["import.completed"],
                                                 "project_id": project.id})
    created = upload(client, project, headers, jsonl(["w1", "w2"]))
    deliveries = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.event == "import.completed")).all()
    assert len(deliveries) == 1
    assert deliveries[0].payload == {"import_id": created.json["id"], "project_id": project.id, "status": "succeeded",
                                     "rows": 2, "format": "jsonl", "created": 2, "duplicate_count": 0}


def test_an_empty_or_unnamed_file_is_refused_at_once(client, project, headers):
    empty = upload(client, project, headers, b"")
    assert empty.status_code == 422 and empty.json["param"] == "file"
    unnamed = upload(client, project, headers, b"x\n", "tasks.bin")
    assert unnamed.status_code == 422 and unnamed.json["param"] == "format"


def test_url_import_fetches_the_file_through_the_ssrf_guard(client, local_targets, file_server, project, headers):
    file_server.files["/drop/tasks.jsonl?sig=s3cret"] = jsonl(["u1", "u2", "u3"])
    created = client.post(f"/api/v1/projects/{project.id}/imports", headers=headers,
                          json={"url": file_server.url("/drop/tasks.jsonl?sig=s3cret")})
    assert created.status_code == 202, created.json
    got = client.get(f"/api/v1/imports/{created.json['id']}", headers=headers).json
    assert got["status"] == "succeeded" and got["source"] == "url" and got["created"] == 3
    assert got["filename"] == "tasks.jsonl" and "s3cret" not in json.dumps(got)  # a signed URL's secret stays put
    missing = client.post(f"/api/v1/projects/{project.id}/imports", headers=headers,
                          json={"url": file_server.url("/drop/gone.jsonl")})
    failed = client.get(f"/api/v1/imports/{missing.json['id']}", headers=headers).json
    assert failed["status"] == "failed" and failed["error"]["code"] == "source_unavailable"


def test_url_import_refuses_private_addresses_like_webhooks_do(client, project, headers):
    refused = client.post(f"/api/v1/projects/{project.id}/imports", headers=headers,
                          json={"url": "https://127.0.0.1/tasks.jsonl"})
    assert refused.status_code == 422 and refused.json["param"] == "url"
    assert "public addresses only" in refused.json["message"]


def test_imports_of_someone_elses_project_are_404(client, small_chunks, project, headers):
    created = upload(client, project, headers, jsonl(["o1"]))
    stranger = bearer(RequesterFactory())
    assert client.get(f"/api/v1/imports/{created.json['id']}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/projects/{project.id}/imports", headers=stranger).status_code == 404
    assert upload(client, project, stranger, jsonl(["o2"])).status_code == 404
    assert client.get(f"/api/v1/exports/{created.json['id']}", headers=headers).status_code == 404  # an import's id


def test_import_list_pages_newest_first(client, small_chunks, project, headers):
    ids = [upload(client, project, headers, jsonl([f"p{i}"])).json["id"] for i in range(3)]
    first = client.get(f"/api/v1/projects/{project.id}/imports?limit=2", headers=headers).json
    assert [item["id"] for item in first["items"]] == ids[::-1][:2] and first["has_more"]
    rest = client.get(f"/api/v1/projects/{project.id}/imports?limit=2&cursor={first['next_cursor']}", headers=headers).json
    assert [item["id"] for item in rest["items"]] == [ids[0]] and not rest["has_more"]


def test_chunks_big_enough_for_copy_keep_every_character_and_the_file_order(client, app, project, headers):
    from marketplace.tasks import store

    rows = [{"external_id": f"t\\{i}\tx\u00e9", "data": {"text": f"a\\b\tc\nd \u2603 {i}", "n": i}} for i in range(store.COPY_MIN_ROWS + 20)]
    rows[3]["data"] = {"quote": "\"q\" \\\\ \u0001", "deep": [[1, 2], {"k": None}]}
    content = "".join(json.dumps(row) + "\n" for row in rows).encode()
    created = upload(client, project, headers, content)
    got = client.get(f"/api/v1/imports/{created.json['id']}", headers=headers).json
    assert got["status"] == "succeeded" and got["created"] == len(rows)
    stored = db.session.execute(select(Task.external_id, Task.data).where(Task.project_id == project.id).order_by(Task.id)).all()
    assert [(external_id, data) for external_id, data in stored] == [(row["external_id"], row["data"]) for row in rows]


def test_an_upload_sent_again_with_its_idempotency_key_is_replayed_not_imported_twice(client, project, headers):
    keyed = {**headers, "Idempotency-Key": "upload-1"}
    first = upload(client, project, keyed, jsonl(["i1", "i2"]))
    again = upload(client, project, keyed, jsonl(["i1", "i2"]))
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    other = upload(client, project, keyed, jsonl(["i3"]))
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"
    listed = client.get(f"/api/v1/projects/{project.id}/imports", headers=headers).json["items"]
    assert [item["id"] for item in listed] == [first.json["id"]]


def test_an_import_upload_has_its_own_size_limit_above_the_request_limit(client, app, project, headers):
    saved = app.config["MAX_CONTENT_LENGTH"], app.config["TRANSFER_MAX_UPLOAD_BYTES"]
    content = jsonl([f"s{i:03d}" for i in range(100)])  # ~5 KB
    try:
        app.config["MAX_CONTENT_LENGTH"] = 2000
        assert upload(client, project, headers, content).status_code == 202
        sync = client.post(f"/api/v1/projects/{project.id}/tasks/upload", headers=headers,
                           data={"file": (io.BytesIO(content), "t.jsonl")}, content_type="multipart/form-data")
        assert sync.status_code == 413
        app.config["TRANSFER_MAX_UPLOAD_BYTES"] = 2000
        refused = upload(client, project, headers, content)
        assert refused.status_code == 413 and refused.json["code"] == "payload_too_large"
    finally:
        app.config["MAX_CONTENT_LENGTH"], app.config["TRANSFER_MAX_UPLOAD_BYTES"] = saved
