"""Global reputations of many annotators in three queries, not three per annotator.

The same estimate as quality.eligibility.reputation_of (the recompute's reported gold record,
recency-weighted, with rejections that stood through their dispute window as failed checks),
batched for a report's histogram.
"""
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from marketplace.assignments.models import REJECTED, Assignment
from marketplace.disputes.models import OPEN, Dispute
from marketplace.disputes.services import window
from marketplace.extensions import db
from marketplace.quality import trust
from marketplace.quality.models import AnnotatorStats


def of_annotators(annotator_ids: list[int], now: datetime) -> dict[int, float]:
    """Each annotator's reputation (posterior mean of gold accuracy across projects)."""
    if not annotator_ids:
        return {}
    records: dict[int, list] = {a: [] for a in annotator_ids}
    for row in db.session.execute(
            select(AnnotatorStats.annotator_id, AnnotatorStats.reported_gold_correct,
                   AnnotatorStats.reported_gold_seen, AnnotatorStats.updated_at)
            .where(AnnotatorStats.annotator_id.in_(annotator_ids), AnnotatorStats.reported_gold_seen > 0)):
        records[row[0]].append(tuple(row[1:]))
    open_disputes = select(Dispute.assignment_id).where(Dispute.status == OPEN)
    for annotator_id, rejected, last in db.session.execute(
            select(Assignment.annotator_id, func.count(), func.max(Assignment.rejected_at))
            .where(Assignment.annotator_id.in_(annotator_ids), Assignment.status == REJECTED,
                   Assignment.rejected_at <= now - window(), Assignment.approved_at.is_(None),
                   Assignment.id.not_in(open_disputes))
            .group_by(Assignment.annotator_id)):
        records[annotator_id].append((0, rejected, last))
    half_life = current_app.config["REPUTATION_HALF_LIFE_DAYS"]
    return {a: trust.reputation(rows, now, half_life).mean for a, rows in records.items()}
