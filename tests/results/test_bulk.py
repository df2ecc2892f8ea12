"""The recompute's binary COPY reads and writes (results/bulk_store.py) against what the ORM sees, on PostgreSQL."""
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select, text

from marketplace import inference, labels
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.results import bulk_store as bulk
from marketplace.results import store
from marketplace.results.models import RESULTS_FILLFACTOR, Result
from marketplace.tasks.models import Task
from tests.factories import AnnotatorFactory, TaskFactory, open_project

pytestmark = pytest.mark.postgres

CLASSES = ["cat", "dog", "bird"]


def _answered_project(n_tasks: int = 7, per_task: int = 3):
    project = open_project(tasks=n_tasks, answers_per_task=per_task)
    crowd = [AnnotatorFactory() for _ in range(per_task)]
    tasks = db.session.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()
    now = utcnow()
    for i, task in enumerate(tasks):
        for j, annotator in enumerate(crowd):
            db.session.add(Assignment(task_id=task.id, project_id=project.id, annotator_id=annotator.id,
                                      status=SUBMITTED, leased_at=now, expires_at=now + timedelta(minutes=5),
                                      submitted_at=now, answer={"label": CLASSES[(i + j) % 3]}))
    db.session.flush()
    return project, tasks


def _connection():
    return db.session.connection().connection.dbapi_connection


def test_binary_copy_reads_every_answer_as_the_orm_does_across_blocks(ctx, monkeypatch):
    project, _ = _answered_project()
    monkeypatch.setattr(bulk, "READ_BLOCK_ROWS", 2)  # several parsed blocks, and a remainder
    tasks, annotators, codes = store.read_answers(project.id, labels.label_type(project.label_schema), CLASSES)
    expected = sorted((a.task_id, a.annotator_id, CLASSES.index(a.answer["label"])) for a in db.session.scalars(
        select(Assignment).where(Assignment.project_id == project.id)))
    assert tasks.dtype == annotators.dtype == np.int64
    assert sorted(zip(tasks.tolist(), annotators.tolist(), codes.tolist())) == expected
    assert len(expected) == 21


def test_a_label_outside_the_classes_reads_as_minus_one_and_fails_the_encoding(ctx):
    project, tasks = _answered_project(n_tasks=1, per_task=1)
    db.session.execute(Assignment.__table__.update().where(Assignment.task_id == tasks[0].id)
                       .values(answer={"label": "zebra"}))
    read = store.read_answers(project.id, labels.label_type(project.label_schema), CLASSES)
    assert read[2].tolist() == [-1]
    with pytest.raises(ValueError, match="outside the label set"):
        inference.encode_coded_answers(*read, CLASSES)


def test_no_answers_read_as_empty_arrays(ctx):
    project = open_project(tasks=2)
    tasks, annotators, codes = store.read_answers(project.id, labels.label_type(project.label_schema), CLASSES)
    assert tasks.size == annotators.size == codes.size == 0


def test_binary_copy_writes_results_as_the_row_path_does_and_replaces_them(ctx, monkeypatch):
    project = open_project(tasks=0)
    task_ids = np.array([TaskFactory(project_id=project.id, external_id=f"t{i}").id for i in range(5)])[::-1]
    posteriors = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.4, 0.4, 0.2], [0.123456789, 0.876543211, 0.0],
                           [0.0, 0.0, 1.0]])
    monkeypatch.setattr(bulk, "MERGE_ROWS", 2)  # three merged ranges
    ranges = []
    now = utcnow()
    bulk.write_posteriors(_connection(), project_id=project.id, method="auto:ds", classes=CLASSES,
                          task_ids=task_ids, posteriors=posteriors, answer_counts=np.array([3, 3, 2, 4, 1]), now=now,
                          progress=lambda done, total: ranges.append((done, total)))
    assert ranges == [(2, 5), (4, 5), (5, 5)]
    rows = {r.task_id: r for r in db.session.scalars(select(Result).where(Result.project_id == project.id)
                                                     .execution_options(populate_existing=True))}
    assert len(rows) == 5
    first, tied, rounded = rows[int(task_ids[0])], rows[int(task_ids[2])], rows[int(task_ids[3])]
    assert (first.label, first.confidence, first.answer_count, first.tie, first.method) == ("cat", 0.7, 3, False, "auto:ds")
    assert tied.tie is True and tied.label == "cat"  # a tie goes to the class listed first
    assert rounded.posterior == [0.123457, 0.876543, 0.0] and rounded.label == "dog"
    # What the row path (small batches, SQLite) writes for the same posterior
    expected = store.posterior_rows(project_id=project.id, classes=CLASSES, found=store.Posteriors(
        [int(task_ids[3])], posteriors[3:4], np.array([4])), method="auto:ds", now=now)[0]
    assert {k: getattr(rounded, k) for k in ("label", "confidence", "tie", "posterior", "answer_count")} == {
        k: expected[k] for k in ("label", "confidence", "tie", "posterior", "answer_count")}
    # A second write replaces every field it carries
    bulk.write_posteriors(_connection(), project_id=project.id, method="auto:ebcc", classes=CLASSES,
                          task_ids=task_ids[:1], posteriors=np.array([[0.1, 0.1, 0.8]]), answer_counts=np.array([4]),
                          now=now)
    again = db.session.get(Result, int(task_ids[0]), populate_existing=True)
    assert (again.label, again.method, again.answer_count, again.posterior) == ("bird", "auto:ebcc", 4, [0.1, 0.1, 0.8])


def test_read_ids_returns_a_bigint_column_as_an_array(ctx):
    project = open_project(tasks=4)
    ids = bulk.read_ids(_connection(), "SELECT id FROM tasks WHERE project_id = %s ORDER BY id", (project.id,))
    assert ids.tolist() == list(db.session.scalars(select(Task.id).where(Task.project_id == project.id).order_by(Task.id)))


def test_rewriting_results_keeps_every_new_version_on_its_page(ctx):
    """results is half-full per page (RESULTS_FILLFACTOR): a recompute's rewrite of every result is heap-only
    updates, with no new index entries (a full page would move each version and index it again)."""
    project = open_project(tasks=0)
    task_ids = np.array([TaskFactory(project_id=project.id, external_id=f"t{i}").id for i in range(400)])
    first, second = np.tile([0.7, 0.2, 0.1], (400, 1)), np.tile([0.1, 0.2, 0.7], (400, 1))
    write = dict(project_id=project.id, classes=CLASSES, task_ids=task_ids, answer_counts=np.full(400, 3), now=utcnow())
    bulk.write_posteriors(_connection(), method="auto:ds", posteriors=first, **write)
    hot_before = db.session.execute(text("SELECT pg_stat_get_xact_tuples_hot_updated('results'::regclass)")).scalar()
    bulk.write_posteriors(_connection(), method="auto:ebcc", posteriors=second, **write)
    hot = db.session.execute(text("SELECT pg_stat_get_xact_tuples_hot_updated('results'::regclass)")).scalar()
    # Nearly all: a version a few bytes longer ("auto:ebcc", "bird") does not fit beside every row of a page.
    # On full pages only those of the last, part-filled page would be.
    assert hot - hot_before >= 360
    options = db.session.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'results'")).scalar()
    assert f"fillfactor={RESULTS_FILLFACTOR}" in options
    labels_now = db.session.scalars(select(Result.label).where(Result.project_id == project.id)
                                    .execution_options(populate_existing=True)).all()
    assert labels_now == ["bird"] * 400
