"""Import and export jobs and the quality report through `labelctl.Client` and the CLI."""
import json

import pytest
from labelctl import JobFailed

from tests.client.conftest import PETS, answer_everything, sign_up, write_tasks
from tests.client.test_cli import Cli

pytestmark = pytest.mark.embedded


@pytest.fixture
def answered(requester, transport, tmp_path):
    """A completed Pets project: 9 tasks imported by a job, answered by two annotators."""
    project = requester.projects.create(**PETS)
    write_tasks(tmp_path / "tasks.jsonl", 9)
    job = requester.imports.upload(project["id"], tmp_path / "tasks.jsonl")
    done = requester.imports.wait(job["id"], interval=0)
    assert (done["status"], done["created"], done["percent"]) == ("succeeded", 9, 100.0)
    requester.projects.fund(project["id"], 9 * 2 * project["escrow"]["answer_cost_cents"])
    requester.projects.publish(project["id"])
    answer_everything([sign_up(transport, f"a{i}@crowd.example", role="annotator") for i in range(2)], project["id"])
    return project


def test_an_uploaded_import_is_a_job_whose_progress_the_client_follows(requester, tmp_path):
    project = requester.projects.create(**PETS)
    write_tasks(tmp_path / "tasks.jsonl", 25)
    job = requester.imports.upload(project["id"], tmp_path / "tasks.jsonl")
    seen = []
    done = requester.imports.wait(job["id"], interval=0, on_progress=seen.append)
    assert done["created"] == 25 and done["rows_done"] == 25 and seen[-1]["status"] == "succeeded"
    assert [j["id"] for j in requester.imports.list(project["id"])] == [job["id"]]
    assert requester.projects.get(project["id"])["task_count"] == 25


def test_a_failed_import_raises_job_failed_naming_the_line(requester, tmp_path):
    project = requester.projects.create(**PETS)
    (tmp_path / "bad.jsonl").write_text('{"external_id": "a", "data": {}}\n{"external_id": "b"}\n')
    job = requester.imports.upload(project["id"], tmp_path / "bad.jsonl")
    with pytest.raises(JobFailed) as failed:
        requester.imports.wait(job["id"], interval=0)
    assert failed.value.job["status"] == "failed" and "2" in failed.value.message


def test_an_export_job_downloads_to_the_streamed_file(requester, answered, tmp_path):
    requester.results.export(answered["id"], tmp_path / "streamed.csv", format="csv")
    job = requester.exports.wait(requester.exports.create(answered["id"], format="csv")["id"], interval=0)
    path = requester.exports.download(job["id"], tmp_path / "job.csv")
    assert path.read_bytes() == (tmp_path / "streamed.csv").read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_a_broken_download_resumes_with_a_range_for_the_missing_bytes(requester, answered, transport, tmp_path):
    job = requester.exports.wait(requester.exports.create(answered["id"])["id"], interval=0)
    whole = requester.exports.download(job["id"], tmp_path / "whole.jsonl").read_bytes()
    target = tmp_path / "resumed.jsonl"
    etag = "".join(c for c in job["etag"] if c.isalnum())[:24]
    (tmp_path / f"resumed.jsonl.{job['id']}-{etag}.part").write_bytes(whole[:100])  # what a broken run left
    transport.requests.clear()
    requester.exports.download(job["id"], target)
    assert target.read_bytes() == whole
    (download,) = [r for r in transport.requests if r.url.path.endswith("/download")]
    assert download.headers["Range"] == "bytes=100-" and download.headers["If-Range"] == job["etag"]


def test_the_cli_runs_import_and_export_jobs_and_saves_the_report(requester, answered, transport, tmp_path):
    cli = Cli(transport, tmp_path)
    cli.environ["LABELCTL_API_KEY"] = requester.api_keys.create("cli")["key"]
    pid = answered["id"]
    write_tasks(tmp_path / "more.jsonl", 3)
    project = requester.projects.create(**PETS)
    imported = cli.json("imports", "create", project["id"], tmp_path / "more.jsonl", "--wait", "--interval", 0)
    assert imported["status"] == "succeeded" and imported["created"] == 3 and "100.0%" in cli.stderr

    exported = cli.json("exports", "create", pid, "--format", "csv", "--wait", "--interval", 0,
                        "-o", tmp_path / "out.csv")
    assert exported["status"] == "succeeded"
    assert (tmp_path / "out.csv").read_text().startswith("task_id,external_id,label")
    assert [row["id"] for row in cli.lines("exports", "list", pid)] == [exported["id"]]
    cli("exports", "create", pid, "--format", "csv", "--option", "lang=de", expect=1)
    assert "field: lang" in cli.stderr

    saved = cli.json("projects", "report", pid, "-o", tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert saved["bytes"] == len(page.encode()) and page.lstrip().lower().startswith("<!doctype html") and "<svg" in page
    figures = json.loads(cli("projects", "report", pid, "--json"))
    direct = requester.projects.report(pid, format="json")
    assert {k: v for k, v in figures.items() if k != "generated_at"} == \
        {k: v for k, v in direct.items() if k != "generated_at"}
    forecast = cli.json("projects", "forecast", pid)
    direct = requester.projects.forecast(pid)
    assert forecast["remaining_answers"] == direct["remaining_answers"] == {"expected": 0, "low": 0, "high": 0}
    assert forecast["completion"]["hours"] == {"expected": 0.0, "low": 0.0, "high": 0.0}  # everything is answered
    assert forecast["project_id"] == pid and forecast["cost"] == direct["cost"] and not forecast["budget"]["runs_out"]
    confusion = figures["confusion"]  # a truthful crowd: every answer on the diagonal
    assert confusion["answers"] == 18 and sum(confusion["counts"][k][k] for k in range(3)) == 18
