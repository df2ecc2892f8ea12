"""The README's tour of the API, run through `labelctl.Client` against the app.

A requester registers, logs in, makes an API key, creates a project, imports tasks from a file (with
a progress callback), funds and publishes it; two annotators lease and answer until no task is
left; the requester watches it complete, pages through the results and downloads exports.
"""
import csv
import io
import json

import pytest
from labelctl import Client

from tests.client.conftest import (
    BASE_URL,
    NO_WAIT,
    PASSWORD,
    PETS,
    answer_everything,
    sign_up,
    write_tasks,
)

pytestmark = pytest.mark.embedded  # also on the embedded SQLite lane

def test_the_readme_tour_runs_through_the_client(transport, anonymous, tmp_path):
    # Sign in as the README shows: register, a token, then a long-lived API key shown once.
    account = anonymous.accounts.register("ml@team.example", PASSWORD)
    assert account["role"] == "requester"
    token = anonymous.login("ml@team.example", PASSWORD)
    assert token["token"] and token["expires_at"]
    key = anonymous.api_keys.create("pipeline")
    assert key["prefix"] in key["key"]  # the full key, shown once
    requester = Client(BASE_URL, api_key=key["key"], transport=transport, retries=NO_WAIT)
    assert requester.accounts.me()["email"] == "ml@team.example"

    project = requester.projects.create(PETS)
    assert project["status"] == "draft" and project["task_count"] == 0
    truth = write_tasks(tmp_path / "tasks.jsonl", 25)
    seen = []
    imported = requester.tasks.import_file(project["id"], tmp_path / "tasks.jsonl", batch_size=10,
                                           on_progress=lambda p: seen.append((p.batches, p.rows_sent, p.bytes_read)))
    assert (imported.created, imported.duplicate_count, imported.task_count, imported.batches) == (25, 0, 25, 3)
    assert [s[:2] for s in seen] == [(1, 10), (2, 20), (3, 25)]
    assert [s[2] for s in seen] == sorted(s[2] for s in seen) and seen[-1][2] <= imported.bytes_total

    cost = requester.projects.get(project["id"])["escrow"]["answer_cost_cents"]
    funding, escrow = requester.projects.fund(project["id"], 25 * 2 * cost)
    assert funding["status"] == "succeeded" and funding["simulated"] is True
    assert escrow is None  # a draft: publishing moves the worst case into escrow
    published = requester.projects.publish(project["id"])
    assert published["status"] == "open" and published["escrow"]["escrow_cents"] == 25 * 2 * cost

    crowd = [sign_up(transport, f"annotator{i}@crowd.example", role="annotator") for i in range(2)]
    assert answer_everything(crowd, project["id"]) == 50

    snapshots = list(requester.projects.watch(project["id"], interval_s=0, sleep=lambda s: None))
    final = snapshots[-1]
    assert final.status == "completed" and final.fraction == 1.0 and final.settled
    assert final.as_dict()["closed_tasks"] == 25 and final.stats["annotators"] == 2

    results = list(requester.results.list(project["id"], page_size=10))  # three pages
    assert len(results) == 25 and {r["external_id"]: r["label"] for r in results} == truth
    assert all(r["answer_count"] == 2 and len(r["answers"]) == 2 for r in results)

    written = requester.results.export(project["id"], tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert written == (tmp_path / "out.jsonl").stat().st_size
    assert {r["external_id"]: r["label"] for r in rows} == truth
    buffer = io.BytesIO()
    requester.results.export(project["id"], buffer, format="csv")
    table = list(csv.DictReader(io.StringIO(buffer.getvalue().decode())))
    assert len(table) == 25 and {r["external_id"]: r["label"] for r in table} == truth


def test_lists_follow_the_cursor_across_pages(requester):
    made = [requester.projects.create(PETS, name=f"Pets {i}")["id"] for i in range(5)]
    listed = [p["id"] for p in requester.projects.list(page_size=2)]
    assert sorted(listed) == sorted(made) and len(listed) == len(set(listed))
    assert [p["id"] for p in requester.projects.list(status="open")] == []
