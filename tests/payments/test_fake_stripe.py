"""The fake Stripe, driven through the real stripe SDK exactly as the payments gateway drives it."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import stripe

from tests.payments.fake_stripe import FakeStripe


def onboarded_account(fake, client) -> str:
    account = client.v1.accounts.create(params={"type": "express", "email": "w@example.com"})
    fake.complete_onboarding(account.id)
    return account.id


def paid_intent(fake, client, amount=5000):
    intent = client.v1.payment_intents.create(params={"amount": amount, "currency": "usd"})
    fake.succeed_payment(intent.id)
    return intent


def transfer_params(destination, amount=700, **extra):
    return {"amount": amount, "currency": "usd", "destination": destination, "metadata": {"payout_id": 7}, **extra}


def posts_to(fake, path):
    return [r for r in fake.requests if r.method == "POST" and r.path == path]


def test_payment_intent_is_created_and_retrieved_and_its_success_event_verifies(fake_stripe, stripe_client):
    intent = stripe_client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "USD", "metadata": {"payout_id": 7}, "description": "Top-up",
        "automatic_payment_methods": {"enabled": True},
    })
    assert intent.id.startswith("pi_") and intent.client_secret.startswith(f"{intent.id}_secret_")
    assert (intent.status, intent.amount, intent.currency, intent.livemode) == ("requires_payment_method", 2500, "usd", False)
    assert intent.metadata.to_dict() == {"payout_id": "7"} and intent.automatic_payment_methods.enabled is True
    assert stripe_client.v1.payment_intents.retrieve(intent.id).to_dict() == intent.to_dict()
    sent = fake_stripe.request_log[0]
    assert sent["params"]["metadata[payout_id]"] == "7" and sent["headers"]["Stripe-Version"] == stripe.api_version

    event = fake_stripe.succeed_payment(intent.id)
    payload, header = fake_stripe.signed(event)
    verified = stripe.Webhook.construct_event(payload, header, "whsec_test")
    assert verified.type == "payment_intent.succeeded" and verified.id.startswith("evt_")
    assert (verified.data.object.id, verified.data.object.status) == (intent.id, "succeeded")
    assert stripe_client.v1.payment_intents.retrieve(intent.id).amount_received == 2500
    assert stripe_client.v1.balance.retrieve().available[0].amount == 2500
    [charge_txn] = stripe_client.v1.balance_transactions.list().data
    assert (charge_txn.type, charge_txn.amount) == ("charge", 2500)
    assert fake_stripe.events == [event]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other")


def test_failed_payment_event_carries_the_error_and_the_intent_stays_payable(fake_stripe, stripe_client):
    intent = stripe_client.v1.payment_intents.create(params={"amount": 900, "currency": "usd"})
    event = fake_stripe.fail_payment(intent.id, "Insufficient funds.")
    assert event["type"] == "payment_intent.payment_failed"
    assert event["data"]["object"]["last_payment_error"]["message"] == "Insufficient funds."
    assert stripe_client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"
    assert fake_stripe.succeed_payment(intent.id)["data"]["object"]["last_payment_error"] is None
    assert [e["type"] for e in fake_stripe.events] == ["payment_intent.payment_failed", "payment_intent.succeeded"]


def test_idempotent_replay_returns_the_stored_object_and_performs_once(fake_stripe, stripe_client):
    params = {"amount": 1200, "currency": "usd", "metadata": {"payout_id": 7}}
    first = stripe_client.v1.payment_intents.create(params=params, options={"idempotency_key": "pi-7"})
    again = stripe_client.v1.payment_intents.create(params=params, options={"idempotency_key": "pi-7"})
    assert again.to_dict() == first.to_dict()
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert len(fake_stripe.objects("payment_intent")) == 1
    assert posts_to(fake_stripe, "/v1/payment_intents") == [("POST", "/v1/payment_intents", "pi-7")] * 2


def test_same_key_with_other_parameters_or_on_another_endpoint_is_an_idempotency_error(fake_stripe, stripe_client):
    stripe_client.v1.payment_intents.create(params={"amount": 1200, "currency": "usd"}, options={"idempotency_key": "k"})
    with pytest.raises(stripe.IdempotencyError) as changed:
        stripe_client.v1.payment_intents.create(params={"amount": 1300, "currency": "usd"}, options={"idempotency_key": "k"})
    assert changed.value.http_status == 400
    with pytest.raises(stripe.IdempotencyError, match="same endpoint"):
        stripe_client.v1.accounts.create(params={"type": "express"}, options={"idempotency_key": "k"})
    assert len(fake_stripe.objects("payment_intent")) == 1 and fake_stripe.objects("account") == []
    other_key = fake_stripe.client(api_key="sk_test_other_platform")
    other_key.v1.payment_intents.create(params={"amount": 1300, "currency": "usd"}, options={"idempotency_key": "k"})
    assert len(fake_stripe.objects("payment_intent")) == 2


def test_transfer_timing_out_twice_succeeds_on_the_third_sdk_try_exactly_once(fake_stripe):
    client = fake_stripe.client(max_network_retries=2, timeout=0.5)
    destination = onboarded_account(fake_stripe, client)
    fake_stripe.add_platform_balance(10_000)
    fake_stripe.fail_next("POST", "/v1/transfers", "timeout", times=2)

    transfer = client.v1.transfers.create(params=transfer_params(destination))  # no key given: the SDK makes one

    tries = posts_to(fake_stripe, "/v1/transfers")
    assert len(tries) == 3 and len({r.idempotency_key for r in tries}) == 1 and tries[0].idempotency_key
    assert [t["id"] for t in fake_stripe.transfers_with_key(tries[0].idempotency_key)] == [transfer.id]
    assert len(fake_stripe.objects("transfer")) == 1 and fake_stripe.platform_balance() == 10_000 - 700
    assert transfer.last_response.headers["Idempotent-Replayed"] == "true"


def test_concurrent_requests_with_one_key_perform_once(fake_stripe, stripe_client):
    destination = onboarded_account(fake_stripe, stripe_client)
    fake_stripe.add_platform_balance(10_000)
    start = threading.Barrier(6)

    def pay():
        start.wait()
        return stripe_client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": "p9"}).id

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(lambda _: pay(), range(6)))
    assert len(set(ids)) == 1 and len(fake_stripe.transfers_with_key("p9")) == 1
    assert fake_stripe.platform_balance() == 10_000 - 700


def test_timeout_on_the_last_try_is_a_connection_error_though_the_transfer_happened(fake_stripe):
    client = fake_stripe.client(max_network_retries=0, timeout=0.5)
    destination = onboarded_account(fake_stripe, client)
    fake_stripe.add_platform_balance(1000)
    fake_stripe.fail_next("POST", "/v1/transfers", "timeout")
    with pytest.raises(stripe.APIConnectionError) as timed_out:
        client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": "payout-7"})
    assert timed_out.value.should_retry and "Timeout" in str(timed_out.value)
    assert len(fake_stripe.transfers_with_key("payout-7")) == 1  # the outcome was unknown to the caller, not undone

    again = client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": "payout-7"})
    assert [t["id"] for t in fake_stripe.objects("transfer")] == [again.id]
    assert fake_stripe.platform_balance() == 300


def test_5xx_is_retried_with_the_same_key_and_performed_once(fake_stripe, stripe_client):
    destination = onboarded_account(fake_stripe, stripe_client)
    fake_stripe.add_platform_balance(1000)
    fake_stripe.fail_next("POST", "/v1/transfers", "5xx")
    transfer = stripe_client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": "p1"})
    assert posts_to(fake_stripe, "/v1/transfers") == [("POST", "/v1/transfers", "p1")] * 2
    assert [t["id"] for t in fake_stripe.transfers_with_key("p1")] == [transfer.id]
    assert "Idempotent-Replayed" not in transfer.last_response.headers  # the 500 had performed nothing


def test_5xx_without_retries_is_an_api_error_performed_or_not_as_injected(fake_stripe):
    client = fake_stripe.client(max_network_retries=0)
    destination = onboarded_account(fake_stripe, client)
    fake_stripe.add_platform_balance(1000)
    fake_stripe.fail_next("POST", "/v1/transfers", "5xx")
    with pytest.raises(stripe.APIError) as failed:
        client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": "p1"})
    assert failed.value.http_status == 500 and fake_stripe.objects("transfer") == []

    fake_stripe.fail_next("POST", "/v1/transfers", "5xx_after")
    with pytest.raises(stripe.APIError):
        client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": "p2"})
    [made] = fake_stripe.transfers_with_key("p2")
    replay = client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": "p2"})
    assert replay.id == made["id"] and replay.last_response.headers["Idempotent-Replayed"] == "true"


def test_transfer_to_a_not_onboarded_or_unknown_account_is_an_invalid_request(fake_stripe, stripe_client):
    fake_stripe.add_platform_balance(1000)
    pending = stripe_client.v1.accounts.create(params={"type": "express"})
    for destination in (pending.id, "acct_nope"):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            stripe_client.v1.transfers.create(params=transfer_params(destination), options={"idempotency_key": destination})
        assert (refused.value.http_status, refused.value.code, refused.value.param) == (400, "account_invalid", "destination")
    assert fake_stripe.objects("transfer") == [] and fake_stripe.platform_balance() == 1000

    fake_stripe.complete_onboarding(pending.id)  # the refusal was stored under its key, as Stripe does
    with pytest.raises(stripe.InvalidRequestError, match="not completed onboarding"):
        stripe_client.v1.transfers.create(params=transfer_params(pending.id), options={"idempotency_key": pending.id})
    assert stripe_client.v1.transfers.create(params=transfer_params(pending.id)).destination == pending.id


def test_transfer_beyond_the_platform_balance_is_refused(fake_stripe, stripe_client):
    destination = onboarded_account(fake_stripe, stripe_client)
    paid_intent(fake_stripe, stripe_client, amount=500)
    with pytest.raises(stripe.InvalidRequestError) as short:
        stripe_client.v1.transfers.create(params=transfer_params(destination, amount=501))
    assert short.value.code == "balance_insufficient"
    stripe_client.v1.transfers.create(params=transfer_params(destination, amount=500))
    assert stripe_client.v1.balance.retrieve().available[0].amount == 0


def test_refunds_partial_then_the_rest_then_nothing_left(fake_stripe, stripe_client):
    intent = paid_intent(fake_stripe, stripe_client, amount=5000)
    part = stripe_client.v1.refunds.create(params={
        "payment_intent": intent.id, "amount": 2000, "reason": "requested_by_customer", "metadata": {"payout_id": 7},
    })
    assert (part.status, part.amount, part.currency, part.metadata.payout_id) == ("succeeded", 2000, "usd", "7")
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 3001})
    assert too_much.value.code == "amount_too_large"
    rest = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert rest.amount == 3000 and stripe_client.v1.refunds.retrieve(rest.id).to_dict() == rest.to_dict()
    with pytest.raises(stripe.InvalidRequestError) as none_left:
        stripe_client.v1.refunds.create(params={"payment_intent": intent.id})
    assert none_left.value.code == "charge_already_refunded"

    refunded = [e for e in fake_stripe.events if e["type"] == "charge.refunded"]
    charges = [e["data"]["object"] for e in refunded]
    assert [(c["amount_refunded"], c["refunded"]) for c in charges] == [(2000, False), (5000, True)]
    refunds = stripe_client.v1.balance_transactions.list(params={"type": "refund"}).data
    assert [(t.amount, t.source) for t in refunds] == [(-3000, rest.id), (-2000, part.id)]
    assert fake_stripe.platform_balance() == 0


def test_refund_needs_a_succeeded_intent(fake_stripe, stripe_client):
    unpaid = stripe_client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError, match="does not have a successful charge"):
        stripe_client.v1.refunds.create(params={"payment_intent": unpaid.id})
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe_client.v1.refunds.create(params={"payment_intent": "pi_nope"})
    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "payment_intent")
    assert fake_stripe.objects("refund") == []


def test_balance_transactions_are_newest_first_filtered_and_paginated(fake_stripe, stripe_client):
    destination = onboarded_account(fake_stripe, stripe_client)
    paid_intent(fake_stripe, stripe_client, amount=5000)
    first_created = fake_stripe.objects("balance_transaction")[0]["created"]
    fake_stripe.advance_clock(100)
    for amount in (100, 200, 300):
        stripe_client.v1.transfers.create(params=transfer_params(destination, amount=amount))

    page = stripe_client.v1.balance_transactions.list(params={"limit": 2})
    assert [t.amount for t in page.data] == [-300, -200] and page.has_more and page.url == "/v1/balance_transactions"
    rest = stripe_client.v1.balance_transactions.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [t.amount for t in rest.data] == [-100, 5000] and not rest.has_more
    assert [t.amount for t in page.auto_paging_iter()] == [-300, -200, -100, 5000]

    later = stripe_client.v1.balance_transactions.list(params={"created": {"gte": first_created + 50}, "limit": 1})
    assert [t.amount for t in later.auto_paging_iter()] == [-300, -200, -100]
    earlier = stripe_client.v1.balance_transactions.list(params={"created": {"lt": first_created + 50}})
    assert [(t.type, t.amount) for t in earlier.data] == [("charge", 5000)]
    transfers = stripe_client.v1.balance_transactions.list(params={"type": "transfer", "limit": 100})
    assert [t.type for t in transfers.data] == ["transfer"] * 3
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.balance_transactions.list(params={"limit": 101})


def test_transfers_are_listed_by_group_with_pagination(fake_stripe, stripe_client):
    destination = onboarded_account(fake_stripe, stripe_client)
    fake_stripe.add_platform_balance(10_000)
    made = [stripe_client.v1.transfers.create(params=transfer_params(destination, amount=100 + i, transfer_group=group))
            for i, group in enumerate(["payout_1", "payout_2", "payout_1", "payout_1"])]
    page = stripe_client.v1.transfers.list(params={"transfer_group": "payout_1", "limit": 2})
    assert [t.id for t in page.data] == [made[3].id, made[2].id] and page.has_more
    assert [t.id for t in page.auto_paging_iter()] == [made[3].id, made[2].id, made[0].id]
    assert stripe_client.v1.transfers.retrieve(made[1].id).transfer_group == "payout_2"
    assert made[0].balance_transaction.startswith("txn_") and made[0].object == "transfer"


def test_account_starts_disabled_and_onboarding_enables_it(fake_stripe, stripe_client):
    account = stripe_client.v1.accounts.create(params={
        "type": "express", "email": "w@example.com", "country": "US", "metadata": {"worker_id": 3},
        "capabilities": {"transfers": {"requested": True}},
    })
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (False, False, False)
    link = stripe_client.v1.account_links.create(params={
        "account": account.id, "refresh_url": "https://m.example/refresh", "return_url": "https://m.example/done",
        "type": "account_onboarding",
    })
    assert link.object == "account_link" and link.url == f"{fake_stripe.url}/onboarding/{account.id}"
    assert link.expires_at > link.created

    event = fake_stripe.complete_onboarding(account.id)
    assert event["type"] == "account.updated" and event["data"]["previous_attributes"]["payouts_enabled"] is False
    again = stripe_client.v1.accounts.retrieve(account.id)
    assert (again.charges_enabled, again.payouts_enabled, again.details_submitted) == (True, True, True)
    assert again.capabilities.transfers == "active" and again.metadata.worker_id == "3"


def test_unknown_ids_params_and_keys_are_refused(fake_stripe, stripe_client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.transfers.retrieve("tr_nope")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: expand"):
        stripe_client.v1.payment_intents.create(params={"amount": 1, "currency": "usd", "expand": ["latest_charge"]})
    with pytest.raises(stripe.AuthenticationError):
        fake_stripe.client(api_key="sk_live_real").v1.balance.retrieve()
    assert fake_stripe.requests[-1] == ("GET", "/v1/balance", None)


def test_stop_does_not_wait_for_a_held_back_reply():
    with FakeStripe(timeout_delay_s=30) as fake:
        fake.fail_next("GET", "/v1/balance", "timeout")
        with pytest.raises(stripe.APIConnectionError):
            fake.client(max_network_retries=0, timeout=0.2).v1.balance.retrieve()
        started = time.monotonic()
    assert time.monotonic() - started < 5
