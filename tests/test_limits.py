"""Rate limits: login per client and per account, sign-up per client, the per-credential budget, 429 shape."""
import pytest
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace import limits
from tests.factories import PASSWORD, AnnotatorFactory, RequesterFactory, bearer

LOGIN = "/api/v1/auth/tokens"
pytestmark = pytest.mark.embedded


def _login(client, email, password=PASSWORD, address="127.0.0.1"):
    return client.post(LOGIN, json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address})


def _assert_limited(response):
    assert response.status_code == 429
    assert response.json["status"] == 429 and response.json["code"] == "rate_limited" and response.json["type"] == "rate_limit"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["RateLimit-Remaining"] == "0"
    assert 0 < int(response.headers["RateLimit-Reset"]) <= 3601  # seconds from now (rounded up), not an epoch time


def test_login_flood_from_one_client_is_refused_while_authenticated_calls_keep_working(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATELIMIT_LOGIN_PER_CLIENT", "3 per minute")
    account = AnnotatorFactory()
    working = bearer(account)
    statuses = [_login(client, f"guess{i}@example.test", "wrong password").status_code for i in range(3)]
    assert statuses == [401, 401, 401]
    _assert_limited(_login(client, account.email))  # even the right password: the client is out of attempts
    me = client.get("/api/v1/me", headers=working)
    assert me.status_code == 200 and me.json["id"] == account.id
    assert _login(client, account.email, address="10.0.0.9").status_code == 201  # another client is untouched


def test_failed_logins_lock_the_account_for_every_client(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT", "2 per minute; 10 per hour")
    target, other = AnnotatorFactory(), AnnotatorFactory()
    assert _login(client, target.email, "wrong one", address="10.0.0.1").status_code == 401
    assert _login(client, target.email.upper(), "wrong two", address="10.0.0.2").status_code == 401
    locked = _login(client, target.email, address="10.0.0.3")
    _assert_limited(locked)
    assert "failed logins" in locked.json["message"]
    assert _login(client, other.email).status_code == 201  # the lock is per account


def test_successful_logins_do_not_count_toward_the_account_lock(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT", "2 per minute")
    account = RequesterFactory()
    assert [_login(client, account.email).status_code for _ in range(4)] == [201] * 4


def test_signups_are_limited_per_client_across_both_roles(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATELIMIT_SIGNUP_PER_CLIENT", "2 per hour")
    body = {"password": "long enough password"}
    assert client.post("/api/v1/requesters", json={**body, "email": "a@example.test"}).status_code == 201
    assert client.post("/api/v1/annotators", json={**body, "email": "b@example.test"}).status_code == 201
    _assert_limited(client.post("/api/v1/annotators", json={**body, "email": "c@example.test"}))
    other = client.post("/api/v1/annotators", json={**body, "email": "d@example.test"},
                        environ_base={"REMOTE_ADDR": "10.1.1.1"})
    assert other.status_code == 201


def test_each_credential_has_its_own_budget_across_all_routes(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATELIMIT_API", "3 per minute")
    spender, bystander = bearer(RequesterFactory()), bearer(RequesterFactory())
    assert client.get("/api/v1/me", headers=spender).status_code == 200
    assert client.get("/api/v1/projects", headers=spender).status_code == 200
    ok = client.get("/api/v1/api-keys", headers=spender)
    assert ok.status_code == 200 and ok.headers["RateLimit-Limit"] == "3" and ok.headers["RateLimit-Remaining"] == "0"
    _assert_limited(client.get("/api/v1/me", headers=spender))
    assert client.get("/api/v1/me", headers=bystander).status_code == 200
    assert client.get("/api/v1/health").status_code in (200, 503)  # probes are outside the budget


def test_limits_can_be_switched_off(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATE_LIMITS_ENABLED", False)
    monkeypatch.setitem(client.application.config, "RATELIMIT_LOGIN_PER_CLIENT", "1 per minute")
    assert [_login(client, "nobody@example.test", "wrong password").status_code for _ in range(3)] == [401] * 3


def test_the_spec_documents_429_with_its_headers(client):
    spec = client.get("/api/v1/openapi.json").json
    response = spec["components"]["responses"]["RATE_LIMITED"]
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(response["headers"])
    assert spec["paths"]["/api/v1/auth/tokens"]["post"]["responses"]["429"] == {
        "$ref": "#/components/responses/RATE_LIMITED"}
    assert "429" not in spec["paths"]["/api/v1/health"]["get"]["responses"]


def test_the_credential_key_is_the_public_prefix_never_the_secret():
    app = Flask(__name__)
    with app.test_request_context(headers={"Authorization": "Bearer mt_0123abcd.s3cret"}):
        assert limits.credential_key() == "credential:mt_0123abcd"
    with app.test_request_context(headers={"Authorization": "Basic abc"}, environ_base={"REMOTE_ADDR": "10.2.2.2"}):
        assert limits.credential_key() == "address:10.2.2.2"


def test_proxy_hops_make_the_forwarded_address_the_client():
    app = Flask(__name__)
    app.config.update(TRUST_PROXY_HOPS=1, RATE_LIMITS_ENABLED=True, RATELIMIT_API="100 per minute")
    app.route("/who")(lambda: limits.client_address())
    limits.init_app(app)
    assert isinstance(app.wsgi_app, ProxyFix)
    answer = app.test_client().get("/who", headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer.text == "203.0.113.7"


@pytest.mark.postgres
def test_the_budget_counts_in_redis_so_every_worker_shares_it(redis_conn):
    from marketplace import create_app
    from tests.conftest import REDIS_URL, TestConfig

    class RedisLimits(TestConfig):
        RATELIMIT_STORAGE_URI = REDIS_URL
        RATELIMIT_API = "2 per minute"

    workers = [create_app(RedisLimits).test_client() for _ in range(2)]  # two processes' worth of apps
    assert [w.get("/api/v1/openapi.json").status_code for w in workers] == [200, 200]
    refused = workers[0].get("/api/v1/openapi.json")
    assert refused.status_code == 429 and refused.json["code"] == "rate_limited"
    assert any(b"marketplace/api/" in key for key in redis_conn.keys())  # the counter lives in Redis


def test_in_process_budget_windows_restart_when_they_end(monkeypatch):
    """The embedded mode's counters (no Redis): a fixed window per key, started by its first request."""
    from marketplace import limits

    clock = [1000.0]
    monkeypatch.setattr(limits.time, "time", lambda: clock[0])
    counts = limits.WindowCounts()
    assert [counts.incr("a", 60) for _ in range(3)] == [1, 2, 3]
    assert counts.incr("b", 60) == 1 and counts.get_expiry("a") == 1060.0
    clock[0] = 1059.9
    assert counts.incr("a", 60) == 4
    clock[0] = 1060.0  # the window ended: a new one starts at this request
    assert counts.incr("a", 60) == 1 and counts.get_expiry("a") == 1120.0


def test_flask_limiters_request_hooks_run_on_the_limited_routes_blueprint_only(app):
    """Its hooks cost ~7% of a lease when app-wide; the login and sign-up limits above still hold."""
    def limiter_hooks(registry, name):
        return [f for f in registry.get(name, ()) if getattr(f, "__self__", None) is limits.limiter
                or getattr(f, "args", (None,))[0] is limits.limiter]

    for registry in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        assert limiter_hooks(registry, None) == []
        assert len(limiter_hooks(registry, limits.LIMITED_BLUEPRINT)) == 1
    assert all(endpoint in app.view_functions for endpoint in limits.ROUTE_LIMITED)
