"""The payment gateway: a small interface, Stripe behind it, and a ledger-only default.

`StripeGateway` uses the real stripe SDK (`StripeClient`, base address configurable, its own
network retries, which resend the same idempotency key). Every call that creates something carries
an idempotency key derived from our row (`funding-<id>`, `payout-<id>`, ...), never a random one, so a
retry after a timeout or a crash can never create a second PaymentIntent, refund or transfer.
Without Stripe keys the app runs `LedgerOnlyGateway`: it moves no money, says so in every answer
(`moves_money` is False, `name` is "ledger-only") and logs it once per process.
"""
import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from flask import Flask, current_app

log = logging.getLogger(__name__)


class GatewayError(Exception):
    """A payment provider call failed; `retryable` says whether trying again later may succeed."""

    def __init__(self, message: str, *, retryable: bool, unavailable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.unavailable = unavailable  # not the caller's fault: payments are switched off here


class BadSignature(Exception):
    """A webhook's signature did not verify."""


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    amount_cents: int
    currency: str
    client_secret: str | None
    error: str | None = None
    charge_id: str | None = None


@dataclass(frozen=True)
class ConnectedAccount:
    id: str
    payouts_enabled: bool
    details_submitted: bool


@dataclass(frozen=True)
class Transfer:
    id: str | None
    sent: bool


@dataclass(frozen=True)
class RefundResult:
    id: str | None
    status: str
    error: str | None = None


@dataclass(frozen=True)
class RefundSeen:
    id: str
    amount_cents: int
    status: str
    ours: bool  # made through our API (our refund id is in its metadata)


@dataclass(frozen=True)
class BalanceTransaction:
    id: str
    type: str
    amount_cents: int
    currency: str
    source: str | None
    created: datetime


class PaymentGateway(Protocol):
    name: str
    moves_money: bool

    def create_payment_intent(self, *, amount_cents: int, currency: str, funding_id: int, key: str) -> Intent: ...
    def retrieve_payment_intent(self, intent_id: str) -> Intent: ...
    def refund(self, *, payment_intent_id: str, amount_cents: int, refund_id: int, key: str) -> RefundResult: ...
    def retrieve_refund(self, refund_id: str) -> RefundResult: ...
    def refunds_of(self, payment_intent_id: str) -> list[RefundSeen]: ...
    def create_connected_account(self, *, annotator_id: int, email: str, key: str) -> ConnectedAccount: ...
    def retrieve_account(self, account_id: str) -> ConnectedAccount: ...
    def onboarding_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str: ...
    def transfer(self, *, amount_cents: int, currency: str, destination: str, transfer_group: str,
                 payout_id: int, key: str) -> Transfer: ...
    def find_transfer(self, *, transfer_group: str, payout_id: int, key: str) -> Transfer | None: ...
    def balance_transactions(self, *, since: datetime | None) -> Iterator[BalanceTransaction]: ...
    def verify_webhook(self, payload: bytes, signature: str) -> dict | None: ...


def _intent(obj) -> Intent:
    error = obj.get("last_payment_error")
    charge = obj.get("latest_charge")
    return Intent(obj["id"], obj["status"], obj["amount"], obj["currency"], obj.get("client_secret"),
                  error.get("message") if error else None, charge if isinstance(charge, str) or charge is None
                  else charge["id"])


def _account(obj) -> ConnectedAccount:
    return ConnectedAccount(obj["id"], bool(obj.get("payouts_enabled")), bool(obj.get("details_submitted")))


class StripeGateway:
    """Stripe through the official SDK."""

    name = "stripe"
    moves_money = True

    def __init__(self, *, api_key: str, webhook_secret: str | None, api_base: str | None, timeout_s: float,
                 max_retries: int, connect_country: str):
        import stripe

        self._stripe = stripe
        bases = {"api": api_base, "connect": api_base} if api_base else None
        self._client = stripe.StripeClient(api_key, base_addresses=bases, max_network_retries=max_retries,
                                           http_client=stripe.RequestsClient(timeout=timeout_s))
        self._webhook_secret = webhook_secret
        self._country = connect_country

    def _call(self, func, *args, **kwargs):
        stripe = self._stripe
        try:
            obj = func(*args, **kwargs)
            return obj.to_dict() if hasattr(obj, "to_dict") and not hasattr(obj, "has_more") else obj
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayError(f"Stripe did not answer: {exc.user_message or exc}", retryable=True) from exc
        except stripe.StripeError as exc:
            raise GatewayError(f"Stripe refused: {exc.user_message or exc}", retryable=False) from exc

    def create_payment_intent(self, *, amount_cents, currency, funding_id, key):
        """Create a PaymentIntent for a funding; the client confirms it with the secret."""
        obj = self._call(self._client.v1.payment_intents.create,
                         {"amount": amount_cents, "currency": currency, "automatic_payment_methods": {"enabled": True},
                          "metadata": {"funding_id": str(funding_id)}}, {"idempotency_key": key})
        return _intent(obj)

    def retrieve_payment_intent(self, intent_id):
        """Read a PaymentIntent as Stripe has it now."""
        return _intent(self._call(self._client.v1.payment_intents.retrieve, intent_id))

    def refund(self, *, payment_intent_id, amount_cents, refund_id, key):
        """Refund part or all of a succeeded PaymentIntent."""
        obj = self._call(self._client.v1.refunds.create,
                         {"payment_intent": payment_intent_id, "amount": amount_cents,
                          "metadata": {"refund_id": str(refund_id)}}, {"idempotency_key": key})
        return RefundResult(obj["id"], obj["status"], obj.get("failure_reason"))

    def retrieve_refund(self, refund_id):
        """Read a refund as Stripe has it now."""
        obj = self._call(self._client.v1.refunds.retrieve, refund_id)
        return RefundResult(obj["id"], obj["status"], obj.get("failure_reason"))

    def refunds_of(self, payment_intent_id):
        """Every refund Stripe has of a PaymentIntent (ours and any made in the Dashboard)."""
        found, params = [], {"payment_intent": payment_intent_id, "limit": 100}
        while True:
            page = self._call(self._client.v1.refunds.list, params)
            found += [RefundSeen(r["id"], r["amount"], r["status"], bool((r.get("metadata") or {}).get("refund_id")))
                      for r in (item.to_dict() for item in page.data)]
            if not page.has_more or not page.data:
                return found
            params = {**params, "starting_after": page.data[-1].id}

    def create_connected_account(self, *, annotator_id, email, key):
        """Create an Express Connect account for an annotator."""
        obj = self._call(self._client.v1.accounts.create,
                         {"type": "express", "country": self._country, "email": email,
                          "capabilities": {"transfers": {"requested": True}},
                          "metadata": {"annotator_id": str(annotator_id)}}, {"idempotency_key": key})
        return _account(obj)

    def retrieve_account(self, account_id):
        """Read a Connect account's payout readiness."""
        return _account(self._call(self._client.v1.accounts.retrieve, account_id))

    def onboarding_link(self, *, account_id, refresh_url, return_url):
        """Create a one-time onboarding link for a Connect account."""
        obj = self._call(self._client.v1.account_links.create,
                         {"account": account_id, "refresh_url": refresh_url, "return_url": return_url,
                          "type": "account_onboarding"})
        return obj["url"]

    def transfer(self, *, amount_cents, currency, destination, transfer_group, payout_id, key):
        """Transfer money to a connected account (the same key on every try: at most one transfer)."""
        obj = self._call(self._client.v1.transfers.create,
                         {"amount": amount_cents, "currency": currency, "destination": destination,
                          "transfer_group": transfer_group, "metadata": {"payout_id": str(payout_id)}},
                         {"idempotency_key": key})
        return Transfer(obj["id"], True)

    def find_transfer(self, *, transfer_group, payout_id, key):
        """Our transfer for a payout in its transfer group, if Stripe made it (for keys Stripe has forgotten)."""
        page = self._call(self._client.v1.transfers.list, {"transfer_group": transfer_group, "limit": 100})
        for obj in (item.to_dict() for item in page.data):
            if (obj.get("metadata") or {}).get("payout_id") == str(payout_id):
                return Transfer(obj["id"], True)
        return None

    def balance_transactions(self, *, since):
        """Stripe's balance transactions, newest first, from `since` on."""
        params: dict = {"limit": 100}
        if since is not None:
            params["created"] = {"gte": int(since.timestamp())}
        while True:
            page = self._call(self._client.v1.balance_transactions.list, params)
            for obj in (item.to_dict() for item in page.data):
                source = obj.get("source")
                yield BalanceTransaction(obj["id"], obj["type"], obj["amount"], obj["currency"],
                                         source if isinstance(source, str) or source is None else source["id"],
                                         datetime.fromtimestamp(obj["created"], timezone.utc))
            if not page.has_more or not page.data:
                return
            params = {**params, "starting_after": page.data[-1].id}

    def verify_webhook(self, payload, signature):
        """Verify a webhook's signature on the raw body; return the event as a dict."""
        if not self._webhook_secret:
            raise BadSignature("STRIPE_WEBHOOK_SECRET is not configured")
        try:  # the signature and its age only: the body's shape is events.malformed()'s to judge
            self._stripe.WebhookSignature.verify_header(payload, signature, self._webhook_secret,
                                                        self._stripe.Webhook.DEFAULT_TOLERANCE)
        except (self._stripe.SignatureVerificationError, ValueError) as exc:
            raise BadSignature(str(exc)) from exc
        # The SDK refuses only old timestamps. One far ahead of our clock was not made by Stripe now:
        # a replay window opened in advance. A few minutes of clock skew are allowed.
        signed_at = _signed_at(signature)
        if signed_at is None or signed_at > time.time() + FUTURE_TOLERANCE_S:
            raise BadSignature(f"the signature's timestamp is more than {FUTURE_TOLERANCE_S} s in the future")
        try:
            return json.loads(payload)
        except ValueError:
            return None  # signed, but not JSON: events.malformed() refuses it (400)


FUTURE_TOLERANCE_S = 300


def _signed_at(header: str) -> int | None:
    """The `t=` timestamp of a Stripe-Signature header (verify_header checked that there is one)."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


class LedgerOnlyGateway:
    """No payment provider: fundings are simulated, payouts are recorded as not sent. Development only."""

    name = "ledger-only"
    moves_money = False

    def create_payment_intent(self, *, amount_cents, currency, funding_id, key):
        return Intent(f"sim_pi_{funding_id}", "succeeded", amount_cents, currency, None)

    def retrieve_payment_intent(self, intent_id):
        raise GatewayError("ledger-only mode has no payment intents to read", retryable=False)

    def refund(self, *, payment_intent_id, amount_cents, refund_id, key):
        return RefundResult(f"sim_re_{refund_id}", "succeeded")

    def retrieve_refund(self, refund_id):
        return RefundResult(refund_id, "succeeded")

    def refunds_of(self, payment_intent_id):
        return []

    def create_connected_account(self, *, annotator_id, email, key):
        return ConnectedAccount(f"sim_acct_{annotator_id}", True, True)

    def retrieve_account(self, account_id):
        return ConnectedAccount(account_id, True, True)

    def onboarding_link(self, *, account_id, refresh_url, return_url):
        return return_url

    def transfer(self, *, amount_cents, currency, destination, transfer_group, payout_id, key):
        log.warning("ledger-only mode: payout %s of %s %s recorded as not sent", payout_id, amount_cents, currency)
        return Transfer(None, False)

    def find_transfer(self, *, transfer_group, payout_id, key):
        return None

    def balance_transactions(self, *, since):
        return iter(())

    def verify_webhook(self, payload, signature):
        raise BadSignature("ledger-only mode takes no Stripe webhooks")


class DisabledGateway(LedgerOnlyGateway):
    """No Stripe key and no opt-in to simulated money: every payment call is refused."""

    name = "disabled"

    def _off(self, *args, **kwargs):
        raise GatewayError("Payments are not configured: set STRIPE_API_KEY (or PAYMENTS_SIMULATED=1 in "
                           "development).", retryable=False, unavailable=True)

    create_payment_intent = refund = create_connected_account = onboarding_link = transfer = _off


def init_app(app: Flask) -> None:
    """Remember where the gateway lives; it is built on first use."""
    app.extensions["payment_gateway"] = None


def current() -> PaymentGateway:
    """Return the app's gateway: Stripe with keys, ledger-only without."""
    gateway = current_app.extensions.get("payment_gateway")
    if gateway is None:
        config = current_app.config
        if config.get("STRIPE_API_KEY"):
            gateway = StripeGateway(api_key=config["STRIPE_API_KEY"], webhook_secret=config["STRIPE_WEBHOOK_SECRET"],
                                    api_base=config["STRIPE_API_BASE"], timeout_s=config["STRIPE_TIMEOUT_S"],
                                    max_retries=config["STRIPE_MAX_RETRIES"],
                                    connect_country=config["STRIPE_CONNECT_COUNTRY"])
        elif config.get("PAYMENTS_SIMULATED"):
            log.warning("no STRIPE_API_KEY: ledger-only payments; fundings are simulated, no money moves")
            gateway = LedgerOnlyGateway()
        else:
            log.error("no STRIPE_API_KEY and PAYMENTS_SIMULATED is off: payments are switched off")
            gateway = DisabledGateway()
        current_app.extensions["payment_gateway"] = gateway
    return gateway


def random_suffix() -> str:
    """A short random tag (transfer groups of a payout run)."""
    return secrets.token_hex(4)


def describe() -> dict:
    """Which gateway runs and whether it moves real money (what GET /balance and the payments endpoints report)."""
    gateway = current()
    return {"name": gateway.name, "moves_money": gateway.moves_money}
