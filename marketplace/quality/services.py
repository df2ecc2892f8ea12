"""Quality control at submission: score gold, keep trust counters, fire rules, block and reject."""
import statistics
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from marketplace import pseudonyms
from marketplace.approvals import services as approvals
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import upsert
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.quality import rules as _rules
from marketplace.quality import trust
from marketplace.quality.models import AnnotatorStats, QualityAction
from marketplace.quality.store import FRESH


@dataclass(frozen=True)
class Feedback:
    correct: bool
    explanation: str | None
    expected: object


def stats_row(*, annotator_id: int, project_id: int, lock: bool = True) -> AnnotatorStats:
    """Return (creating if needed) the annotator's stats row in a project, locked for update."""
    db.session.execute(
        upsert(AnnotatorStats.__table__)
        .values(annotator_id=annotator_id, project_id=project_id, **FRESH, created_at=func.now(), updated_at=func.now())
        .on_conflict_do_nothing(index_elements=["annotator_id", "project_id"])
    )
    query = select(AnnotatorStats).where(AnnotatorStats.annotator_id == annotator_id,
                                         AnnotatorStats.project_id == project_id)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query.execution_options(populate_existing=True))




def count_review(*, reviewer_id: int, project_id: int, agrees: bool) -> None:
    """Count a reviewer's decision checked against the inferred truth in their trust on the project."""
    stats = stats_row(annotator_id=reviewer_id, project_id=project_id)
    stats.reviews_checked += 1
    stats.reviews_agreed += int(agrees)


def checkpoint_metrics(*, counters, annotator_id: int, project_id: int, rules: list, gold_answered: bool,
                       duration_ms: int, recent_durations: list[int] | None = None,
                       checkpoint: bool | None = None) -> dict:
    """What the project's rules are judged on after this answer: {metric: (value, evidence)}, or {} where
    they are not judged.

    What follows an answer must not tell whether it was gold. So the rules are never evaluated on a
    gold answer, only on ordinary answers picked as checkpoints by a keyed hash of the answer count
    (one in QUALITY_CHECK_EVERY on average, a secret sequence per annotator and project): an effect
    shows a random number of answers after the answer that tipped it. The periodic recompute
    evaluates every rule for everyone too. `counters`: the annotator's trust counters after the
    answer; `checkpoint`: the caller's own decision, taken before the answer was written (None: decided here).
    """
    if not rules or counters.blocked or gold_answered:
        return {}
    if not (is_checkpoint(annotator_id, project_id, counters.answers) if checkpoint is None else checkpoint):
        return {}
    metrics = {}
    if _needs(rules, _rules.GOLD_LOWER_BOUND, counters.gold_seen):
        metrics[_rules.GOLD_LOWER_BOUND] = (trust.gold_accuracy(counters.gold_correct, counters.gold_seen).lower_bound,
                                            counters.gold_seen)
    if _needs(rules, _rules.MEDIAN_TIME, counters.answers):
        if recent_durations is None:  # this answer is already written: it is among the latest
            window = recent_answer_times(annotator_id=annotator_id, project_id=project_id, limit=_rules.MEDIAN_WINDOW)
        else:  # read with the write, so from before it
            window = [duration_ms, *recent_durations]
        metrics[_rules.MEDIAN_TIME] = (statistics.median(window) / 1000.0, counters.answers)
    return metrics


def rejects_answers(rules: list, metrics: dict) -> bool:
    """Whether judging `metrics` blocks the annotator by a rule that rejects their answers awaiting a decision."""
    return any(firing.rule["action"] == _rules.BLOCK and firing.rule.get("reject_answers")
               for firing in _rules.evaluate(rules, metrics))


def check_rules(*, metrics: dict, annotator_id: int, project_id: int, rules: list, now: datetime) -> None:
    """Carry out what the rules judged on `metrics` (checkpoint_metrics) fire; the stats row is loaded and
    locked only if one does."""
    if metrics and _rules.evaluate(rules, metrics):
        stats = stats_row(annotator_id=annotator_id, project_id=project_id)
        apply_rules(stats=stats, project=db.session.get(Project, project_id), metrics=metrics, now=now)


def is_checkpoint(annotator_id: int, project_id: int, answers: int) -> bool:
    """Is the annotator's `answers`-th answer in the project one where the rules are evaluated?"""
    every = current_app.config["QUALITY_CHECK_EVERY"]
    return every <= 1 or pseudonyms.keyed_fraction(f"rule-check:{annotator_id}:{project_id}:{answers}") < 1 / every


def _needs(rules: list, metric: str, evidence: int) -> bool:
    return any(rule["metric"] == metric and evidence >= rule["min_count"] for rule in rules)


def recent_answer_times(*, annotator_id: int, project_id: int, limit: int) -> list[int]:
    """Durations (ms) of the annotator's latest answers in a project, newest task first."""
    return list(db.session.scalars(
        select(Assignment.duration_ms)
        .where(Assignment.annotator_id == annotator_id, Assignment.project_id == project_id,
               Assignment.status == SUBMITTED, Assignment.duration_ms.is_not(None))
        .order_by(Assignment.task_id.desc()).limit(limit)
    ))


def all_metrics(stats: AnnotatorStats, rules: list) -> dict:
    """Every metric the rules may use, for the periodic recompute."""
    metrics = {_rules.GOLD_LOWER_BOUND: (trust.gold_accuracy(stats.gold_correct, stats.gold_seen).lower_bound,
                                         stats.gold_seen)}
    if any(rule["metric"] == _rules.MEDIAN_TIME for rule in rules):
        durations = recent_answer_times(annotator_id=stats.annotator_id, project_id=stats.project_id,
                                        limit=_rules.MEDIAN_WINDOW)
        if durations:
            metrics[_rules.MEDIAN_TIME] = (statistics.median(durations) / 1000.0, stats.answers)
    if stats.agreement is not None:
        metrics[_rules.AGREEMENT] = (stats.agreement, stats.agreement_answers)
    return metrics


def apply_rules(*, stats: AnnotatorStats, project: Project, metrics: dict, now: datetime) -> list[_rules.Firing]:
    """Evaluate the project's rules for one annotator and carry out what fires."""
    fired = _rules.evaluate(project.quality_rules, metrics)
    for firing in fired:
        if firing.rule["action"] == _rules.BLOCK and not stats.blocked:
            block(stats=stats, project=project, reason=firing.reason, rule=firing.rule, value=firing.value,
                  reject_answers=firing.rule.get("reject_answers", False), now=now)
        elif firing.rule["action"] == _rules.DOWNWEIGHT and stats.weight > firing.rule["weight"]:
            stats.weight = firing.rule["weight"]
            _record(stats.annotator_id, project.id, "downweight", firing.reason, firing.rule, firing.value, now)
    return fired


def block(*, stats: AnnotatorStats, project: Project, reason: str, now: datetime, rule: dict | None = None,
          value: float | None = None, reject_answers: bool = False, actor_id: int | None = None) -> None:
    """Stop an annotator from leasing in a project, optionally rejecting their unapproved answers."""
    stats.blocked = True
    stats.blocked_reason = reason
    _record(stats.annotator_id, project.id, "block", reason, rule, value, now, actor_id)
    if reject_answers:
        count = reject_unapproved(annotator_id=stats.annotator_id, project=project, now=now, reason=reason)
        _record(stats.annotator_id, project.id, "reject_answers", f"{count} answer(s) rejected: {reason}",
                rule, value, now, actor_id)


def reject_unapproved(*, annotator_id: int, project: Project, now: datetime, reason: str = "") -> int:
    """Reject an annotator's pending answers on a project (money back to escrow) and reopen those task slots."""
    ids = approvals.pending_ids(project_id=project.id, annotator_id=annotator_id, limit=10**9)
    why = f"Rejected by the project's quality rules: {reason or 'the annotator was blocked'}."
    return approvals.reject(project=project, ids=ids, category="quality_rule", reason=why, actor_id=None, now=now)


def _record(annotator_id, project_id, action, reason, rule, value, now, actor_id=None) -> None:
    db.session.add(QualityAction(annotator_id=annotator_id, project_id=project_id, action=action, reason=reason,
                                 rule=rule, value=value, actor_id=actor_id, created_at=now))
