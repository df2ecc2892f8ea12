"""The API contract, fuzzed: every operation of the spec, as each role, against the app in-process (WSGI).

Schemathesis generates requests from the spec the app serves at /api/v1/openapi.json (`test_app.py`
proves the committed `api_spec/openapi.json` is the same document) and sends them to the Flask app
through WSGI, with a fixed seed and a budget that fits CI. Each operation is one pytest test inside
the conftest's rolled-back transaction. The test first builds a world to aim at: a requester's
funded open project with tasks and a draft project, an annotator's answered-then-rejected assignment
with an open dispute and a second, leased one, a qualification, a funding, an API key, a webhook
endpoint. Most generated ids are then swapped for those real ids (hooks below), so calls reach
existing objects and their owners' rules rather than all answering 404.

Roles: every generated case (the spec's examples and the fuzzing phase) is sent once as the
requester, once as the annotator and once as the admin. The coverage phase (schemathesis' boundary
values, and each constraint of each field broken once: thousands of cases, most judged by the schema
layer before any role matters) sends each case as one role: starting from one a stable hash of the
case picks, the first the operation does not refuse with a 403. So every operation's coverage
cases are spread over the roles it admits, and none is spent on a role refused at the door.
A case that breaks the Authorization header on purpose (schemathesis fuzzes the declared bearer
security too) is sent once, as generated: a role's token would repair what it tests.

Checks, and why these:
- `not_a_server_error`: a 5xx is always a bug (DESIGN.md §6). An exception logged while the request
  ran (a 500 the error handler rendered, an inline job that failed after the commit) fails the case
  too, with its traceback.
- `response_schema_conformance`: every body matches the schema documented for its status (error
  bodies match `Error`, through each operation's `default` response).
- `content_type_conformance`: every body is the documented media type (JSON; a 204 has none).
- `negative_data_rejection`: data the spec calls invalid is refused with a 4xx, never accepted
  (402 and 413 count as refusals too).
- `ignored_auth`: an operation that declares bearer security refuses the same request without
  credentials and with made-up ones.
- `unsupported_method`: a method the path does not declare is a 405 with an `Allow` header.
Left out, on purpose:
- `status_code_conformance` cannot fail here: every operation documents `default` (the `Error`
  schema), so every status conforms; `response_schema_conformance` already holds every error body
  to `Error`, which is what the documented statuses promise.
- `positive_data_acceptance` expects a 2xx for every schema-valid request, but a valid request is
  still refused for reasons no schema states: an id that names nothing or someone else's object
  (404), a state (409), money (402), a rule of the domain (422: a label outside the project's
  classes). Those refusals are the behaviour under test, not failures.
- `use_after_free` and `ensure_resource_availability` follow links between operations; the spec
  declares none.

Nothing is excluded. The Stripe webhook (POST /payments/stripe/webhook) is fuzzed too, but in the
embedded ledger-only payment mode (no Stripe key: nothing here may call Stripe) it refuses every
delivery, and the fuzzer could not forge Stripe's signature anyway: what it checks there is that any
body and any `Stripe-Signature` is refused cleanly (4xx), never a 500. Signed events, malformed ones
included, are tested against the fake Stripe in tests/payments.
"""
import itertools
import logging
import zlib
from contextlib import contextmanager

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    unsupported_method,
)
from sqlalchemy import select

from marketplace import create_app
from marketplace.accounts.models import AccessToken
from marketplace.extensions import db
from marketplace.inputs import MAX_ID
from marketplace.webhooks import sender, targets
from tests.conftest import TestConfig
from tests.factories import (
    AdminFactory,
    AnnotatorFactory,
    ProjectFactory,
    RequesterFactory,
    bearer,
    open_project,
)

pytestmark = pytest.mark.postgres

SEED = 16  # fixed: the same cases on every run, so a CI failure replays locally
# The budget: generated cases per operation in the fuzzing phase (each sent as all three roles), on
# top of the spec's examples and the coverage phase (~4,000 cases). The whole file, collection and
# migrations included, runs in under two minutes on 2 idle cores (about 10,000 requests).
MAX_EXAMPLES = 20

ROLES = ("requester", "annotator", "admin")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, negative_data_rejection,
          ignored_auth, unsupported_method]
REFUSALS = ["400", "401", "402", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
PUBLIC_ADDRESS = "93.184.215.14"  # what every webhook host "resolves" to; nothing is ever sent there


class FuzzConfig(TestConfig):
    """The app the fuzzer talks to: the test configuration plus what fuzzing needs. The one place to adjust.

    Rate limits are off: the fuzzer sends thousands of requests with three credentials, and 429s
    would stand in for the behaviour under test (the limits have tests of their own).
    """

    RATE_LIMITS_ENABLED = False


# Built at import so that the schema holds it (checks re-send probes through it). Building the app
# touches nothing: the database is first used by the `app` fixture below, after the migrations ran.
FUZZ_APP = create_app(FuzzConfig)
# In production each request ends its app context and so its session; here the test's context (and the
# rolled-back transaction) outlives the requests, so each one, probes included, ends its session itself.
FUZZ_APP.teardown_request(lambda _error: db.session.remove())
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", FUZZ_APP, config=schemathesis.Config.from_dict({
    "seed": SEED,
    "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
}))

# The current test's real ids by parameter name; generated ids are swapped for them (see the hooks).
REAL_IDS: dict[str, list[int]] = {}
BODY_ID_FIELDS = ("assignment_id", "annotator_id", "project_id", "task_id")
_idempotency_keys = itertools.count()


def _valid_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _real(name: str, pick: int) -> int | None:
    ids = REAL_IDS.get(name)
    return ids[pick % len(ids)] if ids else None


def _id_in_path(value) -> bool:
    """A value the spec accepts for an id in the path: an integer >= 0, drawn as one or already a string of digits."""
    if isinstance(value, str):
        return value.isascii() and value.isdigit() and int(value) <= MAX_ID
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _swap_path_ids(params, pick: int):
    """Swap generated ids for real ones unless `pick` is 0; an invalid value stays (it is a negative case)."""
    if not pick or not isinstance(params, dict):
        return params
    swapped = dict(params)
    for name, value in params.items():
        real = _real(name, pick)
        if real is not None and _id_in_path(value):
            swapped[name] = str(real) if isinstance(value, str) else real
    return swapped


def _swap_body_ids(body, pick: int):
    if not pick or not isinstance(body, dict):
        return body
    swapped = dict(body)
    for name in BODY_ID_FIELDS:
        real = _real(name, pick)
        if real is not None and _valid_id(body.get(name)):
            swapped[name] = real
    ids = body.get("assignment_ids")
    if isinstance(ids, list) and ids and all(_valid_id(i) for i in ids) and REAL_IDS.get("assignment_id"):
        swapped["assignment_ids"] = REAL_IDS["assignment_id"]
    return swapped


# Flatmap hooks see plain generated values (schemathesis unwraps and re-wraps negative ones), and the
# swap is drawn, so it is part of the seeded case. They run when a case is drawn, after `world` filled
# REAL_IDS; the coverage phase's cases are built at collection, so `aim` swaps theirs in the test.
@schema.hook
def flatmap_path_parameters(context, path_parameters):
    return st.integers(min_value=0, max_value=4).map(lambda pick: _swap_path_ids(path_parameters, pick))


@schema.hook
def flatmap_body(context, body):
    return st.integers(min_value=0, max_value=2).map(lambda pick: _swap_body_ids(body, pick))


@pytest.fixture(scope="module")
def app(app):
    """The fuzzed app (FuzzConfig), on the database the session's app migrated."""
    yield FUZZ_APP
    with FUZZ_APP.app_context():
        db.engine.dispose()


@pytest.fixture
def no_network(monkeypatch):
    """Webhook hosts resolve to one public address and deliveries are answered here: nothing leaves the machine."""
    monkeypatch.setattr(targets, "resolve_host", lambda host, port: [PUBLIC_ADDRESS])
    monkeypatch.setattr(sender, "post", lambda target, body, headers, **_: sender.Response(200, None, "ok", 1))


def _spare_token(account) -> int:
    bearer(account)
    return db.session.scalars(select(AccessToken.id).where(AccessToken.account_id == account.id)
                              .order_by(AccessToken.id.desc())).first()


def _made(response) -> dict:
    assert response.status_code < 300, response.json  # the world is built through the API: it must work
    return response.json


@pytest.fixture
def world(client, no_network):
    """Accounts of each role with their Authorization headers, and real objects whose ids REAL_IDS names."""
    requester, annotator, admin = RequesterFactory(), AnnotatorFactory(), AdminFactory()
    headers = {"requester": bearer(requester), "annotator": bearer(annotator), "admin": bearer(admin)}
    req, ann = headers["requester"], headers["annotator"]
    project = open_project(tasks=4, requester_id=requester.id, answers_per_task=1, reward_cents=10)
    draft = ProjectFactory(requester_id=requester.id)
    task_ids = [t["id"] for t in _made(client.get(f"/api/v1/projects/{project.id}/tasks", headers=req))["items"]]

    answered = _made(client.post(f"/api/v1/projects/{project.id}/assignments", headers=ann))["id"]
    _made(client.post(f"/api/v1/assignments/{answered}/answer", json={"answer": {"label": "cat"}}, headers=ann))
    _made(client.post(f"/api/v1/projects/{project.id}/answers/reject", headers=req, json={
        "assignment_ids": [answered], "category": "wrong_answer", "reason": "The picture shows a dog, see the guide."}))
    dispute = _made(client.post("/api/v1/disputes", headers=ann, json={
        "assignment_id": answered, "reason": "It is a cat: the ears are clearly feline."}))["id"]
    leased = _made(client.post(f"/api/v1/projects/{project.id}/assignments", headers=ann))["id"]

    qualification = _made(client.post("/api/v1/qualifications", headers=req, json={
        "name": "Cats", "label_schema": {"type": "classification", "classes": ["cat", "dog"]},
        "questions_per_attempt": 1, "pass_score": 0.5}))["id"]
    funding = _made(client.post("/api/v1/payments/fundings", json={"amount_cents": 5_000},
                                headers={**req, "Idempotency-Key": "world-funding"}))["id"]
    key = _made(client.post("/api/v1/api-keys", json={"name": "ci"}, headers=req))["id"]
    endpoint = _made(client.post("/api/v1/webhooks", headers=req, json={
        "url": "https://hooks.example.com/labels", "events": ["task.completed"]}))["id"]

    REAL_IDS.update(
        project_id=[project.id, draft.id], task_id=task_ids, assignment_id=[answered, leased],
        dispute_id=[dispute], qualification_id=[qualification], funding_id=[funding], key_id=[key],
        endpoint_id=[endpoint], annotator_id=[annotator.id], account_id=[annotator.id, requester.id],
        # Spare tokens: revoking one logs no one out.
        token_id=[_spare_token(requester), _spare_token(annotator), _spare_token(admin)],
    )
    db.session.commit()
    yield headers
    REAL_IDS.clear()


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def logged_errors():
    """Collect what is logged at ERROR or above while the block runs (handled 500s, failed inline jobs)."""
    handler = _Collect()
    logging.getLogger().addHandler(handler)
    try:
        yield handler.records
    finally:
        logging.getLogger().removeHandler(handler)


def _describe(records) -> str:
    formatter = logging.Formatter("%(name)s: %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def _case_hash(case) -> int:
    body = None if isinstance(case.body, NotSet) else case.body  # NotSet's repr carries its address
    return zlib.crc32(repr((case.method, case.path_parameters, case.query, dict(case.headers or {}), body)).encode())


def is_coverage(case) -> bool:
    return case.meta is not None and case.meta.phase.name.value == "coverage"


def probes_credentials(case) -> bool:
    """A case whose Authorization header (the only header the spec declares) is missing or malformed on purpose."""
    return case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)


def aim(case) -> None:
    """Point a coverage-phase case at real objects, as the hooks do for drawn cases (it was built at collection)."""
    if not is_coverage(case):
        return
    pick = _case_hash(case) // 3 % 5
    if case.path_parameters:
        case.path_parameters = _swap_path_ids(case.path_parameters, pick)
    if not isinstance(case.body, NotSet):
        case.body = _swap_body_ids(case.body, pick % 3)


def call_as(case, role: str, headers: dict):
    """Send the case with the role's credentials and run the checks; anything logged as an error fails it too."""
    headers = dict(headers)
    if case.method == "POST":
        headers["Idempotency-Key"] = f"fuzz-{next(_idempotency_keys)}"
    with logged_errors() as errors:
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
        except Exception as exc:
            exc.add_note(f"as the {role}{' (logged: ' + _describe(errors) + ')' if errors else ''}")
            raise
    assert not errors, f"{case.method} {case.formatted_path} as the {role} logged an error:\n{_describe(errors)}"
    return response


# A single parametrization only to name the items: under pytest 9, schemathesis' items without one all
# get the id `test_api_contract`, without their operation (nothing to select, rerun or report by).
@pytest.mark.parametrize("roles", [ROLES], ids=["each-role"])
@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    database=None,  # no example database: CI runs exactly the seeded cases
    deadline=None,
    # The world is built once per operation; its examples share the test's rolled-back transaction on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_contract(case, roles, world):
    if probes_credentials(case):
        call_as(case, "caller without valid credentials", {})  # a role's token would repair what is under test
        return
    if not is_coverage(case):
        for role in roles:
            call_as(case, role, world[role])
        return
    # A coverage case goes as one role: the first, from one its hash picks, that the operation lets in.
    start = _case_hash(case) % len(roles)
    aim(case)
    for role in roles[start:] + roles[:start]:
        if call_as(case, role, world[role]).status_code != 403:
            break
