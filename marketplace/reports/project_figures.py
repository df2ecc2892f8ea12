"""The figures of one project's quality report, aggregated in SQL; answer-level metrics on bounded samples.

Everything a large project has in proportion to its answers (per-day counts, the answers-per-task
histogram, costs, disputes) is a GROUP BY in the database. What needs the answers themselves
(agreement, the confusion matrix) reads at most AGREEMENT_SAMPLE of them, whole tasks spread over
the project's life (coded_sample), and says how many it read and whether it sampled.
"""
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import Text, cast, func, select

from marketplace import labels
from marketplace.approvals.models import Bonus
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import seconds_between, utc_day as day
from marketplace.disputes.models import OVERTURNED, UPHELD, Dispute
from marketplace.extensions import db
from marketplace.payments.escrow import answer_cost as escrow_answer_cost
from marketplace.payments.escrow import answer_spend
from marketplace.projects.models import Project
from marketplace.quality.models import AnnotatorStats
from marketplace.quality.reports import AGREEMENT_SAMPLE, agreement, categorical_agreement
from marketplace.reports import reputation
from marketplace.results.models import Result
from marketplace.tasks.models import CLOSED, ESCALATED, GOLD, Task

TOP_TASKS = 10
HISTOGRAM_BINS = 10
ANNOTATOR_SAMPLE = 2_000  # trust and reputation histograms read at most this many annotators
WEEKLY_AFTER_DAYS = 60  # agreement is bucketed by day up to this span of answers, by week beyond


def finite(value) -> float | None:
    """A float for JSON, or None where a metric is undefined (NaN, infinite, missing)."""
    if value is None:
        return None
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def iso_day(value) -> str:
    """A day as GROUP BY utc_day returned it (a date on PostgreSQL, text on SQLite), as YYYY-MM-DD."""
    return str(value)[:10]


def _answered(project_id: int):
    return (Assignment.project_id == project_id, Assignment.status == SUBMITTED)


def answers_by_day(project: Project) -> list[dict]:
    """Per UTC day: answers submitted, gold answers among them and how many of those were right."""
    bucket = day(Assignment.submitted_at)
    rows = db.session.execute(
        select(bucket.label("day"), func.count(),
               func.count().filter(Assignment.is_gold),
               func.count().filter(Assignment.is_gold, Assignment.gold_correct.is_(True)))
        .where(*_answered(project.id)).group_by(bucket).order_by(bucket)).all()
    return [{"day": iso_day(d), "answers": n, "gold_seen": seen, "gold_correct": right,
             "gold_accuracy": finite(right / seen) if seen else None} for d, n, seen, right in rows]


def answers_per_task(project: Project) -> list[dict]:
    """How many tasks (gold left out) have each number of answers."""
    rows = db.session.execute(
        select(Task.answer_count, func.count()).where(Task.project_id == project.id, Task.status != GOLD)
        .group_by(Task.answer_count).order_by(Task.answer_count)).all()
    return [{"answers": answers, "tasks": tasks} for answers, tasks in rows]


def answer_cost_cents(project: Project) -> int:
    """What one approved answer costs the requester: reward plus the platform fee, at the highest reward a
    lease may carry (a targeted team's or an experiment arm's), as the escrow is funded."""
    return escrow_answer_cost(project)


def redundancy_savings(project: Project) -> dict:
    """Answers the finished tasks used against what fixed redundancy (answers_per_task each) would have used."""
    finished, used = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Task.answer_count), 0))
        .where(Task.project_id == project.id, Task.status.in_((CLOSED, ESCALATED)))).one()
    fixed = finished * project.answers_per_task
    return {"policy": "adaptive" if project.target_confidence is not None else "fixed",
            "fixed_redundancy": project.answers_per_task, "target_confidence": project.target_confidence,
            "finished_tasks": finished, "answers_used": int(used), "answers_at_fixed_redundancy": fixed,
            "answers_saved": fixed - int(used), "saved_cents": (fixed - int(used)) * answer_cost_cents(project),
            "currency": project.currency}


@dataclass(frozen=True)
class Sample:
    """Non-gold answers coded as classes: (task id, answer's class, submitted at, result's class or None)."""

    rows: list[tuple]
    stride: int  # every stride-th task by id was read (1: all of them)


def coded_sample(project: Project) -> Sample:
    """All of a project's non-gold answers up to AGREEMENT_SAMPLE; beyond, every answer of every n-th task.

    Whole tasks, spread over the project's life (task ids grow with imports), so the agreement of
    late weeks is measured too, unlike the first AGREEMENT_SAMPLE answers by task. Up to that
    size these are the answers quality's /stats reads. JSON comes back as text and is parsed here:
    three times faster than the driver's JSONB decoding over 50,000 rows. The label schema is locked
    once a project has tasks, so every answer's class is in it.
    """
    total = db.session.scalar(select(func.count()).where(*_answered(project.id), ~Assignment.is_gold)) or 0
    stride = max(1, math.ceil(total / AGREEMENT_SAMPLE))
    query = (select(Assignment.task_id, cast(Assignment.answer, Text), Assignment.submitted_at, cast(Result.label, Text))
             .outerjoin(Result, Result.task_id == Assignment.task_id)
             .where(*_answered(project.id), ~Assignment.is_gold)
             .order_by(Assignment.task_id, Assignment.id).limit(AGREEMENT_SAMPLE if stride == 1 else 2 * AGREEMENT_SAMPLE))
    if stride > 1:  # every stride-th task holds about AGREEMENT_SAMPLE answers; the limit only guards against skew
        query = query.where(Assignment.task_id % stride == 0)
    label_type = labels.label_type(project.label_schema)
    index = {name: k for k, name in enumerate(project.label_schema["classes"])}
    def code(text: str | None) -> int | None:
        return None if text is None else index[label_type.class_of(json.loads(text))]

    def code_result(text: str | None) -> int | None:  # a result stores the class name itself (result_label)
        return None if text is None else index[json.loads(text)]
    return Sample([(task_id, code(answer), submitted_at, code_result(truth))
                   for task_id, answer, submitted_at, truth in db.session.execute(query)], stride)


def _unit_counts(coded: list[tuple], K: int) -> np.ndarray:
    """Units (tasks) x classes answer counts of coded answers."""
    if not coded:
        return np.zeros((0, K), dtype=np.int64)
    task_ids, task_idx = np.unique(np.array([row[0] for row in coded]), return_inverse=True)
    flat = task_idx * K + np.array([row[1] for row in coded])
    return np.bincount(flat, minlength=task_ids.size * K).reshape(task_ids.size, K)


def headline_agreement(project: Project, sample: Sample | None) -> dict:
    """Alpha, kappa and percent agreement of the sample, computed as GET /projects/{id}/stats does."""
    if sample is None:  # not categorical: quality's report has the pairwise agreement of the type
        found = agreement(project)
        sampled = found["answers"] >= AGREEMENT_SAMPLE
    else:
        found = categorical_agreement(_unit_counts(sample.rows, len(project.label_schema["classes"])), len(sample.rows))
        sampled = sample.stride > 1
    return {"answers": found["answers"], "krippendorff_alpha": finite(found["krippendorff_alpha"]),
            "fleiss_kappa": finite(found["fleiss_kappa"]), "percent_agreement": finite(found["percent_agreement"]),
            "sampled": sampled}


def confusion(project: Project, sample: Sample | None) -> dict:
    """Crowd answers against the inferred result label, per class (categorical label types only)."""
    if sample is None:
        return {"applicable": False, "classes": [], "counts": [], "rates": [], "answers": 0}
    classes = list(project.label_schema["classes"])
    coded = sample.rows
    pairs = np.array([(truth, answer) for _, answer, _, truth in coded if truth is not None],
                     dtype=np.int64).reshape(-1, 2)
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(counts, (pairs[:, 0], pairs[:, 1]), 1)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    return {"applicable": True, "classes": classes, "counts": counts.tolist(),
            "rates": [[round(float(x), 6) for x in row] for row in rates], "answers": int(len(pairs))}


def _buckets(sample) -> tuple[str, dict[int, str]]:
    """("day" or "week", each sampled task's bucket): the day, or the week's Monday, of its last answer."""
    last: dict[int, datetime] = {}
    for task_id, _, submitted_at, _ in sample:
        submitted_at = submitted_at.astimezone(timezone.utc)
        last[task_id] = max(last.get(task_id, submitted_at), submitted_at)
    if not last:
        return "day", {}
    if (max(last.values()) - min(last.values())).days <= WEEKLY_AFTER_DAYS:
        return "day", {task_id: t.date().isoformat() for task_id, t in last.items()}
    return "week", {task_id: (t.date() - timedelta(days=t.weekday())).isoformat() for task_id, t in last.items()}


def agreement_over_time(project: Project, sample: Sample | None) -> dict:
    """Alpha and kappa of the tasks whose last answer fell in each day (or week, over long spans)."""
    if sample is None:
        return {"applicable": False, "bucket": None, "points": []}
    coded = sample.rows
    kind, buckets = _buckets(coded)
    by_bucket: dict[str, list[tuple]] = {}
    for row in coded:
        by_bucket.setdefault(buckets[row[0]], []).append(row)
    points = []
    for name in sorted(by_bucket):
        counts = _unit_counts(by_bucket[name], len(project.label_schema["classes"]))
        found = categorical_agreement(counts, len(by_bucket[name]))
        points.append({"bucket": name, "tasks": int((counts.sum(axis=1) >= 2).sum()),
                       "krippendorff_alpha": finite(found["krippendorff_alpha"]),
                       "fleiss_kappa": finite(found["fleiss_kappa"])})
    return {"applicable": True, "bucket": kind, "points": points}


def histogram(values: list[float], bins: int = HISTOGRAM_BINS) -> list[dict]:
    """Counts of values in equal bins over [0, 1] (the last bin includes 1)."""
    counts = np.histogram(np.clip(np.asarray(values, dtype=np.float64), 0, 1), bins=bins, range=(0, 1))[0] \
        if values else np.zeros(bins, dtype=np.int64)
    return [{"low": round(i / bins, 6), "high": round((i + 1) / bins, 6), "count": int(n)} for i, n in enumerate(counts)]


def _summary(values: list[float]) -> dict:
    if not values:
        return {"annotators": 0, "mean": None, "median": None, "histogram": histogram([])}
    return {"annotators": len(values), "mean": finite(np.mean(values)), "median": finite(np.median(values)),
            "histogram": histogram(values)}


def trust(project: Project, now: datetime) -> dict:
    """Distributions of the annotators' weights, Dawid-Skene accuracies and global reputations."""
    rows = db.session.execute(
        select(AnnotatorStats.annotator_id, AnnotatorStats.weight, AnnotatorStats.ds_accuracy)
        .where(AnnotatorStats.project_id == project.id, AnnotatorStats.answers > 0)
        .order_by(AnnotatorStats.annotator_id).limit(ANNOTATOR_SAMPLE)).all()
    reputations = reputation.of_annotators([r.annotator_id for r in rows], now)
    return {"weight": _summary([r.weight for r in rows]),
            "ds_accuracy": _summary([r.ds_accuracy for r in rows if r.ds_accuracy is not None]),
            "reputation": _summary([reputations[r.annotator_id] for r in rows]),
            "blocked": int(db.session.scalar(select(func.count()).where(
                AnnotatorStats.project_id == project.id, AnnotatorStats.blocked)) or 0)}


def cost(project: Project, accepted_labels: int) -> dict:
    """What the project's labels cost, and that per accepted (closed) task, in cents.

    Every submitted answer counts, approved or still awaiting approval: its reward has left the
    escrow and is paid with its fee unless the answer is rejected (rejected ones do not count).
    Counting only approved answers would show a project in its approval window as free. Gold answers
    count too: they are paid like any other (annotators cannot tell them apart).
    """
    approved, pending, rewards, fees = answer_spend(project)
    bonus_cents, bonus_fees = db.session.execute(
        select(func.coalesce(func.sum(Bonus.amount_cents), 0), func.coalesce(func.sum(Bonus.fee_cents), 0))
        .where(Bonus.project_id == project.id)).one()
    fees += int(bonus_fees)
    total = rewards + int(bonus_cents) + fees
    return {"currency": project.currency, "approved_answers": int(approved), "pending_answers": int(pending),
            "rewards_cents": rewards, "bonuses_cents": int(bonus_cents), "fees_cents": fees, "total_cents": total,
            "accepted_labels": accepted_labels,
            "per_accepted_label_cents": round(total / accepted_labels, 2) if accepted_labels else None}


def slowest_tasks(project: Project) -> list[dict]:
    """The closed tasks that took longest from import to close, with their mean answer time."""
    to_close = seconds_between(Task.created_at, Task.closed_at)
    rows = db.session.execute(
        select(Task.id, Task.external_id, to_close.label("s"), Task.answer_count)
        .where(Task.project_id == project.id, Task.status == CLOSED, Task.closed_at.is_not(None))
        .order_by(to_close.desc(), Task.id).limit(TOP_TASKS)).all()
    times = dict(db.session.execute(
        select(Assignment.task_id, func.avg(Assignment.duration_ms))
        .where(Assignment.task_id.in_([r.id for r in rows]), Assignment.status == SUBMITTED)
        .group_by(Assignment.task_id)).all()) if rows else {}
    return [{"task_id": r.id, "external_id": r.external_id, "seconds_to_close": finite(r.s), "answers": r.answer_count,
             "mean_answer_seconds": finite(times[r.id] / 1000) if times.get(r.id) is not None else None}
            for r in rows]


def most_disputed_tasks(project: Project) -> list[dict]:
    """The tasks with the most disputes, with how those disputes ended."""
    disputes = func.count(Dispute.id)
    rows = db.session.execute(
        select(Task.id, Task.external_id, disputes.label("n"),
               func.count().filter(Dispute.status == OVERTURNED), func.count().filter(Dispute.status == UPHELD))
        .join(Assignment, Assignment.id == Dispute.assignment_id).join(Task, Task.id == Assignment.task_id)
        .where(Dispute.project_id == project.id)
        .group_by(Task.id, Task.external_id).order_by(disputes.desc(), Task.id).limit(TOP_TASKS)).all()
    return [{"task_id": task_id, "external_id": external_id, "disputes": n, "overturned": overturned, "upheld": upheld,
             "open": n - overturned - upheld} for task_id, external_id, n, overturned, upheld in rows]


def project_figures(project: Project, now: datetime) -> dict:
    """Every figure of a project's quality report."""
    counts = dict(db.session.execute(select(Task.status, func.count()).where(Task.project_id == project.id)
                                     .group_by(Task.status)).all())
    by_day = answers_by_day(project)
    gold_seen = sum(d["gold_seen"] for d in by_day)
    gold_correct = sum(d["gold_correct"] for d in by_day)
    sample = coded_sample(project) if labels.label_type(project.label_schema).CATEGORICAL else None
    return {
        "project_id": project.id, "name": project.name, "status": project.status,
        "label_type": project.label_schema.get("type"), "truth_method": (project.truth_model or {}).get("method"),
        "generated_at": now,
        "tasks": sum(n for status, n in counts.items() if status != GOLD), "gold_tasks": counts.get(GOLD, 0),
        "closed_tasks": counts.get(CLOSED, 0), "escalated_tasks": counts.get(ESCALATED, 0),
        "answers": sum(d["answers"] for d in by_day),
        "annotators": int(db.session.scalar(select(func.count()).where(
            AnnotatorStats.project_id == project.id, AnnotatorStats.answers > 0)) or 0),
        "gold_accuracy": finite(gold_correct / gold_seen) if gold_seen else None,
        "agreement": headline_agreement(project, sample),
        "answers_by_day": by_day,
        "answers_per_task": answers_per_task(project),
        "redundancy": redundancy_savings(project),
        "confusion": confusion(project, sample),
        "agreement_over_time": agreement_over_time(project, sample),
        "trust": trust(project, now),
        "cost": cost(project, counts.get(CLOSED, 0)),
        "slowest_tasks": slowest_tasks(project),
        "most_disputed_tasks": most_disputed_tasks(project),
    }
