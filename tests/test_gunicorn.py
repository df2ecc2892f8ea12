"""The real gunicorn with gunicorn.conf.py: what it refuses itself still comes back in the one JSON error shape."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(raw)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('gunicorn') / 'app.db'}",
           "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "-w", "1",
                             "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:  # readiness: the port accepts a connection (or gunicorn died)
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not start listening"
            time.sleep(0.05)
    yield port
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=15)


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
