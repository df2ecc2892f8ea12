"""Label types through the API: 422s naming the field, gold and qualifications by agreement, review, recompute."""
import io
import zipfile

import pytest

from marketplace import labels
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.quality.models import AnnotatorStats
from marketplace.results import recompute
from marketplace.results.models import Result
from marketplace.reviews.models import Review
from tests.factories import AnnotatorFactory, RequesterFactory, TaskFactory, bearer, fresh, open_project
from tests.projects.test_routes import _owner

BOXES = {"type": "bbox", "classes": ["car", "person"]}
IMAGE = {"image": "a.jpg", "width": 100, "height": 80}


def typed_project(schema, items, answers_per_task=2, **fields):
    """An open, funded project of the schema with one task per data item."""
    project = open_project(tasks=0, label_schema=labels.validate_schema(schema), answers_per_task=answers_per_task,
                           **fields)
    for i, data in enumerate(items):
        TaskFactory(project_id=project.id, external_id=f"t{i}", data=data, slot_limit=answers_per_task)
    project.task_count = len(items)
    db.session.flush()
    return project


def lease_and_answer(client, project, given, headers=None):
    headers = headers or bearer(AnnotatorFactory())
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers)
    assert leased.status_code == 201, leased.json
    return answer_to(client, leased.json["id"], given, headers)


def answer_to(client, assignment_id, given, headers):
    return client.post(f"/api/v1/assignments/{assignment_id}/answer", json={"answer": given}, headers=headers)


def test_a_box_outside_the_image_is_a_422_naming_the_field(client):
    project = typed_project(BOXES, [IMAGE])
    refused = lease_and_answer(client, project, {"boxes": [{"x": 90, "y": 0, "w": 20, "h": 10, "label": "car"}]})
    assert refused.status_code == 422
    assert "outside the image" in refused.json["errors"]["json"]["answer"]["boxes"]["0"]["w"][0]


def test_a_number_too_large_for_a_float_is_a_422_not_a_crash(client):
    project = typed_project(BOXES, [IMAGE])
    refused = lease_and_answer(client, project, {"boxes": [{"x": 10 ** 400, "y": 0, "w": 1, "h": 1, "label": "car"}]})
    assert refused.status_code == 422 and "x" in refused.json["errors"]["json"]["answer"]["boxes"]["0"]


def test_span_past_the_text_and_end_before_start_are_422s(client):
    project = typed_project({"type": "spans", "classes": ["PER"]}, [{"text": "Ada wrote"}], answers_per_task=1)
    headers = bearer(AnnotatorFactory())
    leased = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    past = answer_to(client, leased["id"], {"spans": [{"start": 4, "end": 12, "label": "PER"}]}, headers)
    assert past.status_code == 422 and "past the end" in past.json["errors"]["json"]["answer"]["spans"]["0"]["end"][0]
    backwards = answer_to(client, leased["id"], {"spans": [{"start": 3, "end": 1, "label": "PER"}]}, headers)
    assert backwards.status_code == 422 and "end" in backwards.json["errors"]["json"]["answer"]["spans"]["0"]


@pytest.fixture
def requester():
    return bearer(RequesterFactory())


def draft(client, requester, schema, **fields):
    created = client.post("/api/v1/projects", headers=requester, json={
        "name": "typed", "instructions": "Label it.", "label_schema": schema, "reward_cents": 5, "answers_per_task": 2,
        **fields})
    return created


def test_import_checks_the_data_each_type_needs(client, requester):
    project = draft(client, requester, BOXES).json
    missing = client.post(f"/api/v1/projects/{project['id']}/tasks", headers=requester,
                          json={"tasks": [{"external_id": "a", "data": {"image": "a.jpg", "height": 10}}]})
    assert missing.status_code == 422 and "width" in missing.json["errors"]["json"]["tasks"]["0"]["data.width"][0]
    gold = client.post(f"/api/v1/projects/{project['id']}/tasks", headers=requester, json={"tasks": [
        {"external_id": "g", "data": IMAGE, "gold_answer": {"boxes": [{"x": 0, "y": 0, "w": 200, "h": 5, "label": "car"}]}}]})
    assert gold.status_code == 422 and "outside" in gold.json["errors"]["json"]["tasks"]["0"]["gold_answer.boxes.0.w"][0]
    fine = client.post(f"/api/v1/projects/{project['id']}/tasks", headers=requester, json={"tasks": [
        {"external_id": "g", "data": IMAGE, "gold_answer": {"boxes": [{"x": 0, "y": 0, "w": 20, "h": 5, "label": "car"}]}}]})
    assert fine.status_code == 201


@pytest.mark.parametrize("field, value", [("target_confidence", 0.9), ("model_as_annotator", True)])
def test_adaptive_redundancy_and_the_model_voter_need_classification(client, requester, field, value):
    refused = draft(client, requester, BOXES, **{field: value}, min_answers=1, max_answers=3)
    assert refused.status_code == 422 and "classification" in refused.json["errors"]["json"][field][0]


def test_export_formats_must_suit_the_type(client):
    project = typed_project({"type": "spans", "classes": ["PER"]}, [{"text": "Ada"}], answers_per_task=1)
    owner = bearer(_owner(project))
    refused = client.get(f"/api/v1/projects/{project.id}/results/export?format=coco", headers=owner)
    assert refused.status_code == 422 and "conll" in refused.json["errors"]["json"]["format"][0]
    assert client.get(f"/api/v1/projects/{project.id}/results/export?format=xml", headers=owner).status_code == 422
    lease_and_answer(client, project, {"spans": [{"start": 0, "end": 3, "label": "PER"}]})
    conll = client.get(f"/api/v1/projects/{project.id}/results/export?format=conll", headers=owner)
    assert conll.status_code == 200 and conll.headers["Content-Disposition"].endswith('results-conll.zip"')
    assert "Ada\tB-PER" in zipfile.ZipFile(io.BytesIO(conll.get_data())).read("results.conll").decode()


def test_a_qualification_with_boxes_is_scored_by_iou(client, requester, monkeypatch):
    monkeypatch.setitem(client.application.config, "QUALIFICATION_MIN_RETRY_DELAY_S", 0)  # retried at once below
    created = client.post("/api/v1/qualifications", headers=requester, json={
        "name": "Cars", "label_schema": {**BOXES, "gold_threshold": 0.7}, "questions_per_attempt": 2, "pass_score": 1.0,
        "time_limit_s": 600, "retry_delay_s": 0, "max_attempts": 3}).json
    car = {"boxes": [{"x": 10, "y": 10, "w": 20, "h": 20, "label": "car"}]}
    no_size = client.post(f"/api/v1/qualifications/{created['id']}/questions", headers=requester,
                          json={"questions": [{"data": {"image": "q.jpg"}, "answer": car}]})
    assert no_size.status_code == 422 and "width" in no_size.json["errors"]["json"]["questions"]["0"]["data"]
    outside = client.post(f"/api/v1/qualifications/{created['id']}/questions", headers=requester, json={"questions": [
        {"data": IMAGE, "answer": {"boxes": [{"x": 95, "y": 0, "w": 20, "h": 5, "label": "car"}]}}]})
    assert outside.status_code == 422
    assert "outside" in outside.json["errors"]["json"]["questions"]["0"]["answer"]["boxes"]["0"]["w"][0]
    added = client.post(f"/api/v1/qualifications/{created['id']}/questions", headers=requester,
                        json={"questions": [{"data": IMAGE, "answer": car}, {"data": IMAGE, "answer": {"boxes": []}}]})
    assert added.status_code == 201
    annotator = bearer(AnnotatorFactory())
    attempt = client.post(f"/api/v1/qualifications/{created['id']}/attempts", headers=annotator).json
    close = {"boxes": [{"x": 11, "y": 10, "w": 20, "h": 20, "label": "car"}]}  # IoU 380/420 = 0.905
    # both questions are drawn, in either order: the same answer to both is right once (the car) and
    # wrong once (the empty image)
    graded = client.post(f"/api/v1/attempts/{attempt['id']}/answers", headers=annotator, json={"answers": [close] * 2})
    assert graded.status_code == 200 and graded.json["score"] == 0.5
    second = client.post(f"/api/v1/qualifications/{created['id']}/attempts", headers=annotator).json
    graded = client.post(f"/api/v1/attempts/{second['id']}/answers", headers=annotator,
                         json={"answers": [{"boxes": [{"x": 16, "y": 10, "w": 20, "h": 20, "label": "car"}]}] * 2})
    assert graded.json["score"] == 0.0  # IoU 280/520 = 0.54, under the 0.7 threshold, and the empty one missed


def test_a_reviewer_decides_a_box_task_and_the_decision_is_the_result(client):
    project = typed_project({**BOXES, "min_support": 0.6}, [IMAGE], answers_per_task=2, review_enabled=True,
                            review_min_trust=0.0)
    one = {"boxes": [{"x": 10, "y": 10, "w": 20, "h": 20, "label": "car"}]}
    lease_and_answer(client, project, one)
    lease_and_answer(client, project, {"boxes": []})
    task_id = db.session.scalar(db.select(Result.task_id).where(Result.project_id == project.id))
    assert fresh(Result, task_id).label == {"boxes": []}  # half the weight: under min_support, no box
    owner = bearer(_owner(project))
    assert client.post(f"/api/v1/tasks/{task_id}/review", headers=owner).status_code == 200
    reviewer = bearer(AnnotatorFactory())
    leased = client.post(f"/api/v1/projects/{project.id}/reviews", headers=reviewer).json
    assert sorted(c["count"] for c in leased["candidates"]) == [1, 1]
    assert one in [c["label"] for c in leased["candidates"]]
    outside = client.post(f"/api/v1/reviews/{leased['id']}/decision", headers=reviewer,
                          json={"answer": {"boxes": [{"x": 95, "y": 0, "w": 20, "h": 5, "label": "car"}]}})
    assert outside.status_code == 422
    decided = client.post(f"/api/v1/reviews/{leased['id']}/decision", headers=reviewer, json={"answer": one})
    assert decided.status_code == 200
    result = fresh(Result, task_id)
    assert result.method == "review" and result.label == one
    # the recompute keeps the decision and scores the reviewer against the answers' aggregate (no box)
    recompute.recompute_project(project_id=project.id, now=utcnow())
    assert fresh(Result, task_id).label == one
    review = fresh(Review, leased["id"])
    assert review.agrees_with_truth is False


def test_recompute_reweights_answers_by_gold_trust_and_stores_agreement(client):
    project = typed_project({"type": "numeric", "min": 0, "max": 100}, [{"item": 1}], answers_per_task=2)
    low, high = AnnotatorFactory(), AnnotatorFactory()
    lease_and_answer(client, project, {"value": 10}, bearer(low))
    lease_and_answer(client, project, {"value": 90}, bearer(high))
    task_id = db.session.scalar(db.select(Result.task_id).where(Result.project_id == project.id))
    assert fresh(Result, task_id).label == {"value": 10.0}  # equal weights: the lower median
    stats = db.session.scalar(db.select(AnnotatorStats).where(AnnotatorStats.annotator_id == low.id))
    stats.gold_seen, stats.gold_correct = 10, 1  # the first annotator turned out to miss gold
    db.session.flush()
    outcome = recompute.recompute_project(project_id=project.id, now=utcnow())
    assert outcome["results_written"] == 1 and outcome["answers"] == 2
    assert fresh(Result, task_id).label == {"value": 90.0}
    agreement = {s.annotator_id: s.agreement for s in db.session.scalars(
        db.select(AnnotatorStats).where(AnnotatorStats.project_id == project.id).execution_options(populate_existing=True))}
    assert agreement == {low.id: pytest.approx(0.2), high.id: pytest.approx(1.0)}
    stats = client.get(f"/api/v1/projects/{project.id}/stats", headers=bearer(_owner(project))).json
    assert stats["agreement"]["mean_pairwise_agreement"] == pytest.approx(0.2)
