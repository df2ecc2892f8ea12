"""Fixtures of the import/export job tests: a project with results, small chunks, a local file server."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace.extensions import db
from marketplace.results.models import Result
from tests.factories import ProjectFactory, RequesterFactory, TaskFactory, bearer
from tests.webhooks.conftest import dns, local_targets  # noqa: F401 (fixtures: a controlled resolver, loopback targets)


@pytest.fixture
def small_chunks(app):
    """Chunks small enough that a few hundred rows cross many of them (file chunks and row chunks)."""
    saved = {k: app.config[k] for k in ("TRANSFER_CHUNK_BYTES", "TRANSFER_IMPORT_CHUNK_ROWS")}
    app.config.update(TRANSFER_CHUNK_BYTES=1000, TRANSFER_IMPORT_CHUNK_ROWS=7)
    yield app
    app.config.update(saved)


@pytest.fixture
def requester():
    return RequesterFactory()


@pytest.fixture
def project(requester):
    return ProjectFactory(requester_id=requester.id)


@pytest.fixture
def headers(requester):
    return bearer(requester)


def with_results(project, count: int) -> list[int]:
    """Give a project `count` closed tasks with results; returns their task ids."""
    ids = []
    for i in range(count):
        task = TaskFactory(project_id=project.id, external_id=f"r{i:04d}", status="closed", data={"text": f"item {i} é"})
        db.session.add(Result(task_id=task.id, project_id=project.id, label="cat", confidence=0.9 + i / 10_000,
                              method="mv", answer_count=3))
        ids.append(task.id)
    db.session.flush()
    return ids


class FileServer:
    """Serves `files` ({path: bytes}) over http on 127.0.0.1; anything else is a 404."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.stop()
