"""Helpers for quality tests: projects with gold, and leasing a gold or an ordinary task on demand."""
import random

from marketplace.assignments import services as assignments
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.tasks.models import GOLD
from tests.factories import TaskFactory, open_project


class Always(random.Random):
    """An rng whose draw is fixed: 0.0 always takes gold, 0.999 never does."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def random(self):
        return self.value


GOLD_DRAW = Always(0.0)
LIVE_DRAW = Always(0.999)


def gold_project(tasks: int = 4, gold: int = 3, **fields):
    """An open project with ordinary tasks and `gold` gold tasks whose answer is 'cat'."""
    project = open_project(tasks=tasks, gold_rate=0.2, **fields)
    for i in range(gold):
        TaskFactory(project_id=project.id, external_id=f"g{i}", status=GOLD, gold_answer={"label": "cat"},
                    gold_explanation="Whiskers and pointy ears.", data={"text": f"item {i}"})
    project.gold_count = gold
    db.session.flush()
    return project


def force_draw(monkeypatch, draw: random.Random) -> None:
    """Make the next leases through the API take (or skip) gold."""
    monkeypatch.setitem(assignments.lease_next_task.__kwdefaults__, "rng", draw)


def lease_now(project, annotator, draw):
    """Lease through the service with a fixed gold draw."""
    return assignments.lease_next_task(project_id=project.id, annotator=annotator, now=utcnow(), rng=draw)
