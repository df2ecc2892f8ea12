"""Export jobs: the streamed export written to a file in chunks, then downloaded whole or by byte range."""
from datetime import timedelta

import pytest

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.transfers import lifecycle
from marketplace.transfers.models import Transfer
from tests.factories import RequesterFactory, bearer, fresh
from tests.transfers.conftest import with_results
from workers.transfers import purge_transfers


def export(client, project, headers, format="jsonl"):
    created = client.post(f"/api/v1/projects/{project.id}/exports", headers=headers, json={"format": format})
    assert created.status_code == 202, created.json
    return client.get(f"/api/v1/exports/{created.json['id']}", headers=headers).json


def streamed(client, project, headers, format="jsonl") -> bytes:
    return client.get(f"/api/v1/projects/{project.id}/results/export?format={format}", headers=headers).data


@pytest.mark.embedded
@pytest.mark.parametrize("format", ["jsonl", "csv"])
def test_the_export_file_is_byte_for_byte_the_streamed_export(client, small_chunks, project, headers, format):
    with_results(project, 40)
    done = export(client, project, headers, format)
    assert done["status"] == "succeeded" and done["percent"] == 100.0
    assert (done["rows_done"], done["rows_total"]) == (40, 40)
    got = client.get(done["download_url"], headers=headers)
    assert got.status_code == 200 and got.data == streamed(client, project, headers, format)
    assert done["size_bytes"] == len(got.data) > 1000  # more than one chunk of 1000 bytes
    assert got.headers["Accept-Ranges"] == "bytes" and got.headers["ETag"] == done["etag"]
    assert got.headers["Content-Disposition"] == f'attachment; filename="{done["filename"]}"'


@pytest.mark.embedded
def test_a_range_download_returns_only_those_bytes(client, small_chunks, project, headers):
    with_results(project, 30)
    done = export(client, project, headers)
    whole = client.get(done["download_url"], headers=headers).data
    for asked, start, stop in (("bytes=0-0", 0, 1), ("bytes=990-2010", 990, 2011), ("bytes=1500-", 1500, len(whole)),
                               ("bytes=-100", len(whole) - 100, len(whole)), (f"bytes=10-{10 ** 9}", 10, len(whole))):
        part = client.get(done["download_url"], headers={**headers, "Range": asked})
        assert part.status_code == 206, asked
        assert part.data == whole[start:stop], asked
        assert part.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(whole)}"
        assert int(part.headers["Content-Length"]) == stop - start


def test_a_range_past_the_end_is_416_and_a_stale_if_range_gets_the_whole_file(client, small_chunks, project, headers):
    with_results(project, 5)
    done = export(client, project, headers)
    past = client.get(done["download_url"], headers={**headers, "Range": f"bytes={done['size_bytes']}-"})
    assert past.status_code == 416 and past.json["code"] == "range_not_satisfiable"
    assert past.headers["Content-Range"] == f"bytes */{done['size_bytes']}"
    stale = client.get(done["download_url"], headers={**headers, "Range": "bytes=5-", "If-Range": '"another"'})
    assert stale.status_code == 200 and len(stale.data) == done["size_bytes"]
    current = client.get(done["download_url"], headers={**headers, "Range": "bytes=5-", "If-Range": done["etag"]})
    assert current.status_code == 206 and len(current.data) == done["size_bytes"] - 5


def test_an_export_not_yet_run_cannot_be_downloaded(client, with_redis, project, headers):
    with_results(project, 2)
    created = client.post(f"/api/v1/projects/{project.id}/exports", headers=headers, json={})
    waiting = client.get(f"/api/v1/exports/{created.json['id']}", headers=headers).json
    assert waiting["status"] == "queued" and waiting["download_url"] is None and waiting["percent"] == 0.0
    early = client.get(f"/api/v1/exports/{created.json['id']}/download", headers=headers)
    assert early.status_code == 409 and early.json["code"] == "transfer_not_finished"


def test_a_format_the_label_type_does_not_offer_is_422(client, project, headers):
    refused = client.post(f"/api/v1/projects/{project.id}/exports", headers=headers, json={"format": "conll"})
    assert refused.status_code == 422 and refused.json["param"] == "format"


def test_exports_of_someone_elses_project_are_404(client, project, headers):
    with_results(project, 1)
    done = export(client, project, headers)
    stranger = bearer(RequesterFactory())
    assert client.get(f"/api/v1/exports/{done['id']}", headers=stranger).status_code == 404
    assert client.get(done["download_url"], headers=stranger).status_code == 404
    assert client.get(f"/api/v1/projects/{project.id}/exports", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/projects/{project.id}/exports", headers=stranger, json={}).status_code == 404


def test_an_expired_result_is_purged_and_then_gone(client, project, headers):
    with_results(project, 3)
    done = export(client, project, headers)
    transfer = fresh(Transfer, done["id"])
    transfer.expires_at = utcnow() - timedelta(seconds=1)
    db.session.flush()
    assert purge_transfers() == [done["id"]]
    gone = client.get(done["download_url"], headers=headers)
    assert gone.status_code == 410 and gone.json["code"] == "transfer_expired"
    assert client.get(f"/api/v1/exports/{done['id']}", headers=headers).json["download_url"] is None


def test_a_superseded_run_stops_at_its_next_checkpoint(ctx, project):
    transfer = Transfer(kind="export", project_id=project.id, account_id=project.requester_id, format="jsonl")
    db.session.add(transfer)
    db.session.flush()
    first = lifecycle.claim(transfer_id=transfer.id, now=utcnow())
    second = lifecycle.claim(transfer_id=transfer.id, now=utcnow())
    assert second == first + 1
    with pytest.raises(lifecycle.Superseded):
        lifecycle.checkpoint(transfer_id=transfer.id, attempt=first, now=utcnow())
    assert lifecycle.checkpoint(transfer_id=transfer.id, attempt=second, now=utcnow()).attempt == second


def test_the_sweep_requeues_a_run_without_heartbeat_and_a_long_queued_one(ctx, app, project, monkeypatch):
    sent = []
    monkeypatch.setattr("marketplace.queue._dispatch", lambda call: sent.append((call.path, call.args)))
    now = utcnow()
    rows = {}
    for name, status, beat in (("lost", "running", 400), ("alive", "running", 10), ("waiting", "queued", 700),
                               ("fresh", "queued", 10), ("done", "succeeded", 9999)):
        rows[name] = Transfer(kind="import", project_id=project.id, account_id=project.requester_id, format="jsonl",
                              status=status, heartbeat_at=now - timedelta(seconds=beat))
        db.session.add(rows[name])
    db.session.flush()
    from workers.transfers import sweep_transfers
    assert sorted(sweep_transfers()) == sorted([rows["lost"].id, rows["waiting"].id])
    assert sorted(args[0] for path, args in sent if path == "workers.transfers.run_import") == sorted(
        [rows["lost"].id, rows["waiting"].id])
    assert fresh(Transfer, rows["lost"].id).status == "queued"
    assert sweep_transfers() == []  # their heartbeat is fresh again


def test_progress_reports_rows_percent_and_eta_from_this_runs_rate(ctx):
    now = utcnow()
    transfer = Transfer(kind="export", status="running", rows_done=300, rows_total=1000, run_base=100, bytes_done=0,
                        run_started_at=now - timedelta(seconds=10))
    assert lifecycle.progress(transfer, now) == {"percent": 30.0, "eta_s": 35.0}  # 200 rows in 10 s, 700 to go
    upload = Transfer(kind="import", status="running", bytes_done=50, bytes_total=200, run_base=0,
                      run_started_at=now - timedelta(seconds=5))
    assert lifecycle.progress(upload, now) == {"percent": 25.0, "eta_s": 15.0}


def test_a_transfer_whose_runs_keep_dying_fails_instead_of_looping(ctx, app, project):
    from workers.transfers import run_export

    transfer = Transfer(kind="export", project_id=project.id, account_id=project.requester_id, format="jsonl",
                        status="running", attempt=app.config["TRANSFER_MAX_ATTEMPTS"])
    db.session.add(transfer)
    db.session.flush()
    assert run_export(transfer.id) == "failed"
    failed = fresh(Transfer, transfer.id)
    assert failed.status == "failed" and failed.error_code == "transfer_gave_up"
    assert run_export(transfer.id) == "finished already"
