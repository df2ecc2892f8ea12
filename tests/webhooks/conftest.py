"""Webhook fixtures: a real HTTP receiver on 127.0.0.1, a fake resolver, and switches for local targets.

No test sends traffic anywhere but 127.0.0.1: names resolve through `dns`, and the SSRF guard
refuses everything else before a socket opens.
"""
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from marketplace import queue
from marketplace.db import utcnow
from marketplace.webhooks import services, targets
from tests.factories import ProjectFactory, RequesterFactory

HANG = "hang"


@dataclass
class Receiver:
    """Answers each request with the next planned status (200 when the plan is empty) and keeps what it got."""

    server: ThreadingHTTPServer
    plan: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hung: threading.Event = field(default_factory=threading.Event)  # set when a HANG request arrives

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook", host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status = receiver.plan.pop(0) if receiver.plan else 200
            if status == HANG:
                receiver.hung.set()
                receiver.release.wait(10)  # bounded: released at teardown
                return
            self.send_response(status)
            self.end_headers()
            self.wfile.write(json.dumps({"got": status}).encode())

        def log_message(self, *args):
            pass

    return Handler


def serve(wrap=None) -> Receiver:
    """Start a receiver thread on 127.0.0.1 (optionally with TLS: `wrap` wraps the listening socket)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    server.daemon_threads = True
    receiver = Receiver(server=server)
    server.RequestHandlerClass = _handler(receiver)
    if wrap:
        server.socket = wrap(server.socket)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return receiver


def stop(receiver: Receiver) -> None:
    receiver.release.set()
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def receiver():
    started = serve()
    yield started
    stop(started)


@pytest.fixture
def local_targets(app):
    """Allow http:// and loopback targets, as tests and local development may; restored after."""
    saved = {k: app.config[k] for k in ("WEBHOOKS_ALLOW_HTTP", "WEBHOOKS_ALLOW_PRIVATE_TARGETS")}
    app.config.update(WEBHOOKS_ALLOW_HTTP=True, WEBHOOKS_ALLOW_PRIVATE_TARGETS=True)
    yield app
    app.config.update(saved)


@pytest.fixture
def dns(monkeypatch):
    """A resolver the test controls: {name: [addresses]}; unknown names do not resolve."""
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return table[host]

    monkeypatch.setattr(targets, "resolve_host", resolve)
    return table


@pytest.fixture
def requester():
    return RequesterFactory()


@pytest.fixture
def project(requester):
    return ProjectFactory(requester_id=requester.id)


def endpoint_for(requester, url: str, events=("task.completed",), project_id=None):
    """Register an endpoint through the service; returns (endpoint, secret)."""
    return services.register(account=requester, fields={"url": url, "events": list(events), "project_id": project_id})


def emitted(project, event="task.completed", payload=None, now=None) -> list[int]:
    """Emit an event without dispatching its jobs, so the test drives every attempt itself."""
    ids = services.emit(project_id=project.id, event=event, payload=payload or {"task_id": 1}, now=now or utcnow())
    queue.discard_pending()
    return ids
