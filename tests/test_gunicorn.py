"""The real gunicorn with gunicorn.conf.py: what it refuses itself still comes back in the one JSON error shape."""
import json
import socket

import pytest

from tests import real_gunicorn


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    with real_gunicorn.running(tmp_path_factory.mktemp("gunicorn") / "app.db") as port:
        yield port


@pytest.mark.parametrize("raw, status", [
    (b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Probe: a\x00b\r\n\r\n", 400),  # a NUL in a header value
    (b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX Probe: 1\r\n\r\n", 400),  # a space in a header name
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # a request line past the limit
])
def test_requests_gunicorn_refuses_get_the_json_error_shape(gunicorn, raw, status):
    response = _exchange(gunicorn, raw)
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
    assert b"Content-Type: application/json" in head
    body = json.loads(payload)
    assert body["status"] == status and body["code"] and body["errors"] == {} and body["message"]


def test_the_app_answers_behind_the_same_config(gunicorn):
    head, _, payload = _exchange(gunicorn, b"GET /api/v1/nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                 ).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ") and json.loads(payload)["code"] == "not_found"
