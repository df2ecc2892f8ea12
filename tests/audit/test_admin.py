"""Admin actions: suspensions take effect at once, every action is in the audit log, the log cannot be edited."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from marketplace.extensions import db
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer


def test_a_suspended_account_is_locked_out_until_reinstated(client):
    admin, annotator = bearer(AdminFactory()), AnnotatorFactory()
    headers = bearer(annotator)
    assert client.get("/api/v1/balance", headers=headers).status_code == 200
    suspended = client.post(f"/api/v1/admin/accounts/{annotator.id}/suspend", json={"reason": "fraud review"},
                            headers=admin)
    assert suspended.status_code == 200 and suspended.json["status"] == "suspended"
    assert client.get("/api/v1/balance", headers=headers).status_code in (401, 403)
    again = client.post(f"/api/v1/admin/accounts/{annotator.id}/suspend", json={"reason": "fraud review"}, headers=admin)
    assert again.status_code == 409  # already suspended
    client.post(f"/api/v1/admin/accounts/{annotator.id}/reinstate", json={"reason": "cleared"}, headers=admin)
    assert client.get("/api/v1/balance", headers=headers).status_code == 200
    log = client.get("/api/v1/admin/audit-log", headers=admin).json["items"]
    assert [(e["action"], e["target_id"], e["reason"]) for e in log] == [
        ("reinstate", annotator.id, "cleared"), ("suspend", annotator.id, "fraud review")]


def test_admin_actions_need_a_reason_and_an_admin(client):
    annotator = AnnotatorFactory()
    missing = client.post(f"/api/v1/admin/accounts/{annotator.id}/suspend", json={}, headers=bearer(AdminFactory()))
    assert missing.status_code == 422 and "reason" in missing.json["errors"]["json"]
    for who in (bearer(RequesterFactory()), bearer(annotator)):
        assert client.post(f"/api/v1/admin/accounts/{annotator.id}/suspend", json={"reason": "because"},
                           headers=who).status_code == 403
        assert client.get("/api/v1/admin/ledger/trial-balance", headers=who).status_code == 403


def test_the_audit_log_cannot_be_edited(client):
    admin = bearer(AdminFactory())
    client.post(f"/api/v1/admin/accounts/{AnnotatorFactory().id}/suspend", json={"reason": "spam ring"}, headers=admin)
    entry = client.get("/api/v1/admin/audit-log", headers=admin).json["items"][0]
    for method in (client.put, client.patch, client.delete):
        assert method(f"/api/v1/admin/audit-log/{entry['id']}", json={}, headers=admin).status_code in (404, 405)
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text("UPDATE admin_actions SET reason = 'nothing happened'"))


def test_the_trial_balance_is_readable_by_admins(client):
    from tests.factories import fund_requester

    fund_requester(RequesterFactory().id, 500)
    trial = client.get("/api/v1/admin/ledger/trial-balance", headers=bearer(AdminFactory())).json
    assert trial["balanced"] and trial["debits_cents"] == trial["credits_cents"] == 500
