"""The spec as a product: valid, every operation named and its errors listed, and a client generated from it works."""
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from marketplace.openapi import OPERATION_IDS, PREFIX

ROOT = Path(__file__).resolve().parent.parent
SPEC = json.loads((ROOT / "api_spec" / "openapi.json").read_text())
METHODS = ("get", "post", "put", "patch", "delete")


def _operations():
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def test_the_committed_spec_is_valid_openapi():
    validate(SPEC)
    assert SPEC["servers"] and SPEC["info"]["description"]


def test_every_operation_has_a_unique_snake_case_id():
    ids = [operation["operationId"] for _, _, operation in _operations()]
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in ids), ids
    assert len(ids) == len(set(ids))
    routed = {(method, path[len(PREFIX):]) for method, path, _ in _operations()}
    assert routed <= set(OPERATION_IDS)


def test_every_operation_lists_the_errors_it_can_return():
    for method, path, operation in _operations():
        codes = set(operation["responses"])
        if operation.get("security", SPEC["security"]):
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if "requestBody" in operation:
            assert "422" in codes, (method, path)
        if not path.endswith(("/health", "/stripe/webhook")):
            assert "429" in codes, (method, path)
    stripe = SPEC["paths"][f"{PREFIX}/payments/stripe/webhook"]["post"]
    assert stripe["security"] == [] and stripe["parameters"][0]["name"] == "Stripe-Signature"


def test_errors_and_outputs_are_typed_for_generated_models():
    error = SPEC["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"status", "type", "code", "message", "param", "errors", "request_id"}
    task = SPEC["components"]["schemas"]["TaskOut"]
    assert set(task["required"]) == set(task["properties"])  # sent every time, null when empty
    project = SPEC["components"]["schemas"]["ProjectOut"]  # an annotator's view leaves the owner's fields out
    assert {"id", "name", "status"} <= set(project["required"]) < set(project["properties"])


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A client generated from the committed spec by openapi-python-client, importable as `generated_client`."""
    where = tmp_path_factory.mktemp("client")
    config = where / "config.yml"
    config.write_text("post_hooks: []\npackage_name_override: generated_client\n")
    run = subprocess.run([str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path",
                          str(ROOT / "api_spec" / "openapi.json"), "--output-path", str(where / "generated_client"),
                          "--meta", "none", "--config", str(config)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    sys.path.insert(0, str(where))
    yield importlib.import_module("generated_client")
    sys.path.remove(str(where))
    for name in [m for m in sys.modules if m.startswith("generated_client")]:
        del sys.modules[name]


def test_a_generated_client_builds_without_warnings_and_drives_the_api(generated, client):
    from generated_client import AuthenticatedClient, Client  # noqa: F401 (the package's entry points)
    from generated_client.api.accounts import log_in, register_requester
    from generated_client.api.projects import create_project, get_project
    from generated_client.models import LoginIn, ProjectIn, RegistrationIn

    def transport(request: httpx.Request) -> httpx.Response:
        answer = client.open(request.url.raw_path.decode(), method=request.method, data=request.content,
                             headers=dict(request.headers))
        return httpx.Response(answer.status_code, headers=dict(answer.headers), content=answer.data)

    anonymous = Client(base_url="http://test", httpx_args={"transport": httpx.MockTransport(transport)})
    email, password = "sdk@example.test", "long enough password"
    assert register_requester.sync_detailed(client=anonymous, body=RegistrationIn(email=email, password=password)
                                            ).status_code == 201
    token = log_in.sync(client=anonymous, body=LoginIn(email=email, password=password)).token
    requester = AuthenticatedClient(base_url="http://test", token=token,
                                    httpx_args={"transport": httpx.MockTransport(transport)})
    body = ProjectIn.from_dict({"name": "Pets", "instructions": "Which animal?", "reward_cents": 3,
                                "label_schema": {"type": "classification", "classes": ["cat", "dog"]}})
    created = create_project.sync(client=requester, body=body)
    assert created.name == "Pets" and created.status == "draft"
    missing = get_project.sync_detailed(client=requester, project_id=created.id + 10_000)
    assert missing.status_code == 404 and json.loads(missing.content)["code"] == "not_found"


def _codes_in_code() -> set[str]:
    from marketplace import errors

    found = set(errors.DEFAULT_CODES.values()) | set(errors._HTTP_CODES.values()) | set(errors.DATABASE_CODES.values())
    for source in (ROOT / "marketplace").rglob("*.py"):
        text = source.read_text()
        found |= set(re.findall(r'\bcode="([a-z_]+)"', text)) | set(re.findall(r'^    code = "([a-z_]+)"', text, re.M))
    return found


def test_the_readme_catalogues_every_error_code():
    readme = (ROOT / "README.md").read_text()
    catalogue = readme.split("### Errors", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", catalogue, re.M))
    assert _codes_in_code() <= listed, sorted(_codes_in_code() - listed)
    assert listed <= _codes_in_code(), sorted(listed - _codes_in_code())


def test_every_list_pages_with_a_cursor_and_says_whether_more_follow():
    schemas = SPEC["components"]["schemas"]
    lists = 0
    for method, path, operation in _operations():
        content = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        body = schemas.get(content.get("schema", {}).get("$ref", "").split("/")[-1], {})
        if method != "get" or "items" not in body.get("properties", {}):
            continue
        lists += 1
        assert {"next_cursor", "has_more"} <= set(body["properties"]), path
        assert {"limit", "cursor"} <= {p["name"] for p in operation.get("parameters", [])}, path
    assert lists >= 25


def test_a_short_list_pages_too(client):
    from tests.factories import RequesterFactory, bearer

    headers = bearer(RequesterFactory())
    for name in ("one", "two", "three"):
        assert client.post("/api/v1/api-keys", json={"name": name}, headers=headers).status_code == 201
    first = client.get("/api/v1/api-keys?limit=2", headers=headers).json
    assert [k["name"] for k in first["items"]] == ["three", "two"] and first["has_more"] is True
    rest = client.get(f"/api/v1/api-keys?limit=2&cursor={first['next_cursor']}", headers=headers).json
    assert [k["name"] for k in rest["items"]] == ["one"] and rest["has_more"] is False and rest["next_cursor"] is None


@pytest.mark.embedded
def test_an_unknown_query_parameter_is_422_naming_it(client):
    from tests.factories import RequesterFactory, bearer

    headers = bearer(RequesterFactory())
    misspelt = client.get("/api/v1/projects?stauts=open", headers=headers)
    assert misspelt.status_code == 422 and misspelt.json["code"] == "unknown_parameter"
    assert misspelt.json["param"] == "stauts" and "status" in misspelt.json["message"]
    assert client.get("/api/v1/projects?status=open&limit=5", headers=headers).status_code == 200
    assert client.get("/api/v1/me?verbose=1", headers=headers).json["errors"] == {"query": {"verbose": ["Unknown field."]}}


def test_the_documented_examples_work_as_sent(client):
    from marketplace.openapi import EXAMPLES
    from tests.factories import RequesterFactory, bearer

    headers = bearer(RequesterFactory())
    created = client.post("/api/v1/projects", json=EXAMPLES["create_project"][0], headers=headers)
    assert created.status_code == 201, created.json
    imported = client.post(f"/api/v1/projects/{created.json['id']}/tasks", json=EXAMPLES["import_tasks"][0],
                           headers=headers)
    assert imported.status_code == 201 and imported.json == EXAMPLES["import_tasks"][1]


def test_query_filters_are_plain_optional_values_and_answers_are_typed():
    for method, path, operation in _operations():
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            assert None not in schema.get("enum", []) and not schema.get("nullable"), (method, path, parameter)
    answer = SPEC["components"]["schemas"]["Answer"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in answer["oneOf"]} >= {"ClassificationAnswer", "BoxesAnswer",
                                                                         "SpansAnswer", "NumericAnswer"}
    assert SPEC["components"]["schemas"]["AnswerIn"]["properties"]["answer"]["allOf"] == [
        {"$ref": "#/components/schemas/Answer"}]
    assert "$ref" not in json.dumps(SPEC["components"]["schemas"]["FeedbackOut"])  # a result label, not an answer
    assert SPEC["components"]["schemas"]["TaskBatchIn"]["properties"]["tasks"]["items"] == {
        "$ref": "#/components/schemas/TaskIn"}
    assert SPEC["components"]["schemas"]["LeaseOut"]["properties"]["task"] == {"$ref": "#/components/schemas/LeasedTask"}
