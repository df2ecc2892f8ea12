"""The redundancy policy in the submit path, Dawid-Skene results, and the project recompute."""
import psycopg
import pytest
from sqlalchemy import select

from marketplace.assignments import answering
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.projects.models import Project
from marketplace.quality.models import AnnotatorStats
from marketplace.results import posterior, recompute, runs, truth_model
from marketplace.results.models import RecomputeRun, Result
from marketplace.tasks.models import Task
from tests.conftest import PG_ADMIN_URL, TEST_DB
from tests.factories import AnnotatorFactory, bearer, fresh, open_project
from tests.projects.test_routes import _owner
from tests.quality.helpers import LIVE_DRAW, lease_now

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane

GOOD = [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]]


def test_per_answer_confidences_use_the_calibration_of_the_last_recompute():
    import numpy as np

    raw = np.array([[0.81 / 0.815, 0.0025 / 0.815, 0.0025 / 0.815]])  # two answers of a 0.9-accurate annotator
    uniform = np.full(3, 1 / 3)
    before = Project(truth_model=None)  # no recompute yet: the evidence at half weight
    assert truth_model.calibrated(before, raw, uniform, 2)[0].max() == pytest.approx(0.9)
    learned = Project(truth_model={"method": "auto:ds", "weights": {"ds": 1.0},
                                   "calibration": {"correlation": 0.0, "label_noise": 0.0, "gold": 40},
                                   "incremental_calibration": {"correlation": 1.0, "label_noise": 0.1, "gold": 40}})
    # two answers that go together count as one (0.9); then 10% of reference labels unrelated to the answers
    assert truth_model.calibrated(learned, raw, uniform, 2)[0].max() == pytest.approx(0.9 * 0.9 + 0.1 / 3)
    assert truth_model.method_of(learned) == "auto:ds" and truth_model.method_of(before) == "dawid_skene"



def test_results_keep_the_model_s_labels_before_gold_calibrates_them():
    from types import SimpleNamespace

    import numpy as np

    priors = np.array([0.7, 0.2, 0.1])
    posteriors = np.array([[0.3, 0.45, 0.25], [0.9, 0.05, 0.05]])  # the first leans, weakly, to a minority class
    fit = SimpleNamespace(posteriors=posteriors, priors=priors, extra={})
    stored = truth_model.posteriors_of(fit, np.array([3, 3]))
    assert stored.argmax(axis=1).tolist() == [1, 0] and stored[0].max() < 0.45  # half the evidence, same labels
    # The submit path's stand-in halves the evidence over the priors: there the majority class leads.
    assert truth_model.applied_calibration(fit, "incremental_calibration") is truth_model.UNCALIBRATED
    assert truth_model.UNCALIBRATED.apply(posteriors, priors, 3)[0].argmax() == 0


def test_a_stored_calibration_reports_the_form_it_was_fitted_in():
    from marketplace.inference.calibration import Calibration
    from marketplace.results.schemas import TruthModelOut

    before = {"correlation": 0.1, "label_noise": 0.0, "gold": 3, "temperature": 1.0}  # stored without an anchor
    out = TruthModelOut().dump({"method": "auto:ds", "weights": {"ds": 1.0}, "calibration": before,
                                "incremental_calibration": Calibration(0.1, gold=3).as_dict()})
    assert (out["calibration"]["anchor"], out["incremental_calibration"]["anchor"]) == ("prior", "uniform")

def adaptive_project(tasks=1, **fields):
    defaults = dict(target_confidence=0.9, min_answers=2, max_answers=4, aggregation="ds", answers_per_task=2,
                    max_leases_per_annotator=1)
    return open_project(tasks=tasks, **{**defaults, **fields})


def skilled(project, confusion=GOOD):
    annotator = AnnotatorFactory()
    db.session.add(AnnotatorStats(annotator_id=annotator.id, project_id=project.id, confusion=confusion, answers=0,
                                  duration_ms_total=0, gold_seen=0, gold_correct=0, agreement_answers=0, weight=1.0,
                                  blocked=False))
    db.session.flush()
    return annotator


def answer(project, annotator, label):
    with transaction():
        lease = lease_now(project, annotator, LIVE_DRAW)
        answering.submit_answer(assignment_id=lease.assignment_id, annotator=annotator, answer={"label": label},
                                now=utcnow())
    return lease.task_id


def test_two_confident_agreeing_answers_close_the_task_with_a_posterior(ctx):
    # Two tasks: completing the project would queue its last recompute, which judges these two
    # annotators by their two answers here rather than by the matrices set up for them.
    project = adaptive_project(tasks=2, target_confidence=0.85)
    task_id = answer(project, skilled(project), "dog")
    assert fresh(Task, task_id).status == "open"  # below min_answers
    answer(project, skilled(project), "dog")
    task = fresh(Task, task_id)
    assert task.status == "closed" and task.answer_count == 2
    result = fresh(Result, task_id)
    assert result.label == "dog" and result.method == "dawid_skene" and result.confidence >= 0.85
    assert len(result.posterior) == 3 and sum(result.posterior) == pytest.approx(1)
    assert fresh(Project, project.id).closed_task_count == 1


NOISY_REFERENCE = {"method": "auto:ds", "weights": {"ds": 1.0},
                   "calibration": {"correlation": 0.0, "label_noise": 0.2, "gold": 40},
                   "incremental_calibration": {"correlation": 0.0, "label_noise": 0.2, "gold": 40}}


def test_the_target_is_judged_on_the_answers_evidence_not_on_the_reference_noise(ctx):
    # The gold taught that a fifth of reference labels are unrelated to the answers: no task's
    # confidence can pass 0.8 + 0.2 / 3 = 0.867. Two 0.9-accurate annotators agreeing say 0.994;
    # the task closes on that evidence at the confidence the noise allows, instead of buying its
    # last answers and escalating.
    project = adaptive_project(tasks=2, target_confidence=0.9, max_answers=4)
    project.truth_model = NOISY_REFERENCE
    task_id = answer(project, skilled(project), "dog")
    answer(project, skilled(project), "dog")
    task, result = fresh(Task, task_id), fresh(Result, task_id)
    assert task.status == "closed" and task.answer_count == 2
    assert result.confidence == pytest.approx(0.8 * 0.81 / 0.815 + 0.2 / 3) and result.confidence < 0.9
    # Disagreeing answers are short of the target whatever the noise: one more answer is asked for.
    other = answer(project, skilled(project), "dog")
    answer(project, skilled(project), "cat")
    assert fresh(Task, other).status == "open" and fresh(Task, other).slot_limit == 3


@pytest.mark.parametrize("judged, closes", [(None, False), (0.0, True)])
def test_the_submit_path_weighs_the_evidence_with_the_judged_correlation(ctx, judged, closes):
    # Two 0.9-accurate annotators say dog, a third cat: the evidence is 0.944 counted in full, 0.774
    # weighed with the fitted correlation 0.5. Judged with the lower end the gold allows (0), the task
    # closes at its third answer; judged with 0.5 it asks for a fourth. Its result reports the fit's own.
    incremental = {"correlation": 0.5, "label_noise": 0.2, "gold": 40}
    if judged is not None:
        incremental["judged_correlation"] = judged
    project = adaptive_project(tasks=2, target_confidence=0.9, min_answers=3, max_answers=5)
    project.truth_model = {**NOISY_REFERENCE, "incremental_calibration": incremental}
    task_id = answer(project, skilled(project), "dog")
    answer(project, skilled(project), "dog")
    answer(project, skilled(project), "cat")
    task = fresh(Task, task_id)
    assert (task.status, task.answer_count) == (("closed", 3) if closes else ("open", 3))
    if closes:
        assert fresh(Result, task_id).confidence == pytest.approx(0.8 * 0.7744 + 0.2 / 3, abs=1e-3)
    else:
        assert task.slot_limit == 4


def test_a_recompute_reopens_exactly_the_done_tasks_the_submit_path_would_not_close_with_its_fit(ctx, monkeypatch):
    # Twelve closed tasks of four answers each, split 2-2 on every third (by a different pair): the recompute's verdict on
    # each (policy.short_of_target) is what the submit path, reading the stored fit, then computes for
    # the task (posterior.posteriors judged by redundancy's bar), and those short are the ones reopened.
    from datetime import timedelta

    import numpy as np

    from marketplace.assignments.models import SUBMITTED, Assignment
    from marketplace.results import policy
    from marketplace.tasks.models import CLOSED

    project = adaptive_project(tasks=13, target_confidence=0.9, min_answers=2, max_answers=6)  # one stays open
    classes = project.label_schema["classes"]
    crowd = [skilled(project, confusion=None) for _ in range(4)]  # stats rows, as the submit path makes them
    tasks = db.session.scalars(select(Task).where(Task.project_id == project.id).order_by(Task.id)).all()[:12]
    now = utcnow()
    for i, task in enumerate(tasks):
        task.status, task.answer_count, task.slot_limit, task.closed_at = CLOSED, 4, 4, now
        for j, annotator in enumerate(crowd):
            split = i % 3 == 0 and (j - i // 3) % 4 < 2  # a different pair each time: nobody is the better half
            label = classes[(i + split) % len(classes)]
            db.session.add(Assignment(task_id=task.id, project_id=project.id, annotator_id=annotator.id,
                                      status=SUBMITTED, leased_at=now, expires_at=now + timedelta(minutes=5),
                                      submitted_at=now, answer={"label": label}))
    db.session.commit()
    verdicts, real = {}, policy.short_of_target

    def spy(project, encoded, result, answers):
        short = real(project, encoded, result, answers)
        verdicts.update(zip(encoded.task_ids.tolist(), short.tolist()))
        return short

    monkeypatch.setattr(policy, "short_of_target", spy)
    monkeypatch.setattr(policy, "JUDGED_AT_ONCE", 5)  # three slices of verdicts
    with transaction():
        runs.queue_run(project_id=project.id, reason="test", now=utcnow())
    ids = [task.id for task in tasks]
    assert sorted(verdicts) == ids and set(verdicts.values()) == {True, False}
    stored = fresh(Project, project.id)
    calibration = truth_model.calibration_of(stored)
    found = posterior.posteriors(task_ids=ids, label_schema=stored.label_schema, class_priors=stored.class_priors,
                                 now=utcnow(), calibration=calibration)
    closes = calibration.reaches(found.posteriors, 0.9, posterior.priors(stored.class_priors, len(classes)))
    assert verdicts == {t: not ok for t, ok in zip(ids, np.asarray(closes).tolist())}
    reopened = [t for t in ids if fresh(Task, t).status == "open"]
    assert reopened == [t for t in ids if verdicts[t]]
    assert db.session.scalar(select(RecomputeRun).order_by(RecomputeRun.id.desc())).tasks_reopened == len(reopened)


def test_disagreement_opens_one_more_slot_at_a_time_then_escalates(ctx):
    project = adaptive_project(target_confidence=0.95)
    task_id = answer(project, skilled(project), "dog")
    answer(project, skilled(project), "cat")
    assert fresh(Task, task_id).slot_limit == 3 and fresh(Task, task_id).status == "open"
    answer(project, skilled(project), "bird")
    assert fresh(Task, task_id).slot_limit == 4
    answer(project, skilled(project), "cat")  # cat 2, dog 1, bird 1: not 0.95 sure at max 4
    task = fresh(Task, task_id)
    assert task.status == "escalated" and task.answer_count == 4
    assert fresh(Result, task_id).label == "cat" and fresh(Result, task_id).confidence < 0.95


def test_newcomers_are_judged_by_a_prior_not_as_experts(ctx):
    project = adaptive_project(target_confidence=0.95)
    task_id = answer(project, AnnotatorFactory(), "dog")
    answer(project, AnnotatorFactory(), "dog")  # two unproven annotators: prior accuracy 0.7 each, evidence discounted
    found = posterior.posteriors(task_ids=[task_id], label_schema=project.label_schema,
                                 class_priors=None, now=utcnow()).posteriors[0]
    assert 0.6 < found.max() < 0.95
    assert fresh(Task, task_id).status == "open"


def test_fixed_redundancy_with_dawid_skene_aggregation(ctx):
    project = open_project(tasks=1, answers_per_task=3, aggregation="ds")
    for label in ("dog", "dog", "cat"):
        task_id = answer(project, skilled(project), label)
    result = fresh(Result, task_id)  # written again by the recompute the project's completion queues
    assert result.method.startswith("auto:") and result.label == "dog" and result.answer_count == 3


def test_recompute_writes_results_trust_and_priors_and_is_idempotent(ctx):
    project = open_project(tasks=4, answers_per_task=3, aggregation="ds", max_leases_per_annotator=1)
    crowd = [AnnotatorFactory() for _ in range(3)]
    for annotator, labels in zip(crowd, (["dog", "cat", "dog", "cat"], ["dog", "cat", "dog", "bird"],
                                         ["bird", "bird", "bird", "bird"])):
        for label in labels:
            answer(project, annotator, label)
    with transaction():
        runs.queue_run(project_id=project.id, reason="test", now=utcnow())  # runs inline after the commit
    first = {r.task_id: (r.label, round(r.confidence, 6)) for r in db.session.scalars(select(Result)).all()}
    run = db.session.scalar(select(RecomputeRun).order_by(RecomputeRun.id.desc()))
    assert run.status == "finished" and run.answers == 12 and run.results_written == 4
    assert fresh(Project, project.id).class_priors is not None
    assert fresh(AnnotatorStats, (crowd[2].id, project.id)).confusion is not None
    with transaction():
        runs.queue_run(project_id=project.id, reason="test", now=utcnow())
    again = {r.task_id: (r.label, round(r.confidence, 6)) for r in db.session.scalars(select(Result)).all()}
    assert again == first


@pytest.mark.postgres  # PostgreSQL's advisory locks
def test_a_recompute_finds_the_lock_taken_and_skips(committed_app):
    with committed_app.app_context():
        project = open_project(tasks=1, answers_per_task=1, aggregation="ds")
        answer(project, AnnotatorFactory(), "dog")
        db.session.commit()
        with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DB) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (recompute.LOCK_SPACE | project.id,))
            with transaction():
                run = runs.queue_run(project_id=project.id, reason="test", now=utcnow())
            assert fresh(RecomputeRun, run.id).status == "skipped"
            other.execute("SELECT pg_advisory_unlock(%s)", (recompute.LOCK_SPACE | project.id,))
        with transaction():
            run = runs.queue_run(project_id=project.id, reason="test", now=utcnow())
        assert fresh(RecomputeRun, run.id).status == "finished"


def test_recompute_reopens_a_closed_task_whose_confidence_fell(ctx):
    project = adaptive_project(tasks=2, min_answers=2, max_answers=4)  # stays open: no completion run
    first, second = skilled(project), skilled(project)
    task_id = answer(project, first, "dog")
    answer(project, second, "dog")
    assert fresh(Task, task_id).status == "closed"
    # The recompute learns these two are no better than chance: the task falls below the target.
    for stats in db.session.scalars(select(AnnotatorStats)).all():
        stats.confusion = None
    with transaction():
        runs.queue_run(project_id=project.id, reason="test", now=utcnow())
    task = fresh(Task, task_id)
    assert task.status == "open" and task.slot_limit == 3 and fresh(Result, task_id) is None
    run = db.session.scalar(select(RecomputeRun).order_by(RecomputeRun.id.desc()))
    assert run.tasks_reopened == 1


def test_recompute_endpoints(client):
    project = open_project(tasks=1, answers_per_task=1, aggregation="ds")
    owner = bearer(_owner(project))
    before = client.get(f"/api/v1/projects/{project.id}/recompute", headers=owner).json
    assert before["status"] == "none" and {"reason", "queued_at", "answers", "error"} <= set(before)
    assert before == {**dict.fromkeys(before), "status": "none"}  # every field, null before the first run
    answer(project, AnnotatorFactory(), "cat")
    queued = client.post(f"/api/v1/projects/{project.id}/recompute", headers=owner)
    assert queued.status_code == 202
    status = client.get(f"/api/v1/projects/{project.id}/recompute", headers=owner).json
    assert status["status"] == "finished" and status["percent"] == 100 and status["answers"] == 1
    stranger = bearer(AnnotatorFactory())
    assert client.post(f"/api/v1/projects/{project.id}/recompute", headers=stranger).status_code == 403


def test_adaptive_projects_need_min_and_max(client):
    from tests.factories import RequesterFactory

    body = {"name": "p", "label_schema": {"type": "classification", "classes": ["a", "b"]}, "reward_cents": 1,
            "target_confidence": 0.9, "min_answers": 3}
    response = client.post("/api/v1/projects", json=body, headers=bearer(RequesterFactory()))
    assert response.status_code == 422 and "max_answers" in response.json["errors"]["json"]
    response = client.post("/api/v1/projects", json={**body, "max_answers": 2}, headers=bearer(RequesterFactory()))
    assert response.status_code == 422 and "min_answers" in response.json["errors"]["json"]


def test_the_budget_cap_escalates_instead_of_asking_for_more(ctx):
    # Two tasks of two slots each are already promised; a budget of 4 answers leaves nothing for a third.
    project = adaptive_project(tasks=2, target_confidence=0.95, min_answers=2, max_answers=4, budget_cents=4 * 5,
                               reward_cents=5)
    for task in db.session.scalars(select(Task).where(Task.project_id == project.id)):
        task.slot_limit = 2
    task_id = answer(project, skilled(project), "dog")
    assert fresh(Task, task_id).status == "open"  # its second slot is already paid for
    answer(project, skilled(project), "cat")
    assert fresh(Task, task_id).status == "escalated" and fresh(Task, task_id).slot_limit == 2
