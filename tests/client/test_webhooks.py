"""Webhooks through the client: register (secret once), list, ping a real receiver, rotate, delete."""
import pytest
from labelctl import NotFound

from marketplace.webhooks.signing import verify_signature

pytestmark = pytest.mark.embedded


def test_webhook_endpoints_are_managed_through_the_client(requester, receiver, local_targets):
    created = requester.webhooks.create(receiver.url(), ["task.completed", "project.completed"],
                                        description="labels in")
    assert created["secret"].startswith(created["secret_prefix"])
    assert [e["id"] for e in requester.webhooks.list()] == [created["id"]]
    assert "secret" not in requester.webhooks.get(created["id"])

    ping = requester.webhooks.test(created["id"])
    assert ping["event"] == "ping"
    [got] = receiver.requests  # embedded mode: delivered right after the commit
    headers = got["headers"]
    assert verify_signature(created["secret"], headers["X-Marketplace-Timestamp"], got["body"],
                            headers["X-Marketplace-Signature"])
    [delivery] = requester.webhooks.deliveries(created["id"])
    assert delivery["id"] == ping["id"] and delivery["status"] == "delivered" and delivery["attempts"]

    rotated = requester.webhooks.rotate_secret(created["id"], previous_valid_for_s=0)
    assert rotated["secret"] != created["secret"]
    assert requester.webhooks.update(created["id"], active=False)["active"] is False
    requester.webhooks.delete(created["id"])
    with pytest.raises(NotFound):
        requester.webhooks.get(created["id"])
    assert list(requester.webhooks.list()) == []
