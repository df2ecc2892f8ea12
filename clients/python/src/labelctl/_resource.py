"""The base of every group of calls (`client.projects`, `client.webhooks`, ...)."""
from __future__ import annotations

from labelctl._http import Http


class Resource:
    """Calls of one area of the API, sharing the client's HTTP layer."""

    def __init__(self, http: Http) -> None:
        self._http = http
