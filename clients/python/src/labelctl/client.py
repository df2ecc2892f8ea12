"""`Client`: the API's calls grouped by area, over one HTTP connection pool.

    client = Client("https://labels.example.com", api_key="mk_...")
    project = client.projects.create(name="Pets", label_schema={...}, reward_cents=3)
    client.tasks.import_file(project["id"], "tasks.jsonl", on_progress=print)
    client.projects.fund(project["id"], 5_000)
    client.projects.publish(project["id"])
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import httpx

from labelctl._http import Http, Retries
from labelctl.accounts import Accounts, ApiKeys
from labelctl.assignments import Assignments
from labelctl.experiments import Experiments
from labelctl.jobs import Exports, Imports
from labelctl.payments import Payments
from labelctl.projects import Projects
from labelctl.results import Results
from labelctl.tasks import Tasks
from labelctl.teams import Teams
from labelctl.types import Token
from labelctl.webhooks import Webhooks

DEFAULT_URL = "http://localhost:8000"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class Client:
    """The marketplace API. `base_url` is the server's root (`/api/v1` is added unless present).

    Authenticate with an `api_key` or a login `token` (both are bearers), or call
    `client.login(email, password)`. `transport` replaces the network (tests pass
    `httpx.WSGITransport(app=flask_app)`); `retries` bounds how failed calls are repeated; with
    `idempotency=False` no call sends an Idempotency-Key unless given one.
    """

    def __init__(self, base_url: str = DEFAULT_URL, api_key: str | None = None, token: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
                 retries: Retries | None = None, idempotency: bool = True) -> None:
        if api_key and token:
            raise ValueError("pass api_key or token, not both")
        self._http = Http(base_url, bearer=api_key or token, transport=transport, timeout=timeout,
                          retries=retries or Retries(), idempotency=idempotency)
        self.accounts = Accounts(self._http)
        self.api_keys = ApiKeys(self._http)
        self.projects = Projects(self._http)
        self.tasks = Tasks(self._http)
        self.payments = Payments(self._http)
        self.results = Results(self._http)
        self.webhooks = Webhooks(self._http)
        self.assignments = Assignments(self._http)
        self.exports = Exports(self._http)
        self.imports = Imports(self._http)
        self.teams = Teams(self._http)
        self.experiments = Experiments(self._http)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 transport: httpx.BaseTransport | None = None) -> Self:
        """A client configured by LABELCTL_URL and LABELCTL_API_KEY."""
        env = os.environ if environ is None else environ
        return cls(env.get("LABELCTL_URL") or DEFAULT_URL, api_key=env.get("LABELCTL_API_KEY") or None,
                   transport=transport)

    @property
    def base_url(self) -> str:
        """The API root the client calls (ends in /api/v1)."""
        return self._http.base_url

    @property
    def authenticated(self) -> bool:
        return bool(self._http.bearer)

    def use_credential(self, bearer: str | None) -> None:
        """Send this API key or token from now on (None: none)."""
        self._http.bearer = bearer

    def login(self, email: str, password: str) -> Token:
        """Log in and use the token from now on."""
        return self.accounts.login(email, password, use=True)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
