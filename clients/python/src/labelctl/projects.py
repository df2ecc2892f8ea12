"""Projects: create, read, page, change, publish/pause/resume/close, money in escrow, progress."""
from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource
from labelctl.types import Escrow, Funding, Project, ProjectStats, Recompute

# A project in one of these states will not move on by itself.
SETTLED = frozenset({"completed", "closed", "draft"})


@dataclass(frozen=True)
class Progress:
    """A snapshot of a project's progress: its counters, status, escrow and crowd figures."""

    project: Project
    stats: ProjectStats = field(default_factory=lambda: cast(ProjectStats, {}))

    @property
    def status(self) -> str:
        return self.project.get("status", "")

    @property
    def tasks(self) -> int:
        return self.project.get("task_count", 0)

    @property
    def closed_tasks(self) -> int:
        return self.project.get("closed_task_count", 0)

    @property
    def fraction(self) -> float:
        """Share of the project's (non-gold) tasks closed, 0 to 1."""
        return self.closed_tasks / self.tasks if self.tasks else 0.0

    @property
    def settled(self) -> bool:
        """Completed, closed, or a draft: nothing changes until someone acts."""
        return self.status in SETTLED

    def as_dict(self) -> dict[str, Any]:
        """A flat summary, for printing."""
        escrow = self.project.get("escrow") or {}
        agreement = self.stats.get("agreement") or {}
        return {
            "project_id": self.project.get("id"), "name": self.project.get("name"), "status": self.status,
            "tasks": self.tasks, "closed_tasks": self.closed_tasks, "percent_done": round(100 * self.fraction, 1),
            "gold_tasks": self.project.get("gold_count", 0), "annotators": self.stats.get("annotators"),
            "krippendorff_alpha": agreement.get("krippendorff_alpha"),
            "blocked_annotators": len(self.stats.get("blocked_annotators") or []),
            "escrow_cents": escrow.get("escrow_cents"), "escrow_free_cents": escrow.get("escrow_free_cents"),
            "currency": self.project.get("currency"),
        }


class Projects(Resource):
    def create(self, project: Mapping[str, Any] | None = None, *, idempotency_key: IdempotencyKey = None,
               **fields: Any) -> Project:
        """Create a draft project from a dict of fields (name, label_schema, reward_cents, ...) and/or keywords."""
        body = {**(project or {}), **fields}
        return cast(Project, self._http.request("POST", "/projects", json=body, idempotency_key=idempotency_key))

    def get(self, project_id: int) -> Project:
        """Read one project."""
        return cast(Project, self._http.request("GET", f"/projects/{project_id}"))

    def list(self, *, status: str | None = None, page_size: int = 100) -> Iterator[Project]:
        """Every project you may see (yours; an annotator: those open to them), following the cursor."""
        return cast(Iterator[Project], self._http.pages("/projects", {"status": status}, page_size=page_size))

    def update(self, project_id: int, changes: Mapping[str, Any] | None = None, *,
               idempotency_key: IdempotencyKey = None, **fields: Any) -> Project:
        """Change fields of a draft project."""
        body = {**(changes or {}), **fields}
        return cast(Project, self._http.request("PATCH", f"/projects/{project_id}", json=body,
                                                idempotency_key=idempotency_key))

    def _transition(self, project_id: int, action: str, key: IdempotencyKey) -> Project:
        return cast(Project, self._http.request("POST", f"/projects/{project_id}/{action}", idempotency_key=key))

    def publish(self, project_id: int, *, idempotency_key: IdempotencyKey = None) -> Project:
        """Publish a draft: its worst-case cost moves from your balance into escrow (402 if it cannot)."""
        return self._transition(project_id, "publish", idempotency_key)

    def pause(self, project_id: int, *, idempotency_key: IdempotencyKey = None) -> Project:
        """Stop handing out tasks for a while."""
        return self._transition(project_id, "pause", idempotency_key)

    def resume(self, project_id: int, *, idempotency_key: IdempotencyKey = None) -> Project:
        """Hand out tasks again after a pause."""
        return self._transition(project_id, "resume", idempotency_key)

    def close(self, project_id: int, *, idempotency_key: IdempotencyKey = None) -> Project:
        """Close for good; what is left in escrow comes back to your balance."""
        return self._transition(project_id, "close", idempotency_key)

    def escrow(self, project_id: int) -> Escrow:
        """The project's escrow: balance, reserved, free, and what one answer costs."""
        return cast(Escrow, self._http.request("GET", f"/projects/{project_id}/escrow"))

    def top_up(self, project_id: int, amount_cents: int | None = None, *,
               idempotency_key: IdempotencyKey = None) -> Escrow:
        """Move money from your balance into the project's escrow (None: up to its worst-case cost)."""
        return cast(Escrow, self._http.request("POST", f"/projects/{project_id}/escrow",
                                               json={"amount_cents": amount_cents}, idempotency_key=idempotency_key))

    def fund(self, project_id: int, amount_cents: int, *, currency: str | None = None,
             idempotency_key: str | None = None) -> tuple[Funding, Escrow | None]:
        """Add money for a project: a funding to your balance, then (open or paused projects) into its escrow.

        A draft's money stays in your balance until `publish` escrows the worst case. In ledger-only
        mode the funding succeeds at once; with Stripe it waits for the payment (`client_secret`)
        and nothing is moved into escrow here. One key (yours or a new one) covers both steps.
        """
        project = self.get(project_id)
        key = idempotency_key or str(uuid.uuid4())
        funding = cast(Funding, self._http.request(
            "POST", "/payments/fundings", json={"amount_cents": amount_cents,
                                                "currency": currency or project.get("currency", "usd")},
            idempotency_key=f"{key}-funding"))
        if funding.get("status") != "succeeded" or project.get("status") not in ("open", "paused"):
            return funding, None
        return funding, self.top_up(project_id, amount_cents, idempotency_key=f"{key}-escrow")

    def stats(self, project_id: int) -> ProjectStats:
        """Agreement, gold accuracy distribution and blocked annotators."""
        return cast(ProjectStats, self._http.request("GET", f"/projects/{project_id}/stats"))

    def annotators(self, project_id: int) -> builtins.list[dict[str, Any]]:
        """Per-annotator figures under pseudonyms (one unpaged list)."""
        return cast(builtins.list[dict[str, Any]], self._http.request("GET", f"/projects/{project_id}/annotators")["items"])

    def progress(self, project_id: int) -> Progress:
        """The project's counters and crowd figures now."""
        return Progress(project=self.get(project_id), stats=self.stats(project_id))

    def watch(self, project_id: int, *, interval_s: float = 5.0, timeout_s: float | None = None,
              sleep: Callable[[float], None] = time.sleep) -> Iterator[Progress]:
        """Yield progress every `interval_s` until the project is settled (completed, closed, or a draft) or time is up."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            snapshot = self.progress(project_id)
            yield snapshot
            if snapshot.settled or (deadline is not None and time.monotonic() + interval_s > deadline):
                return
            sleep(interval_s)

    def questions(self, project_id: int, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """The project's task questions, newest first (annotators: the answered ones)."""
        return self._http.pages(f"/projects/{project_id}/questions", page_size=page_size)

    def answer_question(self, question_id: int, answer: str, *, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Answer a task question on your project (once): every annotator of the project can read it."""
        return cast(dict, self._http.request("POST", f"/questions/{question_id}/answer", json={"answer": answer},
                                             idempotency_key=idempotency_key))

    def promote_question(self, question_id: int, *, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Add an answered task question to the instructions, as a new minor guideline version."""
        return cast(dict, self._http.request("POST", f"/questions/{question_id}/promote",
                                             idempotency_key=idempotency_key))

    def recompute(self, project_id: int, *, idempotency_key: IdempotencyKey = None) -> Recompute:
        """Queue a recompute of the truth model, results and trust."""
        return cast(Recompute, self._http.request("POST", f"/projects/{project_id}/recompute",
                                                  idempotency_key=idempotency_key))

    def report(self, project_id: int, *, format: str = "html") -> Any:
        """The project's quality report: a self-contained HTML page (str), or its figures (dict) with format="json"."""
        if format == "json":
            return self._http.request("GET", f"/projects/{project_id}/report", params={"format": "json"})
        with self._http.stream("GET", f"/projects/{project_id}/report", params={"format": format},
                               accept="text/html") as response:
            response.read()
            return response.text

    def forecast(self, project_id: int) -> dict[str, Any]:
        """When the project will finish and what it will cost (90% intervals), and whether its money lasts."""
        return cast(dict, self._http.request("GET", f"/projects/{project_id}/forecast"))

    def recompute_status(self, project_id: int) -> Recompute:
        """The latest recompute: status, progress, the model it chose."""
        return cast(Recompute, self._http.request("GET", f"/projects/{project_id}/recompute"))

