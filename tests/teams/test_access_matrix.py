"""Who may do what with a team and a team-only project: every role against every endpoint.

Someone else's team or a project outside your workforce is a 404 (it might not exist), never a
403 that admits it does; a 403 is the wrong role for the endpoint, whatever the object.
"""
import pytest

from marketplace.accounts.models import VENDOR, Account
from marketplace.extensions import db
from tests.factories import AccountFactory, AdminFactory, AnnotatorFactory, RequesterFactory, bearer, open_project

ACTORS = ("owner", "other_requester", "member", "outsider", "admin", "vendor")

# (method, path, body, {actor: status}); {team} and {project} are filled in.
MATRIX = [
    ("get", "/teams/{team}", None, (200, 404, 200, 404, 200, 404)),
    ("get", "/teams/{team}/members", None, (200, 404, 403, 403, 200, 404)),
    ("get", "/teams/{team}/invites", None, (200, 404, 403, 403, 200, 404)),
    ("post", "/teams/{team}/invites", {}, (201, 404, 403, 403, 201, 404)),
    ("get", "/teams/{team}/stats", None, (200, 404, 403, 403, 200, 404)),
    ("post", "/teams/{team}/leave", None, (403, 403, 204, 404, 403, 404)),
    ("get", "/projects/{project}/workforce", None, (200, 404, 403, 403, 200, 403)),
    ("put", "/projects/{project}/workforce", "same", (200, 404, 403, 403, 200, 403)),
    ("get", "/projects/{project}", None, (200, 404, 200, 404, 200, 403)),
    ("post", "/projects/{project}/assignments", None, (403, 403, 201, 404, 403, 403)),
    ("get", "/projects/{project}/questions", None, (200, 404, 200, 404, 200, 403)),
    ("post", "/projects/{project}/experiments", "arms", (201, 404, 403, 403, 201, 403)),
    ("post", "/projects/{project}/reviews", None, (403, 403, 409, 404, 403, 403)),
]


@pytest.fixture
def world(client):
    project = open_project(tasks=2, answers_per_task=2)
    owner = db.session.get(Account, project.requester_id)
    team = client.post("/api/v1/teams", json={"name": "private"}, headers=bearer(owner)).json
    member = AnnotatorFactory()
    token = client.post(f"/api/v1/teams/{team['id']}/invites", json={}, headers=bearer(owner)).json["token"]
    assert client.post("/api/v1/team-invites/accept", json={"token": token}, headers=bearer(member)).status_code == 201
    workforce = {"crowd": False, "teams": [{"team_id": team["id"]}]}
    assert client.put(f"/api/v1/projects/{project.id}/workforce", json=workforce,
                      headers=bearer(owner)).status_code == 200
    actors = {"owner": owner, "other_requester": RequesterFactory(), "member": member, "outsider": AnnotatorFactory(),
              "admin": AdminFactory(), "vendor": AccountFactory(role=VENDOR)}
    return {"team": team["id"], "project": project.id, "workforce": workforce, "actors": actors}


@pytest.mark.parametrize("method, path, body, statuses", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("actor", ACTORS)
def test_access(client, world, actor, method, path, body, statuses):
    if body == "same":
        body = world["workforce"]
    elif body == "arms":
        body = {"name": "ab", "arms": [{"name": "a"}, {"name": "b"}]}
    url = "/api/v1" + path.format(team=world["team"], project=world["project"])
    response = getattr(client, method)(url, json=body, headers=bearer(world["actors"][actor]))
    assert response.status_code == statuses[ACTORS.index(actor)], (actor, response.json)
