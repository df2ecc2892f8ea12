"""The SSRF guard: private, loopback, link-local and metadata targets refused at registration and at delivery."""
import pytest

from marketplace.extensions import db
from marketplace.webhooks import delivery
from marketplace.webhooks.models import FAILED, PENDING, WebhookAttempt, WebhookDelivery
from marketplace.webhooks.targets import UnsafeTarget, check
from tests.factories import bearer, fresh
from tests.webhooks.conftest import emitted, endpoint_for

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "metadata"),
    ("169.254.10.1", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "non-public"),
    ("224.0.0.1", "multicast"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fe80::1", "link-local"),
    ("fd00:ec2::254", "metadata"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("2002:a00:1::1", "private"),  # 6to4 wrapping 10.0.0.1
]


@pytest.mark.parametrize("address, kind", REFUSED)
def test_registration_refuses_non_public_addresses(client, requester, dns, address, kind):
    dns["hooks.example.com"] = [address]
    response = client.post("/api/v1/webhooks", headers=bearer(requester),
                           json={"url": "https://hooks.example.com/in", "events": ["task.completed"]})
    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["url"]
    assert kind in response.json["message"] and address in response.json["message"]


def test_one_private_answer_among_public_ones_refuses_the_name(dns):
    dns["hooks.example.com"] = ["93.184.216.34", "10.0.0.7"]
    with pytest.raises(UnsafeTarget, match="private"):
        check("https://hooks.example.com/", allow_http=False, allow_private=False)


def test_public_https_is_accepted_and_pins_the_checked_address(dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    target = check("https://hooks.example.com:8443/in?x=1", allow_http=False, allow_private=False)
    assert (target.address, target.port, target.path, target.host_header) == (
        "93.184.216.34", 8443, "/in?x=1", "hooks.example.com:8443")


@pytest.mark.parametrize("url, message", [
    ("http://hooks.example.com/", "https"),
    ("ftp://hooks.example.com/", "https"),
    ("https://user:pw@hooks.example.com/", "password"),
    ("https:///nohost", "no host"),
    ("https://hooks.example.com:99999/", "port"),
    ("https://unknown.example.com/", "does not resolve"),
    ("https://hooks.example.com:5432/", "port must be one of 443, 8443"),
    ("https://hooks.example.com:80/", "port must be one of 443, 8443"),
    ("https://hooks.example.com/a b", "whitespace"),
    (" https://hooks.example.com/", "whitespace"),
    ("https://hooks.example.com/\r\nX-Injected: 1", "control character"),
    ("https://hooks.example.com/\u200b", "control character"),
])
def test_malformed_or_plain_http_urls_are_refused(dns, url, message):
    dns["hooks.example.com"] = ["93.184.216.34"]
    with pytest.raises(UnsafeTarget, match=message):
        check(url, allow_http=False, allow_private=False)


def test_http_is_accepted_only_when_allowed(dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    assert check("http://hooks.example.com/", allow_http=True, allow_private=False).port == 80
    with pytest.raises(UnsafeTarget, match="port"):
        check("http://hooks.example.com:8080/", allow_http=True, allow_private=False)


def test_a_url_with_a_newline_is_422_through_the_api(client, requester, dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    response = client.post("/api/v1/webhooks", headers=bearer(requester),
                           json={"url": "https://hooks.example.com/in\n", "events": ["task.completed"]})
    assert response.status_code == 422 and "control character" in response.json["errors"]["json"]["url"][0]


@pytest.mark.parametrize("url", ["https://127.0.0.1/", "https://[::1]/", "https://[::ffff:7f00:1]/"])
def test_address_literals_are_judged_like_names(client, requester, url):
    response = client.post("/api/v1/webhooks", headers=bearer(requester), json={"url": url, "events": ["task.completed"]})
    assert response.status_code == 422 and "url" in response.json["errors"]["json"]


def test_delivery_rechecks_and_fails_when_the_name_now_points_inside(ctx, requester, project, dns, receiver):
    dns["hooks.example.com"] = ["93.184.216.34"]
    endpoint_for(requester, "https://hooks.example.com/in")
    [delivery_id] = emitted(project)
    dns["hooks.example.com"] = ["127.0.0.1"]  # DNS rebinding after registration
    assert delivery.attempt(delivery_id=delivery_id, now=fresh(WebhookDelivery, delivery_id).next_attempt_at) == FAILED
    row = fresh(WebhookDelivery, delivery_id)
    assert row.status == FAILED and row.next_attempt_at is None and "loopback" in row.last_error
    [attempt] = db.session.query(WebhookAttempt).filter_by(delivery_id=delivery_id).all()
    assert attempt.status_code is None and attempt.error.startswith("refused:")
    assert receiver.requests == []


def test_a_name_that_stops_resolving_is_retried_not_failed(ctx, requester, project, dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    endpoint_for(requester, "https://hooks.example.com/in")
    [delivery_id] = emitted(project)
    del dns["hooks.example.com"]
    assert delivery.attempt(delivery_id=delivery_id, now=fresh(WebhookDelivery, delivery_id).next_attempt_at) == PENDING
    assert "does not resolve" in fresh(WebhookDelivery, delivery_id).last_error
