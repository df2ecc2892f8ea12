"""Bad input is a clear 4xx in the one error shape, never a 500."""
import io

import pytest

from tests.factories import RequesterFactory, bearer

BIG = 2**70


@pytest.fixture
def headers():
    return bearer(RequesterFactory())


def project_body(**extra):
    return {"name": "p", "label_schema": {"type": "classification", "classes": ["a", "b"]}, "reward_cents": 1, **extra}


@pytest.mark.parametrize("field", ["max_answers_per_annotator", "budget_cents"])
def test_integers_beyond_the_columns_are_422(client, headers, field):
    response = client.post("/api/v1/projects", json=project_body(**{field: 2**40}), headers=headers)
    assert response.status_code == 422 and field in response.json["errors"]["json"]


def test_huge_ids_in_urls_and_cursors_are_4xx(client, headers):
    assert client.get(f"/api/v1/projects/{BIG}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/projects?cursor={BIG}", headers=headers).status_code == 422


@pytest.mark.parametrize("body", ['{"name": "a\\u0000b"}', '{"name": "x", "description": NaN}', '{"x": Infinity}'])
def test_nul_characters_and_non_json_numbers_are_refused(client, headers, body):
    response = client.post("/api/v1/projects", data=body, content_type="application/json", headers=headers)
    assert response.status_code in (400, 422)
    assert set(response.json) == {"status", "type", "code", "message", "param", "errors", "request_id"}


def test_non_finite_predictions_are_422(client, headers):
    from tests.factories import ProjectFactory
    from tests.projects.test_routes import _owner

    project = ProjectFactory()
    body = '{"tasks": [{"external_id": "a", "data": {}, "prediction": {"cat": 1e400}}]}'
    response = client.post(f"/api/v1/projects/{project.id}/tasks", data=body, content_type="application/json",
                           headers=bearer(_owner(project)))
    assert response.status_code == 422


DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize("body, status, where", [
    (DEEP, 400, None),  # deeper than the parser can go: not JSON we accept
    ('{"name": ' + "[" * 70 + "]" * 70 + "}", 422, "name"),  # parses, but deeper than MAX_DEPTH
    ('{"name": "a\\ud800b"}', 422, "name"),  # an unpaired surrogate: not Unicode
    ('{"\\udfff": 1}', 422, None),  # in a key too
    ('{"name": "x", "reward_cents": ' + "9" * 5000 + "}", 422, "reward_cents"),  # past Python's int limit
    ('{"name": "x", "reward_cents": ' + "9" * 41 + "}", 422, "reward_cents"),  # past MAX_INT_DIGITS
])
def test_deep_nesting_surrogates_and_huge_integers_are_4xx_on_any_endpoint(client, headers, body, status, where):
    for path, auth in (("/api/v1/projects", headers), ("/api/v1/requesters", {})):  # authenticated or not
        response = client.post(path, data=body, content_type="application/json", headers=auth)
        assert response.status_code == status, (path, response.json)
        assert set(response.json) == {"status", "type", "code", "message", "param", "errors", "request_id"}
        if where:
            assert where in response.json["errors"]["json"]


@pytest.mark.parametrize("line, field", [
    ('{"external_id": "a", "data": {"t": "x\\u0000y"}}', "data"),
    ('{"external_id": "a\\ud800", "data": {}}', "external_id"),
    ('{"external_id": "a", "data": ' + "[" * 70 + "]" * 70 + "}", "data"),
    ('{"external_id": "a", "data": {"n": ' + "7" * 5000 + "}}", "n"),
    ("[" * 1000 + "]" * 1000, "_line"),
    ('{"external_id": "a", "data": {"x": 1e400}}', "x"),  # reads as infinity: no column holds it
    ('{"external_id": "a", "data": {"x": [2.5E-999, -1.0e+308, 1E309]}}', "x.2"),
])
def test_uploads_follow_the_same_rules_line_by_line(client, line, field):
    from tests.factories import ProjectFactory
    from tests.projects.test_routes import _owner

    project = ProjectFactory()
    content = ('{"external_id": "ok", "data": {}}\n' + line + "\n").encode("utf-8", "surrogatepass")
    response = client.post(f"/api/v1/projects/{project.id}/tasks/upload", headers=bearer(_owner(project)),
                           data={"file": (__import__("io").BytesIO(content), "tasks.jsonl")},
                           content_type="multipart/form-data")
    assert response.status_code in (400, 422), response.json
    assert "line 2" in response.json["message"] and field in response.json["message"]


def test_a_review_qualification_that_does_not_exist_or_is_not_yours_is_422(client, headers):
    from marketplace.extensions import db
    from marketplace.qualifications.models import Qualification

    theirs = Qualification(owner_id=RequesterFactory().id, name="q", label_schema={"type": "classification",
                           "classes": ["a", "b"]}, questions_per_attempt=1, pass_score=1.0, time_limit_s=60,
                           retry_delay_s=60, max_attempts=1)
    db.session.add(theirs)
    db.session.flush()
    for qualification_id in (987654, theirs.id):  # missing; another requester's
        for extra in ({}, {"review_enabled": True}):
            response = client.post("/api/v1/projects", json=project_body(review_qualification_id=qualification_id,
                                                                         **extra), headers=headers)
            assert response.status_code == 422, response.json
            assert "review_qualification_id" in response.json["errors"]["json"]


def test_a_webhook_project_id_beyond_bigint_is_422(client, headers):
    response = client.post("/api/v1/webhooks", json={"url": "https://hooks.example.com/x", "events": ["task.completed"],
                                                     "project_id": BIG}, headers=headers)
    assert response.status_code == 422 and "project_id" in response.json["errors"]["json"]


def test_a_foreign_key_the_checks_missed_is_a_422_naming_the_column(app, ctx):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from marketplace import errors
    from marketplace.extensions import db

    with pytest.raises(IntegrityError) as caught:
        with db.session.begin_nested():
            db.session.execute(text("INSERT INTO api_keys (account_id, prefix, secret_hash, name, created_at, "
                                    "updated_at) VALUES (987654, 'p', 'h', 'n', now(), now())"))
    with app.test_request_context():
        response = errors._database(caught.value)
    assert response.status_code == 422
    assert response.json["errors"] == {"json": {"account_id": ["refers to nothing that exists"]}}


def test_a_bare_post_to_approve_is_refused_and_approves_nothing(client):
    from tests.approvals.test_approvals import _answered, _owner
    from tests.factories import AnnotatorFactory, open_project

    project = open_project(tasks=1, answers_per_task=1)
    _answered(client, project, [AnnotatorFactory()])
    bare = client.post(f"/api/v1/projects/{project.id}/answers/approve", headers=_owner(project))
    assert bare.status_code == 422 and bare.json["errors"] == {"json": {"_body": ["A JSON body is required."]}}
    pending = client.get(f"/api/v1/projects/{project.id}/answers?state=pending", headers=_owner(project)).json
    assert len(pending["items"]) == 1


@pytest.mark.parametrize("method, path", [("patch", ""), ("post", "/escrow"), ("post", "/answers/approve")])
def test_an_operation_that_takes_a_json_body_needs_one(client, method, path):
    from tests.approvals.test_approvals import _owner
    from tests.factories import open_project

    project = open_project(tasks=1)
    url, owner = f"/api/v1/projects/{project.id}{path}", _owner(project)
    missing = getattr(client, method)(url, headers=owner)
    assert missing.status_code == 422 and "_body" in missing.json["errors"]["json"]
    form = getattr(client, method)(url, data="amount_cents=5", content_type="application/x-www-form-urlencoded",
                                   headers=owner)
    assert form.status_code == 415
    empty = getattr(client, method)(url, json={}, headers=owner)  # {}: every default; the operation decides
    assert empty.status_code not in (415, 422), empty.json


def test_operations_without_a_body_and_uploads_are_not_asked_for_one(client):
    from tests.approvals.test_approvals import _owner
    from tests.factories import ProjectFactory

    project = ProjectFactory()
    assert client.post(f"/api/v1/projects/{project.id}/pause", headers=_owner(project)).status_code == 409
    upload = client.post(f"/api/v1/projects/{project.id}/tasks/upload", headers=_owner(project),
                         data={"file": (io.BytesIO(b'{"external_id": "a", "data": {"text": "a"}}\n'), "t.jsonl")})
    assert upload.status_code == 201, upload.json


# orjson parses first where it reads a text exactly as the standard parser does; these are the texts near that line.
PARSER_EDGES = [
    '{"n": 9223372036854775807, "m": -9223372036854775808}',  # 64-bit limits (19 digits: the standard parser)
    '{"n": 18446744073709551616}', '{"n": -9223372036854775809}',  # past 64 bits: orjson would give floats
    '{"n": 123456789012345678901234567890}', '{"f": 0.1000000000000000055511151231257827}',
    '{"f": 1e308, "g": 2.5e-300, "h": -0.0, "i": 1E2}', '{"s": "caf\u00e9 \ud83d\ude00", "t": "\u2028"}',
    '{"a": 1, "a": 2}', '[1, 2.0, "x", null, true, false, {}, []]', ' {"pad": 1} ', '{"k": "no\\u0000 nul"}',
]


@pytest.mark.parametrize("text", PARSER_EDGES)
def test_the_fast_parser_reads_every_value_as_the_standard_parser_does(text):
    import json

    from marketplace import inputs

    expected = json.loads(text)
    value, clean = inputs.loads_checked(text)
    assert value == expected and inputs.loads(text) == expected
    assert repr(value) == repr(expected)  # int stays int, -0.0 stays -0.0
    assert clean == (inputs.problem(value) is None and inputs.surely_clean(text))


BIG_INT = 123456789012345678901234567890  # past 64 bits, within MAX_INT_DIGITS


def test_integers_past_64_bits_are_kept_exactly_on_every_import_path(client):
    """The JSON body, the synchronous upload and an upload of COPY size all store the integer, not a float."""
    from sqlalchemy import select

    from marketplace.extensions import db
    from marketplace.tasks import store
    from marketplace.tasks.models import Task
    from tests.factories import ProjectFactory
    from tests.projects.test_routes import _owner

    project = ProjectFactory()
    auth = bearer(_owner(project))
    body = '{"tasks": [{"external_id": "body", "data": {"n": %d, "m": -%d}}]}' % (BIG_INT, BIG_INT)
    assert client.post(f"/api/v1/projects/{project.id}/tasks", data=body, content_type="application/json",
                       headers=auth).status_code == 201
    rows = max(store.COPY_MIN_ROWS, 2)
    lines = "".join('{"external_id": "file-%d", "data": {"n": %d, "m": -%d}}\n' % (i, BIG_INT, BIG_INT)
                    for i in range(rows))
    response = client.post(f"/api/v1/projects/{project.id}/tasks/upload", headers=auth,
                           data={"file": (io.BytesIO(lines.encode()), "tasks.jsonl")}, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    datas = db.session.scalars(select(Task.data).where(Task.project_id == project.id)).all()
    assert len(datas) == rows + 1
    assert all(d == {"n": BIG_INT, "m": -BIG_INT} and type(d["n"]) is int for d in datas)
