"""Client fixtures: `labelctl.Client` over an in-process WSGI transport into the test's app.

The transport calls the Flask app in this thread, inside the test's app context, so requests share
the test's rolled-back transaction exactly as the Flask test client does (tests/conftest.py). Like
`SetupCommittingClient`, it commits the test's own work (a savepoint) before each request and
expires the session after, so a refused request cannot undo what came before.
"""
import json

import httpx
import pytest
from labelctl import Client, Conflict, NotFound, Retries

from marketplace.extensions import db
from tests.webhooks.conftest import local_targets, receiver  # noqa: F401 (the webhook tests' fixtures, shared)

BASE_URL = "http://marketplace.test"
PASSWORD = "a long password"
NO_WAIT = Retries(attempts=2, sleep=lambda seconds: None)


class CommittingTransport(httpx.WSGITransport):
    """httpx's WSGI transport into the app, committing the test's setup before each request."""

    def __init__(self, app):
        super().__init__(app=app)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        db.session.commit()
        response = super().handle_request(request)
        db.session.expire_all()
        return response


@pytest.fixture
def transport(ctx):
    return CommittingTransport(ctx)


@pytest.fixture
def anonymous(transport):
    """A client with no credential (registration, login)."""
    with Client(BASE_URL, transport=transport, retries=NO_WAIT) as client:
        yield client


def sign_up(transport, email: str, role: str = "requester") -> Client:
    """Register an account through the API and return a client logged in as it."""
    client = Client(BASE_URL, transport=transport, retries=NO_WAIT)
    client.accounts.register(email, PASSWORD, role=role)
    client.login(email, PASSWORD)
    return client


@pytest.fixture
def requester(transport):
    """A requester client authenticated with an API key, as the README's tour ends its sign-in."""
    with sign_up(transport, "ml@team.example") as client:
        client.api_keys.create("tests", use=True)
        yield client


PETS = {
    "name": "Pets", "instructions": "Which animal is in the picture?",
    "label_schema": {"type": "classification", "classes": ["cat", "dog", "bird"]},
    "reward_cents": 3, "answers_per_task": 2, "assignment_duration_s": 300, "aggregation": "mv",
}

ANIMALS = ["cat", "dog", "bird"]


def write_tasks(path, count: int) -> dict[str, str]:
    """A JSONL file of tasks whose data carries the truth (the simulated crowd "looks" at it)."""
    truth = {f"img-{i:03d}": ANIMALS[i % 3] for i in range(count)}
    with path.open("w") as out:
        for external_id, animal in truth.items():
            out.write(json.dumps({"external_id": external_id,
                                  "data": {"image_url": f"https://example.test/{external_id}.jpg", "animal": animal}}))
            out.write("\n")
    return truth


def answer_everything(annotators: list[Client], project_id: int) -> int:
    """Each annotator leases and answers (truthfully) until the project has nothing left for them."""
    answered, active = 0, list(annotators)
    while active:
        for annotator in list(active):
            try:
                lease = annotator.assignments.lease(project_id)
            except (NotFound, Conflict):  # nothing left for them, or the project completed
                active.remove(annotator)
                continue
            submitted = annotator.assignments.answer(lease["id"], {"label": lease["task"]["data"]["animal"]})
            assert submitted["status"] == "submitted"
            answered += 1
    return answered
