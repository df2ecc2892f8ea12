"""The feed's items, read from the tables that record them and merged newest first.

Each kind is one keyset query on its own table (the annotator's rows after the cursor, limit + 1),
and the pages merge in Python. Items are ordered by (time, kind, id), all descending, so items with
the same time (a bulk rejection stamps many at once) still page without gaps or repeats; the
cursor is that triple, opaque to clients.

Missed gold appears only on projects that tell annotators about it (`gold_feedback`), as in
GET /me/missed-gold: elsewhere the feed would reveal which tasks are gold.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, or_, select, true

from marketplace import pseudonyms
from marketplace.accounts.models import Account
from marketplace.approvals.models import Bonus
from marketplace.assignments.models import Assignment
from marketplace.disputes.models import Dispute
from marketplace.errors import ValidationFailed
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.tasks.models import Task

# In this order at equal times (and by id within a kind).
REJECTION, GOLD_MISS, DISPUTE, BONUS = "rejection", "gold_miss", "dispute", "bonus"
KINDS = (REJECTION, GOLD_MISS, DISPUTE, BONUS)


@dataclass(frozen=True)
class Cursor:
    at: datetime
    rank: int
    id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.at.isoformat()}|{self.rank}|{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            at, rank, id_ = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().split("|")
            cursor = cls(datetime.fromisoformat(at), int(rank), int(id_))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            cursor = None
        if cursor is None or cursor.at.tzinfo is None or not 0 <= cursor.rank < len(KINDS):
            raise ValidationFailed("Not a cursor this feed gave.", errors={"query": {"cursor": ["not a feed cursor"]}})
        return cursor


def feed(*, annotator: Account, kinds: list[str] | None, cursor: str | None, limit: int) -> dict:
    """One page of the annotator's feed: {items, next_cursor, has_more}."""
    after = Cursor.decode(cursor) if cursor else None
    found = []
    for kind in dict.fromkeys(kinds or KINDS):  # a kind named twice is read once
        found += _SOURCES[kind](annotator, after, limit)
    found.sort(key=lambda pair: (pair[0].at, pair[0].rank, pair[0].id), reverse=True)
    page = found[:limit]
    more = len(found) > limit
    return {"items": [item for _, item in page], "has_more": more,
            "next_cursor": page[-1][0].encode() if more and page else None}


def _after(at, id_, rank: int, cursor: Cursor | None):
    """Rows of this kind that come after the cursor in (time, kind, id) descending order."""
    if cursor is None:
        return true()
    tie = true() if rank < cursor.rank else (id_ < cursor.id if rank == cursor.rank else false())
    return or_(at < cursor.at, and_(at == cursor.at, tie))


def _rows(query, at, id_, kind: str, cursor: Cursor | None, limit: int):
    rank = KINDS.index(kind)
    return rank, db.session.execute(query.where(_after(at, id_, rank, cursor))
                                    .order_by(at.desc(), id_.desc()).limit(limit + 1)).all()


def _rejections(annotator: Account, cursor: Cursor | None, limit: int) -> list:
    rank, rows = _rows(select(Assignment).where(Assignment.annotator_id == annotator.id,
                                                Assignment.rejected_at.is_not(None)),
                       Assignment.rejected_at, Assignment.id, REJECTION, cursor, limit)
    return [(Cursor(a.rejected_at, rank, a.id), {
        **_base(REJECTION, a.rejected_at, a.project_id, a.id, a.task_id, annotator),
        "category": a.rejection_category, "reason": a.rejection_reason, "your_answer": a.answer}) for (a,) in rows]


def _gold_misses(annotator: Account, cursor: Cursor | None, limit: int) -> list:
    query = (select(Assignment, Task).join(Task, Task.id == Assignment.task_id)
             .join(Project, Project.id == Assignment.project_id)
             .where(Assignment.annotator_id == annotator.id, Assignment.is_gold, Assignment.gold_correct.is_(False),
                    Assignment.submitted_at.is_not(None), Project.gold_feedback))
    rank, rows = _rows(query, Assignment.submitted_at, Assignment.id, GOLD_MISS, cursor, limit)
    return [(Cursor(a.submitted_at, rank, a.id), {
        **_base(GOLD_MISS, a.submitted_at, a.project_id, a.id, a.task_id, annotator),
        "your_answer": a.answer, "expected": t.gold_answer, "reason": t.gold_explanation}) for a, t in rows]


def _disputes(annotator: Account, cursor: Cursor | None, limit: int) -> list:
    query = (select(Dispute, Assignment.task_id).join(Assignment, Assignment.id == Dispute.assignment_id)
             .where(Dispute.annotator_id == annotator.id, Dispute.resolved_at.is_not(None)))
    rank, rows = _rows(query, Dispute.resolved_at, Dispute.id, DISPUTE, cursor, limit)
    return [(Cursor(d.resolved_at, rank, d.id), {
        **_base(DISPUTE, d.resolved_at, d.project_id, d.assignment_id, task_id, annotator),
        "outcome": d.status, "reason": d.resolution_note}) for d, task_id in rows]


def _bonuses(annotator: Account, cursor: Cursor | None, limit: int) -> list:
    query = (select(Bonus, Assignment.task_id).join(Assignment, Assignment.id == Bonus.assignment_id)
             .where(Bonus.annotator_id == annotator.id))
    rank, rows = _rows(query, Bonus.created_at, Bonus.id, BONUS, cursor, limit)
    return [(Cursor(b.created_at, rank, b.id), {
        **_base(BONUS, b.created_at, b.project_id, b.assignment_id, task_id, annotator),
        "amount_cents": b.amount_cents, "currency": b.currency, "reason": b.reason}) for b, task_id in rows]


def _base(kind: str, at: datetime, project_id: int, assignment_id: int, task_id: int, annotator: Account) -> dict:
    return {"kind": kind, "at": at, "project_id": project_id, "assignment_id": assignment_id,
            "task_ref": pseudonyms.task_ref(task_id, annotator.id)}


_SOURCES = {REJECTION: _rejections, GOLD_MISS: _gold_misses, DISPUTE: _disputes, BONUS: _bonuses}
