"""Against the app: typed exceptions with the server's code and param, and Idempotency-Key replays."""
import httpx
import pytest
from labelctl import (
    AuthenticationError,
    BadRequest,
    Client,
    Conflict,
    NetworkError,
    NotFound,
    PaymentRequired,
    PermissionDenied,
)

from tests.client.conftest import BASE_URL, NO_WAIT, PETS, CommittingTransport, sign_up

pytestmark = pytest.mark.embedded


def test_refusals_raise_typed_exceptions_naming_code_param_and_request(requester, transport):
    with pytest.raises(NotFound) as missing:
        requester.projects.get(999_999)
    assert missing.value.status == 404 and missing.value.code == "not_found" and missing.value.request_id

    with pytest.raises(BadRequest) as invalid:
        requester.projects.create({**PETS, "reward_cents": 0})
    assert invalid.value.status == 422 and invalid.value.param == "reward_cents"
    assert "reward_cents" in invalid.value.errors["json"]

    empty = requester.projects.create(PETS)
    with pytest.raises(Conflict) as conflict:
        requester.projects.publish(empty["id"])
    assert conflict.value.status == 409 and conflict.value.code not in ("", "409") and conflict.value.message

    requester.tasks.import_tasks(empty["id"], [{"external_id": "a", "data": {"x": 1}}])
    with pytest.raises(PaymentRequired) as unpaid:  # nothing funded: the escrow cannot be filled
        requester.projects.publish(empty["id"])
    assert unpaid.value.status == 402 and unpaid.value.code not in ("", "402") and unpaid.value.message
    assert requester.projects.get(empty["id"])["status"] == "draft"  # refused: nothing changed

    with pytest.raises(AuthenticationError) as unknown:
        Client(BASE_URL, api_key="mk_nobody.secret", transport=transport, retries=NO_WAIT).projects.get(empty["id"])
    assert unknown.value.status == 401

    annotator = sign_up(transport, "crowd@crowd.example", role="annotator")
    with pytest.raises(PermissionDenied):
        annotator.projects.create(PETS)


def test_an_import_refused_by_the_server_names_the_file_line_and_a_rerun_skips_what_went_in(requester, tmp_path):
    project = requester.projects.create(PETS)
    rows = [f'{{"external_id": "t{i}", "data": {{"n": {i}}}}}' for i in range(15)]
    rows[12] = '{"external_id": "t12", "data": "not an object"}'
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(rows[:6]) + "\n\n" + "\n".join(rows[6:]) + "\n")  # a blank line 7: lines != rows
    with pytest.raises(BadRequest) as refused:
        requester.tasks.import_file(project["id"], path, batch_size=10)
    assert refused.value.line == 14 and refused.value.message.startswith("tasks.jsonl line 14: ")
    assert refused.value.progress.created == 10  # the first batch went in, the second not at all

    rows[12] = '{"external_id": "t12", "data": {"n": 12}}'
    path.write_text("\n".join(rows) + "\n")
    again = requester.tasks.import_file(project["id"], path, batch_size=10)
    assert (again.created, again.duplicate_count, again.task_count) == (5, 10, 15)
    assert again.duplicates == [f"t{i}" for i in range(10)]


def test_csv_and_json_files_import_like_the_servers_upload(requester, tmp_path):
    project = requester.projects.create(PETS)
    (tmp_path / "tasks.csv").write_text('external_id,image_url,gold_answer\nc1,https://x.test/1.jpg,\n'
                                        'c2,https://x.test/2.jpg,"{""label"": ""cat""}"\n')
    (tmp_path / "tasks.json").write_text('[{"external_id": "j1", "data": {"image_url": "https://x.test/j.jpg"}},\n'
                                         ' {"external_id": "j2", "data": {"n": 1.5e3}}]')
    assert requester.tasks.import_file(project["id"], tmp_path / "tasks.csv").created == 2
    assert requester.tasks.import_file(project["id"], tmp_path / "tasks.json").created == 2
    tasks = {t["external_id"]: t for t in requester.tasks.list(project["id"])}
    assert tasks["c1"]["data"] == {"image_url": "https://x.test/1.jpg"} and tasks["c2"]["status"] == "gold"
    assert tasks["j2"]["data"] == {"n": 1500.0}


def test_a_smaller_server_limit_on_rows_per_import_is_followed(requester, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_TASKS_PER_IMPORT", 4)
    project = requester.projects.create(PETS)
    done = requester.tasks.import_tasks(project["id"], ({"external_id": f"t{i}", "data": {}} for i in range(10)))
    assert (done.created, done.batches) == (10, 3)


def test_every_change_carries_an_idempotency_key_through_to_the_server(requester, transport):
    """POST /projects does not honour the key yet (only fundings, escrow top-ups, bonuses and refunds
    do): this checks what the client sends, the same key on both calls."""
    requester.projects.create(PETS, idempotency_key="create-pets-1")
    requester.projects.create(PETS, idempotency_key="create-pets-1")
    posts = [r for r in transport.requests if r.url.path == "/api/v1/projects" and r.method == "POST"]
    assert [r.headers["Idempotency-Key"] for r in posts] == ["create-pets-1", "create-pets-1"]
    made = requester.projects.create(PETS)
    assert transport.requests[-1].headers["Idempotency-Key"] not in ("create-pets-1", None)
    requester.projects.update(made["id"], name="Pets again")
    assert transport.requests[-1].headers["Idempotency-Key"]


def test_the_same_key_twice_makes_one_funding(requester):
    first = requester.payments.fund(5000, idempotency_key="fund-may")
    again = requester.payments.fund(5000, idempotency_key="fund-may")
    assert again["id"] == first["id"]
    assert [f["id"] for f in requester.payments.fundings()] == [first["id"]]
    assert requester.payments.balance()["balances"][0]["available_cents"] == 5000
    with pytest.raises(BadRequest) as reused:  # the same key for another request is refused, not applied
        requester.payments.fund(7000, idempotency_key="fund-may")
    assert reused.value.param == "Idempotency-Key"


class LosesResponses(CommittingTransport):
    """The app handles each request; the response of the next POST is lost on the way back (once)."""

    lose_next_post = True

    def handle_request(self, request):
        response = super().handle_request(request)
        if request.method == "POST" and self.lose_next_post:
            self.lose_next_post = False
            response.read()
            raise httpx.ReadError("connection reset by peer")
        return response


def test_a_call_retried_after_a_lost_response_is_applied_once(ctx, requester):
    flaky = LosesResponses(ctx)
    with Client(BASE_URL, api_key=requester.api_keys.create("flaky")["key"], transport=flaky, retries=NO_WAIT) as client:
        with pytest.raises(NetworkError):  # a create without a key may have run: it is not repeated
            client.projects.create(PETS, idempotency_key=False)
        assert len(flaky.requests) == 1
        flaky.lose_next_post = True
        funding = client.payments.fund(2500)
        first, retried = flaky.requests[1:3]
        assert first.headers["Idempotency-Key"] == retried.headers["Idempotency-Key"] and first.content == retried.content
        assert [f["id"] for f in client.payments.fundings()] == [funding["id"]]
        assert client.payments.balance()["balances"][0]["available_cents"] == 2500


def test_funding_an_open_project_tops_up_its_escrow_once_per_key(requester):
    project = requester.projects.create(PETS)
    requester.tasks.import_tasks(project["id"], [{"external_id": "a", "data": {}}])
    cost = requester.projects.escrow(project["id"])["answer_cost_cents"]
    requester.projects.fund(project["id"], 100)  # the smallest funding is 50 cents
    assert requester.projects.publish(project["id"])["escrow"]["escrow_cents"] == 2 * cost
    for _ in range(2):
        funding, escrow = requester.projects.fund(project["id"], 500, idempotency_key="more-money")
        assert funding["status"] == "succeeded" and escrow["moved_cents"] == 500
    assert requester.projects.escrow(project["id"])["escrow_cents"] == 2 * cost + 500
    assert len(list(requester.payments.fundings())) == 2
