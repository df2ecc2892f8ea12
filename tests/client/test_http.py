"""The client's HTTP rules, against a scripted transport: idempotency keys, retries, error parsing."""
import json

import httpx
import pytest
from labelctl import (
    ApiError,
    AuthenticationError,
    BadRequest,
    Client,
    Conflict,
    NetworkError,
    NotFound,
    PaymentRequired,
    RateLimited,
    Retries,
    ServerError,
)


class Script:
    """A transport answering each request with the next planned reply (a Response or an exception)."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else httpx.Response(200, json={"ok": True})
        if isinstance(reply, Exception):
            raise reply
        return reply

    def keys(self) -> list[str | None]:
        return [r.headers.get("Idempotency-Key") for r in self.requests]


def scripted(*replies, **kwargs):
    script = Script(*replies)
    waits: list[float] = []
    retries = Retries(attempts=kwargs.pop("attempts", 3), sleep=waits.append)
    client = Client("https://labels.example.com", api_key="mk_test.secret", transport=httpx.MockTransport(script),
                    retries=retries, **kwargs)
    return client, script, waits


def test_every_change_sends_a_fresh_idempotency_key_and_reads_send_none():
    client, script, _ = scripted()
    client.projects.create(name="a")
    client.projects.create(name="a")
    client.projects.update(1, name="b")
    client.webhooks.delete(3)
    client.projects.get(1)
    keys = script.keys()
    assert all(keys[:4]) and len(set(keys[:4])) == 4 and keys[4] is None
    assert [r.method for r in script.requests] == ["POST", "POST", "PATCH", "DELETE", "GET"]
    assert str(script.requests[0].url) == "https://labels.example.com/api/v1/projects"
    assert script.requests[0].headers["Authorization"] == "Bearer mk_test.secret"


def test_a_callers_key_is_sent_as_given_and_a_call_or_a_client_may_opt_out():
    client, script, _ = scripted()
    client.projects.create(name="a", idempotency_key="import-2024-05-01")
    client.projects.publish(1, idempotency_key=False)
    assert script.keys() == ["import-2024-05-01", None]
    quiet, quiet_script, _ = scripted(idempotency=False)
    quiet.projects.create(name="a")
    assert quiet_script.keys() == [None]


def test_a_retried_call_reuses_its_key_and_body_and_waits_as_retry_after_asks():
    client, script, waits = scripted(
        httpx.Response(503, headers={"Retry-After": "2"}, json={"status": 503, "code": "unavailable", "message": "busy"}),
        httpx.ConnectError("refused"),
        httpx.Response(201, json={"id": 7, "status": "succeeded"}),
    )
    funding = client.payments.fund(5000)
    assert funding["id"] == 7
    assert len(script.requests) == 3 and len(set(script.keys())) == 1 and script.keys()[0]
    assert len({r.content for r in script.requests}) == 1
    assert json.loads(script.requests[0].content) == {"amount_cents": 5000, "currency": "usd"}
    assert waits[0] == 2.0 and len(waits) == 2


def test_retries_are_bounded_and_then_the_error_is_raised():
    client, script, waits = scripted(*[httpx.Response(502, text="<html>bad gateway</html>")] * 5, attempts=2)
    with pytest.raises(ServerError) as raised:
        client.projects.get(1)
    assert len(script.requests) == 3 and len(waits) == 2
    assert raised.value.status == 502 and raised.value.code == "bad_gateway" and "bad gateway" in raised.value.message


def test_a_call_without_a_key_is_not_repeated_after_it_may_have_run():
    client, script, _ = scripted(httpx.Response(500, json={"code": 500, "status": "Internal Server Error",
                                                           "message": "Internal error", "errors": {}}),
                                 idempotency=False)
    with pytest.raises(ServerError):
        client.projects.create(name="a")
    assert len(script.requests) == 1
    client, script, _ = scripted(httpx.ReadTimeout("slow"), idempotency=False)
    with pytest.raises(NetworkError):
        client.projects.create(name="a")
    assert len(script.requests) == 1


def test_a_long_retry_after_is_not_waited_out_but_raised_with_its_delay():
    client, _, waits = scripted(httpx.Response(429, headers={"Retry-After": "3600"},
                                                    json={"status": 429, "code": "rate_limited", "message": "slow down"}))
    with pytest.raises(RateLimited) as raised:
        client.projects.get(1)
    assert raised.value.retry_after == 3600 and raised.value.code == "rate_limited" and waits == []


@pytest.mark.parametrize("status, body, kind, code, param", [
    # the current shape: the code and param come from the body
    (409, {"status": 409, "type": "conflict", "code": "project_not_open", "message": "m", "param": None,
           "errors": {}, "request_id": "r-1"}, Conflict, "project_not_open", None),
    (402, {"status": 402, "type": "payment", "code": "insufficient_escrow", "message": "m", "param": "amount_cents",
           "errors": {"amount_cents": ["needs 5"]}, "request_id": "r-2"}, PaymentRequired, "insufficient_escrow",
     "amount_cents"),
    # the older shape: `code` is the status, so it is derived; param from the first failing field
    (404, {"code": 404, "status": "Not Found", "message": "No such project.", "errors": {}}, NotFound, "not_found", None),
    (422, {"code": 422, "status": "Unprocessable Entity", "message": "m",
           "errors": {"json": {"tasks": {"3": {"data": ["must be a JSON object"]}}}}}, BadRequest, "invalid_field",
     "tasks.3.data"),
    (401, {"code": 401, "status": "Unauthorized", "message": "m", "errors": {}}, AuthenticationError,
     "unauthenticated", None),
    (418, {"message": "teapot"}, ApiError, "i_m_a_teapot", None),
])
def test_errors_are_typed_with_a_string_code_in_either_body_shape(status, body, kind, code, param):
    client, _, _ = scripted(httpx.Response(status, json=body, headers={"X-Request-Id": "from-header"}))
    with pytest.raises(kind) as raised:
        client.projects.get(1)
    error = raised.value
    assert type(error) is kind and error.status == status and error.code == code and error.param == param
    assert error.request_id == body.get("request_id", "from-header")
    assert error.message == body["message"] and code in str(error)


def test_the_base_url_may_name_the_api_root_or_the_server():
    for base in ("https://labels.example.com", "https://labels.example.com/", "https://labels.example.com/api/v1"):
        assert Client(base).base_url == "https://labels.example.com/api/v1"
