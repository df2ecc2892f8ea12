"""GET /me/feed: an annotator's rejections, missed gold (where the project tells), rulings and bonuses, newest first."""
import itertools
from datetime import timedelta

from marketplace.accounts.models import Account
from marketplace.approvals.models import Bonus
from marketplace.assignments.models import Assignment
from marketplace.db import utcnow
from marketplace.disputes.models import Dispute
from marketplace.extensions import db
from marketplace.tasks.models import Task
from tests.client.conftest import sign_up, transport  # noqa: F401 (a fixture: the client over the test app)
from tests.factories import AnnotatorFactory, ProjectFactory, RequesterFactory, TaskFactory, bearer

T0 = utcnow().replace(microsecond=0) - timedelta(days=1)
_numbers = itertools.count()


def _assignment(project, annotator, *, minutes: int, **fields):
    task = TaskFactory(project_id=project.id, external_id=f"x{next(_numbers)}")
    row = Assignment(task_id=task.id, project_id=project.id, annotator_id=annotator.id,
                     leased_at=T0, expires_at=T0 + timedelta(hours=1), submitted_at=T0 + timedelta(minutes=minutes),
                     answer={"label": "cat"}, **{"status": "submitted", **fields})
    db.session.add(row)
    db.session.flush()
    return row


def _work_of(annotator):
    """One of each kind, a minute apart, plus gold missed where the project does not tell (never shown)."""
    told, silent = ProjectFactory(gold_feedback=True), ProjectFactory(gold_feedback=False)
    rejected = _assignment(told, annotator, minutes=1, status="rejected", rejected_at=T0 + timedelta(minutes=1),
                           rejection_category="wrong_label", rejection_reason="That is a dog.")
    missed = _assignment(told, annotator, minutes=2, is_gold=True, gold_correct=False)
    missed_task = db.session.get(Task, missed.task_id)
    missed_task.gold_answer, missed_task.gold_explanation = {"label": "dog"}, "Floppy ears."
    _assignment(silent, annotator, minutes=2, is_gold=True, gold_correct=False)
    disputed = _assignment(told, annotator, minutes=0)
    db.session.add(Dispute(assignment_id=disputed.id, annotator_id=annotator.id, project_id=told.id, status="overturned",
                           reason="It is a cat.", evidence={}, opened_at=T0, resolved_at=T0 + timedelta(minutes=3),
                           resolution_note="Agreed: a cat."))
    db.session.add(Bonus(requester_id=told.requester_id, annotator_id=annotator.id, assignment_id=disputed.id,
                         project_id=told.id, amount_cents=25, fee_cents=5, currency="usd", reason="Careful work.",
                         idempotency_key=f"k{annotator.id}", request_hash="h", created_at=T0 + timedelta(minutes=4)))
    db.session.flush()
    return told


def test_the_feed_lists_each_kind_newest_first_and_hides_gold_where_the_project_does_not_tell(client):
    annotator = AnnotatorFactory()
    project = _work_of(annotator)
    body = client.get("/api/v1/me/feed", headers=bearer(annotator)).json
    assert [item["kind"] for item in body["items"]] == ["bonus", "dispute", "gold_miss", "rejection"]
    bonus, dispute, missed, rejection = body["items"]
    assert (bonus["amount_cents"], bonus["currency"], bonus["reason"]) == (25, "usd", "Careful work.")
    assert (dispute["outcome"], dispute["reason"]) == ("overturned", "Agreed: a cat.")
    assert (missed["expected"], missed["reason"], missed["your_answer"]) == ({"label": "dog"}, "Floppy ears.",
                                                                              {"label": "cat"})
    assert (rejection["category"], rejection["reason"]) == ("wrong_label", "That is a dog.")
    assert all(item["project_id"] == project.id and item["task_ref"].startswith("tsk_") for item in body["items"])
    assert body["has_more"] is False and body["next_cursor"] is None
    only = client.get("/api/v1/me/feed?kind=bonus&kind=rejection&kind=bonus", headers=bearer(annotator)).json["items"]
    assert [item["kind"] for item in only] == ["bonus", "rejection"]


def test_pages_walk_every_item_once_even_when_many_share_a_time(client):
    annotator = AnnotatorFactory()
    _work_of(annotator)
    project = ProjectFactory()
    for i in range(5):  # a bulk rejection stamps them all with one time
        _assignment(project, annotator, minutes=10 + i, status="rejected", rejected_at=T0 + timedelta(minutes=30),
                    rejection_reason=f"bulk {i}")
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/me/feed?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                          headers=bearer(annotator)).json
        seen += [(item["kind"], item["assignment_id"], item["reason"]) for item in page["items"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 9
    assert [reason for _, _, reason in seen[:5]] == [f"bulk {i}" for i in (4, 3, 2, 1, 0)]


def test_the_feed_is_the_annotators_own_and_a_bad_cursor_is_422(client):
    annotator = AnnotatorFactory()
    _work_of(annotator)
    assert client.get("/api/v1/me/feed", headers=bearer(AnnotatorFactory())).json["items"] == []
    assert client.get("/api/v1/me/feed", headers=bearer(RequesterFactory())).status_code == 403
    for bad in ("nonsense", "bm90fGF8Yg", "MjAyNi0wMS0wMXwwfDE"):  # not base64 of ours; no zone
        response = client.get(f"/api/v1/me/feed?cursor={bad}", headers=bearer(annotator))
        assert response.status_code == 422 and "cursor" in response.json["errors"]["query"], response.json


def test_the_python_client_walks_the_feed(transport):  # noqa: F811
    client = sign_up(transport, "feed@example.com", role="annotator")
    annotator = db.session.get(Account, client.accounts.me()["id"])
    _work_of(annotator)
    assert [item["kind"] for item in client.accounts.feed(page_size=1)] == ["bonus", "dispute", "gold_miss", "rejection"]
    assert [item["kind"] for item in client.accounts.feed(kinds=["dispute"])] == ["dispute"]
