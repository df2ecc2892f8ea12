"""Task questions: asked from an assignment, answered once by the requester, read by the crowd, promoted into the guidelines."""
from marketplace.accounts.models import Account
from marketplace.extensions import db
from tests.client.conftest import transport  # noqa: F401 (a fixture: the client over the test app)
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer, open_project


def _owner(project):
    return bearer(db.session.get(Account, project.requester_id))


def _lease(client, project, annotator):
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=bearer(annotator))
    assert lease.status_code == 201, lease.json
    return lease.json


def test_a_question_is_answered_once_then_every_annotator_reads_it_without_the_task_or_the_asker(client):
    project = open_project(tasks=2, answers_per_task=2, instructions="Label the animal.")
    asker, other = AnnotatorFactory(), AnnotatorFactory()
    lease = _lease(client, project, asker)
    asked = client.post(f"/api/v1/assignments/{lease['id']}/questions", json={"question": "Is a fox a dog?"},
                        headers=bearer(asker))
    assert asked.status_code == 201 and asked.json["task_ref"] and asked.json["answer"] is None
    qid = asked.json["id"]
    assert client.get(f"/api/v1/projects/{project.id}/questions", headers=bearer(other)).json["items"] == []

    owners = client.get(f"/api/v1/projects/{project.id}/questions", headers=_owner(project)).json["items"]
    assert [q["id"] for q in owners] == [qid] and owners[0]["task_id"] and owners[0]["asked_by"].startswith("ann_")
    answered = client.post(f"/api/v1/questions/{qid}/answer", json={"answer": "No: label it other."},
                           headers=_owner(project))
    assert answered.status_code == 200 and answered.json["answered_at"]
    again = client.post(f"/api/v1/questions/{qid}/answer", json={"answer": "Yes."}, headers=_owner(project))
    assert again.status_code == 409 and again.json["code"] == "already_answered"

    seen = client.get(f"/api/v1/projects/{project.id}/questions", headers=bearer(other)).json["items"]
    assert [(q["question"], q["answer"]) for q in seen] == [("Is a fox a dog?", "No: label it other.")]
    assert not {"task_id", "task_ref", "asked_by", "assignment_id"} & set(seen[0])
    mine = client.get(f"/api/v1/projects/{project.id}/questions", headers=bearer(asker)).json["items"][0]
    assert mine["task_ref"] == asked.json["task_ref"] and "task_id" not in mine


def test_promoting_adds_the_answer_to_the_instructions_as_a_minor_version(client):
    project = open_project(tasks=1, answers_per_task=1, instructions="Label the animal.")
    annotator = AnnotatorFactory()
    lease = _lease(client, project, annotator)
    qid = client.post(f"/api/v1/assignments/{lease['id']}/questions", json={"question": "Cartoons count?"},
                      headers=bearer(annotator)).json["id"]
    early = client.post(f"/api/v1/questions/{qid}/promote", headers=_owner(project))
    assert early.status_code == 409 and early.json["code"] == "not_answered"
    client.post(f"/api/v1/questions/{qid}/answer", json={"answer": "Yes, label what is drawn."}, headers=_owner(project))
    promoted = client.post(f"/api/v1/questions/{qid}/promote", headers=_owner(project))
    assert promoted.status_code == 200 and promoted.json["promoted_version"] == 2
    latest = client.get(f"/api/v1/projects/{project.id}/guidelines", headers=_owner(project)).json["items"][0]
    assert latest["version"] == 2 and latest["major"] is False
    assert latest["instructions"] == "Label the animal.\n\nQ: Cartoons count?\nA: Yes, label what is drawn."
    twice = client.post(f"/api/v1/questions/{qid}/promote", headers=_owner(project))
    assert twice.status_code == 409 and twice.json["code"] == "already_promoted"


def test_only_the_assignments_annotator_asks_and_only_the_projects_requester_answers(client):
    project = open_project(tasks=1, answers_per_task=2)
    annotator = AnnotatorFactory()
    lease = _lease(client, project, annotator)
    body = {"question": "Which label for a blur?"}
    assert client.post(f"/api/v1/assignments/{lease['id']}/questions", json=body,
                       headers=bearer(AnnotatorFactory())).status_code == 404
    assert client.post(f"/api/v1/assignments/{lease['id']}/questions", json=body,
                       headers=_owner(project)).status_code == 403
    for blank in ("", "     "):
        refused = client.post(f"/api/v1/assignments/{lease['id']}/questions", json={"question": blank},
                              headers=bearer(annotator))
        assert refused.status_code == 422 and "question" in refused.json["errors"]["json"]
    qid = client.post(f"/api/v1/assignments/{lease['id']}/questions", json=body, headers=bearer(annotator)).json["id"]
    answer = {"answer": "other"}
    assert client.post(f"/api/v1/questions/{qid}/answer", json=answer, headers=bearer(RequesterFactory())).status_code == 404
    assert client.post(f"/api/v1/questions/{qid}/answer", json=answer, headers=bearer(annotator)).status_code == 403
    assert client.get(f"/api/v1/projects/{project.id}/questions", headers=bearer(RequesterFactory())).status_code == 404
    assert client.post(f"/api/v1/questions/{qid}/answer", json=answer, headers=bearer(AdminFactory())).status_code == 200
    assert client.post("/api/v1/questions/987654/answer", json=answer, headers=_owner(project)).status_code == 404


def test_the_python_client_asks_answers_and_promotes(transport):  # noqa: F811
    from tests.client.conftest import sign_up

    requester = sign_up(transport, "asks-owner@example.com")
    project = open_project(tasks=1, answers_per_task=1, instructions="Label it.")
    project.requester_id = requester.accounts.me()["id"]
    annotator = sign_up(transport, "asks@example.com", role="annotator")
    lease = annotator.assignments.lease(project.id)
    asked = annotator.assignments.ask(lease["id"], "Blurry photos?")
    assert requester.projects.answer_question(asked["id"], "Label them other.")["answer"] == "Label them other."
    assert requester.projects.promote_question(asked["id"])["promoted_version"] == 2
    assert [q["answer"] for q in annotator.projects.questions(project.id)] == ["Label them other."]
