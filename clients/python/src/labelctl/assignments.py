"""The annotator's side: lease the next task of a project, answer it or give it back, list assignments."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource
from labelctl.types import Assignment, Lease


class Assignments(Resource):
    def lease(self, project_id: int, *, idempotency_key: IdempotencyKey = None) -> Lease:
        """Lease the next task of an open project (NotFound when none is left for you)."""
        return cast(Lease, self._http.request("POST", f"/projects/{project_id}/assignments",
                                              idempotency_key=idempotency_key))

    def answer(self, assignment_id: int, answer: Any, *, idempotency_key: IdempotencyKey = None) -> Assignment:
        """Submit the answer of a live lease (checked against the project's label schema)."""
        return cast(Assignment, self._http.request("POST", f"/assignments/{assignment_id}/answer",
                                                   json={"answer": answer}, idempotency_key=idempotency_key))

    def ask(self, assignment_id: int, question: str, *, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Ask the requester about the task of this assignment; the answer is shared with the project's crowd."""
        return cast(dict, self._http.request("POST", f"/assignments/{assignment_id}/questions",
                                             json={"question": question}, idempotency_key=idempotency_key))

    def release(self, assignment_id: int, *, idempotency_key: IdempotencyKey = None) -> Assignment:
        """Give a live lease back without answering."""
        return cast(Assignment, self._http.request("POST", f"/assignments/{assignment_id}/release",
                                                   idempotency_key=idempotency_key))

    def list(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Assignment]:
        """Your assignments, newest first."""
        return cast(Iterator[Assignment], self._http.pages("/assignments", {"status": status}, page_size=page_size))
