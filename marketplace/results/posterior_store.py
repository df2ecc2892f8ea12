"""One task's answers for its posterior, read in one prepared statement on PostgreSQL (the closing path).

A task that closes reads its answers, each annotator's confusion matrix and gold record here and, for
an annotator with neither, the records of their global reputation (eligibility.reputations_of): the
gold results the recompute last reported in every project, and their final rejections (dispute window
over, not overturned, no dispute open). The portable path (SQLite, and many tasks at once, where one
batched reputation read beats one per answer) is results/posterior.py's SQLAlchemy pair of reads.
"""
from datetime import datetime

from marketplace.db import is_postgres, pg_all, pg_sql

_ANSWERS = pg_sql("""
SELECT a.task_id, a.annotator_id, a.answer, s.confusion, s.gold_seen, s.gold_correct,
       g.correct AS reported_correct, g.seen AS reported_seen, g.at AS reported_at,
       coalesce(r.rejections, 0) AS rejections, r.last_rejected
FROM assignments a
LEFT JOIN annotator_stats s ON s.annotator_id = a.annotator_id AND s.project_id = a.project_id
CROSS JOIN LATERAL (  -- posterior._needs_reputation: no matrix of this many classes, no gold seen here
    SELECT CASE WHEN jsonb_typeof(s.confusion) = 'array' THEN jsonb_array_length(s.confusion) END
               IS DISTINCT FROM :classes AND coalesce(s.gold_seen, 0) = 0 AS reputation
) needs
LEFT JOIN LATERAL (
    SELECT array_agg(x.reported_gold_correct) AS correct, array_agg(x.reported_gold_seen) AS seen,
           array_agg(x.updated_at) AS at
    FROM annotator_stats x
    WHERE x.annotator_id = a.annotator_id AND x.reported_gold_seen > 0
      AND needs.reputation
) g ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS rejections, max(j.rejected_at) AS last_rejected
    FROM assignments j
    WHERE j.annotator_id = a.annotator_id AND j.status = 'rejected' AND j.rejected_at <= :rejected_before
      AND j.approved_at IS NULL AND j.id NOT IN (SELECT d.assignment_id FROM disputes d WHERE d.status = 'open')
      AND needs.reputation
) r ON true
WHERE a.task_id = :task_id AND a.status = 'submitted' AND NOT a.is_gold
""")


def task_answers(*, task_id: int, classes: int, rejected_before: datetime) -> list | None:
    """The task's answer rows with their annotators' records (PostgreSQL), or None: read them the portable way.

    Rows: task_id, annotator_id, answer, confusion, gold_seen, gold_correct; and for an annotator
    with no matrix of `classes` classes and no gold seen here, reported_correct/seen/at (arrays, NULL
    when none) and rejections with last_rejected (final rejections up to `rejected_before`).
    """
    if not is_postgres():
        return None
    return pg_all(_ANSWERS, {"task_id": task_id, "classes": classes, "rejected_before": rejected_before})
