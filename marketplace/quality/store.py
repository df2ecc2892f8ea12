"""annotator_stats' share of the submit statement: count an answer in the annotator's trust counters.

On PostgreSQL the submit statement embeds COUNT_ANSWER after marking the assignment submitted
(`done`); elsewhere count_answer() makes the same upsert. Both return the counters the rules read.
"""
from datetime import datetime

from marketplace.db import upsert
from marketplace.extensions import db
from marketplace.quality.models import AnnotatorStats

# The counters the rules read after an answer, and a new row's starting values.
COUNTERS = tuple(AnnotatorStats.__table__.c[name] for name in
                 ("answers", "gold_seen", "gold_correct", "agreement", "agreement_answers", "blocked"))
FRESH = dict(answers=0, duration_ms_total=0, gold_seen=0, gold_correct=0, agreement_answers=0, weight=1.0, blocked=False)

# Parameters: :annotator_id, :project_id, :duration_ms, :gold_seen, :gold_right, :now (count_params).
COUNT_ANSWER = """counters AS (
    INSERT INTO annotator_stats AS s (annotator_id, project_id, answers, duration_ms_total, gold_seen, gold_correct,
                                      agreement_answers, weight, blocked, created_at, updated_at)
    SELECT :annotator_id, :project_id, 1, :duration_ms, :gold_seen, :gold_right, 0, 1.0, false, :now, :now FROM done
    ON CONFLICT (annotator_id, project_id) DO UPDATE SET
        answers = s.answers + 1, duration_ms_total = s.duration_ms_total + :duration_ms,
        gold_seen = s.gold_seen + :gold_seen, gold_correct = s.gold_correct + :gold_right, updated_at = :now
    RETURNING s.answers, s.gold_seen, s.gold_correct, s.agreement, s.agreement_answers, s.blocked
)"""


def count_params(gold_correct: bool | None) -> dict:
    """COUNT_ANSWER's gold parameters (the others are the submit statement's own)."""
    gold_seen, right = (0, 0) if gold_correct is None else (1, int(gold_correct))
    return {"gold_seen": gold_seen, "gold_right": right}


def count_answer(*, annotator_id: int, project_id: int, duration_ms: int, gold_correct: bool | None, now: datetime):
    """Count a submitted answer in the annotator's trust counters (one upsert); return the counters."""
    gold_seen, right = (0, 0) if gold_correct is None else (1, int(gold_correct))
    table = AnnotatorStats.__table__
    insert = upsert(table).values(
        annotator_id=annotator_id, project_id=project_id, **{**FRESH, "answers": 1, "duration_ms_total": duration_ms,
                                                            "gold_seen": gold_seen, "gold_correct": right},
        created_at=now, updated_at=now,
    )
    return db.session.execute(
        insert.on_conflict_do_update(
            index_elements=["annotator_id", "project_id"],
            set_={"answers": table.c.answers + 1, "duration_ms_total": table.c.duration_ms_total + duration_ms,
                  "gold_seen": table.c.gold_seen + gold_seen, "gold_correct": table.c.gold_correct + right,
                  "updated_at": now},
        ).returning(*COUNTERS)
    ).one()
