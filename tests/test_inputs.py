"""Bad input is a clear 4xx in the one error shape, never a 500."""
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
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_non_finite_predictions_are_422(client, headers):
    from tests.factories import ProjectFactory
    from tests.projects.test_routes import _owner

    project = ProjectFactory()
    body = '{"tasks": [{"external_id": "a", "data": {}, "prediction": {"cat": 1e400}}]}'
    response = client.post(f"/api/v1/projects/{project.id}/tasks", data=body, content_type="application/json",
                           headers=bearer(_owner(project)))
    assert response.status_code == 422
