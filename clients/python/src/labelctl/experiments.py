"""A/B experiments inside a project: start with arms, read each arm's figures and the verdict, stop."""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource


class Experiments(Resource):
    def start(self, project_id: int, name: str, arms: Sequence[Mapping[str, Any]], *, unit: str = "annotator",
              idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Start an experiment; each arm says what differs (guideline_version, reward_cents, qualification_id,
        answers_per_task with unit="task") and its weight."""
        body = {"name": name, "unit": unit, "arms": [dict(arm) for arm in arms]}
        return cast(dict, self._http.request("POST", f"/projects/{project_id}/experiments", json=body,
                                             idempotency_key=idempotency_key))

    def list(self, project_id: int, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._http.pages(f"/projects/{project_id}/experiments", page_size=page_size)

    def get(self, project_id: int, experiment_id: int) -> dict[str, Any]:
        """Per arm: gold accuracy with its interval, agreement, answers per task, cost, throughput; the verdict."""
        return cast(dict, self._http.request("GET", f"/projects/{project_id}/experiments/{experiment_id}"))

    def stop(self, project_id: int, experiment_id: int, *, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        return cast(dict, self._http.request("POST", f"/projects/{project_id}/experiments/{experiment_id}/stop",
                                             idempotency_key=idempotency_key))
