"""Without Stripe keys: fundings are simulated and say so; payouts are recorded as not sent, money kept."""
from marketplace.ledger import reports
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, STRIPE_CASH
from marketplace.db import utcnow
from tests.factories import AdminFactory, AnnotatorFactory, RequesterFactory, bearer


def test_a_simulated_funding_is_credited_at_once_and_labelled(client):
    requester = RequesterFactory()
    funding = client.post("/api/v1/payments/fundings", json={"amount_cents": 2_000}, headers=bearer(requester)).json
    assert (funding["status"], funding["simulated"], funding["client_secret"]) == ("succeeded", True, None)
    balance = client.get("/api/v1/balance", headers=bearer(requester)).json
    assert balance["balances"][0]["available_cents"] == 2_000 and balance["gateway"]["moves_money"] is False


def test_ledger_only_payouts_are_recorded_not_sent_and_the_money_stays(client):
    annotator, other = AnnotatorFactory(), AnnotatorFactory()
    assert client.post("/api/v1/payouts/account", headers=bearer(annotator)).json["simulated"] is True
    ledger.post(key="earned", kind="test", reference=("test", 0), now=utcnow(),
                moves=[ledger.Move(ledger.account(STRIPE_CASH, None, "usd"),
                                   ledger.account(ANNOTATOR_AVAILABLE, annotator.id, "usd"), 1_500)])
    run = client.post("/api/v1/admin/payouts/run", json={"reason": "weekly payouts"}, headers=bearer(AdminFactory()))
    assert run.status_code == 201 and len(run.json["payout_ids"]) == 1
    mine = client.get("/api/v1/payouts", headers=bearer(annotator)).json["items"]
    assert [(p["status"], p["amount_cents"]) for p in mine] == [("not_sent", 1_500)]
    assert "ledger-only" in mine[0]["failure_message"]
    assert client.get("/api/v1/balance", headers=bearer(annotator)).json["balances"][0]["available_cents"] == 1_500
    assert client.get("/api/v1/payouts", headers=bearer(other)).json["items"] == []
    assert client.get("/api/v1/admin/payouts", headers=bearer(RequesterFactory())).status_code == 403
    assert reports.trial_balance()["balanced"]
