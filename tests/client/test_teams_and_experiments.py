"""The client's teams, workforce and experiment calls against the app."""
import pytest
from labelctl import NotFound

from tests.client.conftest import PETS, answer_everything, sign_up, write_tasks

pytestmark = pytest.mark.embedded  # also on the embedded SQLite lane


def test_a_team_project_and_an_experiment_through_the_client(transport, tmp_path):
    requester = sign_up(transport, "ops@team.example")
    vendor = sign_up(transport, "vendor@crew.example", role="vendor")
    member = sign_up(transport, "member@crew.example", role="annotator")
    stranger = sign_up(transport, "stranger@crowd.example", role="annotator")

    team = vendor.teams.create("crew")
    invite = vendor.teams.invite(team["id"], email="member@crew.example")
    assert member.teams.accept(invite["token"])["role"] == "member"
    assert [t["id"] for t in requester.teams.list(scope="vendors")] == [team["id"]]

    project = requester.projects.create(PETS)
    write_tasks(tmp_path / "tasks.jsonl", 4)
    requester.tasks.import_file(project["id"], tmp_path / "tasks.jsonl")
    shown = requester.teams.set_workforce(project["id"], {"crowd": False, "teams": [{"team_id": team["id"],
                                                                                      "reward_cents": 5}]})
    assert shown["teams"] == [{"team_id": team["id"], "reward_cents": 5}]
    experiment = requester.experiments.start(project["id"], "pay", [{"name": "a"}, {"name": "b", "reward_cents": 6}])
    assert [arm["name"] for arm in experiment["arms"]] == ["a", "b"]
    cost = requester.projects.get(project["id"])["escrow"]["answer_cost_cents"]
    requester.projects.fund(project["id"], 4 * 2 * cost * 2)
    requester.projects.publish(project["id"])

    with pytest.raises(NotFound):
        stranger.assignments.lease(project["id"])
    assert answer_everything([member], project["id"]) == 4
    stats = vendor.teams.stats(team["id"])
    assert stats["projects"][0]["answers"] == 4
    report = requester.experiments.get(project["id"], experiment["id"])
    assert sum(arm["answers"] for arm in report["arms"]) == 4
    assert requester.experiments.stop(project["id"], experiment["id"])["status"] == "stopped"
    assert [e["id"] for e in requester.experiments.list(project["id"])] == [experiment["id"]]
