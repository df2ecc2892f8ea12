"""The demo's team and experiment: an in-house team paid more, and an A/B test of two guideline versions.

The simulated annotators read the instructions they are leased under: version 2 spells out the
hard cases, so under it they get a little more right (CLEARER). The experiment should find that.
"""
CLEARER = 0.08  # how much more often a simulated annotator is right under the clearer guidelines
TEAM_SIZE = 4
TEAM_REWARD_CENTS = 4


def setup(api, requester: dict, project_id: int, members: list[dict]) -> dict:
    """Make the team (the members join by a link), target it, publish guideline v2 and start the experiment."""
    call = api.call
    team = call("post", "/teams", {201}, requester, json={"name": "in-house"}).json
    link = call("post", f"/teams/{team['id']}/invites", {201}, requester, json={}).json
    for headers in members:
        call("post", "/team-invites/accept", {201}, headers, json={"token": link["token"]})
    call("put", f"/projects/{project_id}/workforce", {200}, requester,
         json={"crowd": True, "teams": [{"team_id": team["id"], "reward_cents": TEAM_REWARD_CENTS}]})
    call("post", f"/projects/{project_id}/guidelines", {201}, requester, json={
        "instructions": "Which animal is in the picture? Label the animal in front; a fox counts as a dog.",
        "note": "hard cases spelled out"})
    experiment = call("post", f"/projects/{project_id}/experiments", {201}, requester, json={
        "name": "clearer guidelines", "arms": [{"name": "v1", "guideline_version": 1},
                                               {"name": "v2", "guideline_version": 2}]}).json
    return {"team_id": team["id"], "experiment_id": experiment["id"]}


def accuracy_under(accuracy: float | None, guideline_version: int) -> float | None:
    """A simulated annotator's accuracy under the instructions they were shown (spammers stay at random)."""
    if accuracy is None or guideline_version < 2:
        return accuracy
    return min(accuracy + CLEARER, 0.98)


def summary(api, requester: dict, project_id: int, ids: dict) -> list[str]:
    """The team's figures and the experiment's, as the demo prints them."""
    call = api.call
    team = call("get", f"/teams/{ids['team_id']}/stats", {200}, requester).json["projects"][0]
    experiment = call("get", f"/projects/{project_id}/experiments/{ids['experiment_id']}", {200}, requester).json
    lines = [f"  team 'in-house'      {TEAM_SIZE} members at {TEAM_REWARD_CENTS} cents: {team['answers']} answers, "
             f"gold accuracy {_share(team['gold_accuracy'])} of {team['gold_seen']}"]
    for arm in experiment["arms"]:
        interval = arm["gold_accuracy_interval"] or [0, 0]
        lines.append(f"  experiment arm {arm['name']:<5} {arm['annotators']} annotators, {arm['answers']} answers, "
                     f"gold {_share(arm['gold_accuracy'])} [{interval[0]:.2f}, {interval[1]:.2f}] of "
                     f"{arm['gold_seen']}, agreement {_share(arm['agreement'])}, "
                     f"{arm['cost_per_accepted_label_cents']} cents per accepted label")
    lines.append(f"  experiment verdict   {experiment['verdict']['status']}: {experiment['verdict']['message']}")
    return lines


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
