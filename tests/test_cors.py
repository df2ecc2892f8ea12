"""CORS: configured origins only, with the headers a browser client needs to send and to read."""
import pytest

from marketplace import create_app
from tests.conftest import TestConfig

ORIGIN = "https://annotate.example.com"


@pytest.fixture(scope="module")
def browser_app():
    class CorsConfig(TestConfig):
        CORS_ORIGINS = [ORIGIN + "/"]

    return create_app(CorsConfig)


def test_a_preflight_from_a_configured_origin_allows_the_api_headers(browser_app):
    response = browser_app.test_client().options("/api/v1/projects", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= {h.strip() for h in allowed.split(",")}
    assert "Access-Control-Allow-Credentials" not in response.headers  # bearer tokens, never cookies


def test_responses_expose_what_a_client_reads_and_other_origins_get_nothing(browser_app):
    client = browser_app.test_client()
    ok = client.get("/api/v1/openapi.json", headers={"Origin": ORIGIN})
    exposed = {h.strip() for h in ok.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"X-Request-Id", "Retry-After", "RateLimit-Remaining", "Idempotent-Replayed"} <= exposed
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    stranger = client.get("/api/v1/openapi.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_without_configured_origins_there_are_no_cors_headers(client):
    response = client.get("/api/v1/openapi.json", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers
