"""`labelctl` through its `main(argv)`, with the app as transport: the tour from the command line."""
import io
import json

import pytest
from labelctl.cli import main

from tests.client.conftest import (
    BASE_URL,
    PASSWORD,
    PETS,
    answer_everything,
    sign_up,
    write_tasks,
)

pytestmark = pytest.mark.embedded


class Cli:
    """Runs `labelctl` commands in-process; keeps what each printed."""

    def __init__(self, transport, tmp_path):
        self.transport = transport
        self.environ = {"LABELCTL_URL": BASE_URL, "LABELCTL_CONFIG": str(tmp_path / "labelctl.json"),
                        "LABELCTL_PASSWORD": PASSWORD}
        self.stdout = self.stderr = ""

    def __call__(self, *argv: str, expect: int = 0, stdin: str = "") -> str:
        out, err = io.StringIO(), io.StringIO()
        code = main([str(a) for a in argv], transport=self.transport, environ=self.environ, stdin=io.StringIO(stdin),
                    stdout=out, stderr=err)
        self.stdout, self.stderr = out.getvalue(), err.getvalue()
        assert code == expect, (argv, code, self.stdout, self.stderr)
        return self.stdout

    def json(self, *argv: str) -> dict:
        return json.loads(self(*argv))

    def lines(self, *argv: str) -> list[dict]:
        return [json.loads(line) for line in self(*argv).splitlines()]


@pytest.fixture
def cli(transport, tmp_path):
    return Cli(transport, tmp_path)


def test_a_requester_runs_the_tour_from_the_command_line(cli, transport, tmp_path):
    saved = cli.json("register", "--email", "ml@team.example")
    assert saved["saved_to"] == cli.environ["LABELCTL_CONFIG"] and "key" not in saved
    config = json.loads((tmp_path / "labelctl.json").read_text())
    assert config["url"] == BASE_URL and config["api_key"].startswith("mk_")
    assert cli.json("whoami")["email"] == "ml@team.example"  # the saved key is used

    (tmp_path / "project.json").write_text(json.dumps(PETS))
    project = cli.json("projects", "create", "--file", tmp_path / "project.json")
    assert project["status"] == "draft"
    pid = project["id"]

    truth = write_tasks(tmp_path / "tasks.jsonl", 12)
    imported = cli.json("projects", "import", pid, tmp_path / "tasks.jsonl", "--batch-size", 5)
    assert imported["created"] == 12 and imported["batches"] == 3 and imported["task_count"] == 12
    bar = cli.stderr.splitlines()
    assert bar[0].startswith("import tasks.jsonl [") and "100.0%" in bar[-1] and "12 rows" in bar[-1]

    cost = project["escrow"]["answer_cost_cents"]
    funded = cli.json("projects", "fund", pid, "--cents", 12 * 2 * cost)
    assert funded["funding"]["status"] == "succeeded" and funded["escrow"] is None
    assert "publishing moves" in cli.stderr
    assert cli.json("projects", "publish", pid)["status"] == "open"
    assert cli.json("projects", "status", pid)["percent_done"] == 0

    crowd = [sign_up(transport, f"annotator{i}@crowd.example", role="annotator") for i in range(2)]
    answer_everything(crowd, pid)

    status = cli.json("projects", "status", pid, "--watch", "--interval", 0)
    assert status["status"] == "completed" and status["closed_tasks"] == 12 and status["percent_done"] == 100
    assert "12/12 tasks  completed" in cli.stderr
    results = cli.lines("projects", "results", pid, "--page-size", 5)
    assert {r["external_id"]: r["label"] for r in results} == truth
    exported = cli.json("projects", "export", pid, "--format", "jsonl", "-o", tmp_path / "out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert exported["bytes"] == (tmp_path / "out.jsonl").stat().st_size and len(rows) == 12
    assert [p["id"] for p in cli.lines("projects", "list")] == [pid]
    table = cli("--table", "projects", "list").splitlines()
    assert table[0].split() == ["id", "name", "status", "task_count", "closed_task_count", "reward_cents", "currency"]
    assert table[1].split()[:3] == [str(pid), "Pets", "completed"]


def test_webhooks_from_the_command_line(cli, receiver, local_targets, requester):
    cli.environ["LABELCTL_API_KEY"] = requester.api_keys.create("cli")["key"]
    created = cli.json("webhooks", "create", "--url", receiver.url(), "--event", "task.completed",
                       "--event", "project.completed")
    assert created["secret"] and sorted(created["events"]) == ["project.completed", "task.completed"]
    assert [e["id"] for e in cli.lines("webhooks", "list")] == [created["id"]]
    assert cli.json("webhooks", "test", created["id"])["event"] == "ping" and len(receiver.requests) == 1
    assert cli.json("webhooks", "rotate-secret", created["id"])["secret"] != created["secret"]
    assert cli.json("webhooks", "delete", created["id"]) == {"id": created["id"], "deleted": True}
    assert cli.lines("webhooks", "list") == []


def test_api_errors_exit_1_with_code_and_message_and_usage_errors_exit_2(cli, requester, tmp_path):
    cli("projects", "list", expect=2)  # no API key anywhere
    assert "no API key" in cli.stderr
    cli.environ["LABELCTL_API_KEY"] = requester.api_keys.create("cli")["key"]
    cli("projects", "get", 999999, expect=1)
    assert cli.stdout == "" and cli.stderr.startswith("error: not_found (404): ")
    (tmp_path / "bad.json").write_text(json.dumps({**PETS, "reward_cents": 0}))
    cli("projects", "create", "--file", tmp_path / "bad.json", expect=1)
    assert "(422)" in cli.stderr and "field: reward_cents" in cli.stderr
    cli("projects", "fund", 1, expect=2)  # --cents is required
    assert "--cents" in cli.stderr
    cli("projects", "import", 1, tmp_path / "missing.jsonl", expect=2)
    cli("projects", "frobnicate", expect=2)
    cli("--help", expect=0)
    assert "projects" in cli.stdout


def test_a_bad_task_file_names_its_line_and_what_went_in(cli, requester, tmp_path):
    cli.environ["LABELCTL_API_KEY"] = requester.api_keys.create("cli")["key"]
    pid = requester.projects.create(PETS)["id"]
    rows = [json.dumps({"external_id": f"t{i}", "data": {}}) for i in range(6)]
    (tmp_path / "broken.jsonl").write_text("\n".join(rows[:4] + ["{not json"] + rows[4:]) + "\n")
    cli("projects", "import", pid, tmp_path / "broken.jsonl", "--batch-size", 2, expect=1)
    # streamed: the batch before the bad line went in, the one holding it was never sent
    assert "error: broken.jsonl line 5: not valid JSON" in cli.stderr and "2 rows went in (2 new)" in cli.stderr
    (tmp_path / "refused.jsonl").write_text("\n".join(rows[:3] + ['{"external_id": "x", "data": []}']) + "\n")
    cli("projects", "import", pid, tmp_path / "refused.jsonl", "--batch-size", 2, "--no-progress", expect=1)
    assert "(422): refused.jsonl line 4: data: " in cli.stderr and "2 rows went in (0 new)" in cli.stderr
    assert [t["external_id"] for t in requester.tasks.list(pid)] == ["t0", "t1"]


def test_a_project_file_may_come_from_stdin(cli, requester):
    cli.environ["LABELCTL_API_KEY"] = requester.api_keys.create("cli")["key"]
    made = json.loads(cli("projects", "create", "--file", "-", stdin=json.dumps(PETS)))
    assert made["name"] == "Pets" and made["status"] == "draft"
