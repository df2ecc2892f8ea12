"""Submitting an answer: the hot path after leasing, kept to a few narrow statements.

One read of the assignment with what the answer needs of its project and task, then (on PostgreSQL)
one statement that submits it only if it is still a live lease, counts the answer on its task
(closing the task when full) and in the annotator's trust counters. No row is locked before that
conditional update: two racing submissions of one assignment cannot both match `status = 'leased'`.
The statements, per dialect, are in answer_store.py; this module holds the rules around them.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update

from marketplace import labels, metrics
from marketplace.accounts.models import Account
from marketplace.assignments import answer_store
from marketplace.assignments.models import EXPIRED, LEASED, SKIPPED, SUBMITTED, Assignment
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.extensions import db
from marketplace.payments import escrow
from marketplace.projects.models import OPEN as PROJECT_OPEN
from marketplace.quality import services as quality
from marketplace.results import closing, policy
from marketplace.results.jobs import RECOMPUTE_IF_DUE
from marketplace.tasks import store as tasks_store
from marketplace.tasks.models import CLOSED


class LeaseExpired(Conflict):
    """The lease ran out before the answer came; the slot is returned, so this change is kept."""

    code = "lease_expired"
    keeps_changes = True


@dataclass(frozen=True)
class Submission:
    """A submitted answer as the annotator sees it, and the gold feedback it earned, if any."""

    id: int
    project_id: int
    task_id: int
    annotator_id: int
    status: str
    leased_at: datetime
    expires_at: datetime
    submitted_at: datetime
    answer: dict
    duration_ms: int
    guideline_version: int
    feedback: quality.Feedback | None


def submit_answer(*, assignment_id: int, annotator: Account, answer, now: datetime) -> Submission:
    """Record the answer of a live lease; score gold; close the task when it has all its answers."""
    row = answer_store.context_row(assignment_id)
    if row is None or row.annotator_id != annotator.id:
        raise NotFound("No such assignment.")
    if row.status != LEASED:
        raise Conflict(f"This assignment is {row.status}; it takes no answer.", code="assignment_not_leased")
    if row.expires_at <= now:
        end_lease(assignment_id=row.id, task_id=row.task_id, is_gold=row.is_gold, status=EXPIRED, now=now)
        raise LeaseExpired("The lease expired before the answer arrived; the task went back to the pool.")
    if row.project_status != PROJECT_OPEN:
        raise Conflict(f"This project is {row.project_status}; it takes no answers.", code="project_not_open")
    try:
        clean = labels.validate_answer(row.label_schema, answer, row.task_data)
    except labels.LabelError as exc:
        raise field_error(exc.message, "answer", *exc.path)
    duration_ms = int((now - row.leased_at).total_seconds() * 1000)
    gold_correct = labels.agrees(row.label_schema, clean, row.gold_answer, row.task_data) if row.is_gold else None
    # An answer that closes its task, or that the redundancy policy judges, has work to do after the
    # write: it pays last, so that its escrow lane's row is held only for the payment and the commit.
    adaptive = row.target_confidence is not None and not row.is_gold
    follow_up = adaptive or (row.target_confidence is None and not row.is_gold and row.answer_count + 1 >= row.slot_limit)
    # A rule that rejects answers refunds them on their own escrow lanes: where such a rule fires (at a
    # checkpoint, decided here from the count read with the lease, not after the write) the answer first
    # takes the lanes of the annotator's pending answers, its own among them, so that it never waits for
    # another lane while it holds one. Finding those lanes reads every pending answer of the annotator,
    # so it is done only when the rule fires, not at every checkpoint.
    checkpoint = None
    if any(rule.get("reject_answers") for rule in row.quality_rules or ()):
        checkpoint = not row.is_gold and quality.is_checkpoint(annotator.id, row.project_id, row.annotator_answers + 1)
    follow_up = follow_up or bool(checkpoint)
    written = answer_store.write_answer(row, annotator.id, clean, duration_ms, gold_correct, now, pay_later=follow_up)
    if written is None:
        raise Conflict("This assignment was answered or ended a moment ago; it takes no answer.", code="assignment_not_leased")
    counters = written.counters
    done = 0
    finishing = None  # what closing needs of the project, built once if a task closes here
    if written.task_status == CLOSED:  # its result, announced and counted, commits with this answer
        finishing = closing.Closing.of(row)
        done += closing.finish(finishing, task_id=row.task_id, external_id=row.external_id, status=CLOSED, now=now)
        metrics.task_closed("redundancy")
    if adaptive:
        decided = policy.after_answer(project=policy.PolicyContext.of(row), task_id=row.task_id, now=now)
        metrics.policy_decided(decided.decision)
        done += decided.done
    judged = quality.checkpoint_metrics(counters=counters, annotator_id=annotator.id, project_id=row.project_id,
                                        rules=row.quality_rules, gold_answered=row.is_gold, duration_ms=duration_ms,
                                        recent_durations=getattr(counters, "recent_durations", None),
                                        checkpoint=checkpoint)
    if follow_up:
        if checkpoint and quality.rejects_answers(row.quality_rules, judged):
            escrow.lock_pending_lanes(project_id=row.project_id, currency=row.currency, annotator_id=annotator.id)
        answer_store.pay(row, annotator.id, now)
    # Besides the periodic sweep, a project recomputes once enough answers arrived (recompute.queue_if_due).
    RECOMPUTE_IF_DUE.after_commit(row.project_id)
    quality.check_rules(metrics=judged, annotator_id=annotator.id, project_id=row.project_id, rules=row.quality_rules,
                        now=now)
    if done:  # locks the progress row to the commit: last, after the escrow lane (paying, a rule's
        # rejection) in every closer, so that no two closers wait for each other
        closing.count_done(finishing or closing.Closing.of(row), done)
    feedback = None
    if gold_correct is False and row.gold_feedback:
        feedback = quality.Feedback(False, row.gold_explanation, labels.result_label(row.label_schema, row.gold_answer))
    return Submission(row.id, row.project_id, row.task_id, annotator.id, SUBMITTED, row.leased_at, row.expires_at,
                      now, clean, duration_ms, row.guideline_version, feedback)


def end_lease(*, assignment_id: int, task_id: int, is_gold: bool, status: str, now: datetime,
              skip_reason: str | None = None) -> bool:
    """End a live lease (released, skipped or expired) and give its slot back; False if it was no longer live."""
    ended = db.session.execute(
        update(Assignment).where(Assignment.id == assignment_id, Assignment.status == LEASED)
        .values(status=status, ended_at=now, skip_reason=skip_reason)
        .returning(Assignment.project_id, Assignment.reward_cents, Assignment.escrow_lane)
    ).first()
    skipped = status == SKIPPED
    if ended is not None and not is_gold:  # gold has no slots
        tasks_store.give_back_slot(task_id, skipped=skipped)
    elif ended is not None and skipped:
        tasks_store.count_skip(task_id)
    if ended is not None:
        escrow.release_lease_holds(project_id=ended.project_id, leases=[(ended.reward_cents, ended.escrow_lane)])
    return ended is not None
