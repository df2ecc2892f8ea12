"""Stripe webhooks: verified on the raw body, stored once by event id, applied by a job.

The job never trusts the event's copy of an object: it re-reads the PaymentIntent or account from
Stripe and applies what Stripe has now. So an event delivered three times, or a `payment_failed`
that arrives after the `succeeded` it preceded, has exactly one effect.
"""
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from marketplace.db import upsert
from marketplace.errors import DomainError, Unauthorized
from marketplace.extensions import db
from marketplace.payments import funding as fundings
from marketplace.payments import refunds
from marketplace.payments import gateway as gateways
from marketplace.payments.jobs import PROCESS_STRIPE_EVENT
from marketplace.payments.models import Funding, PayoutAccount, StripeEvent

SWEEP_AFTER = timedelta(minutes=2)
log = logging.getLogger(__name__)


def malformed(event) -> str | None:
    """What makes a (signed) event unusable, or None: an object with a string id, a type, a data.object."""
    if not isinstance(event, dict):
        return "not a JSON object"
    if not isinstance(event.get("id"), str) or not event["id"] or len(event["id"]) > 255:
        return "no event id"
    if not isinstance(event.get("type"), str):
        return "no event type"
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        return "data.object is not an object"
    object_id = data["object"].get("id")
    if object_id is not None and not isinstance(object_id, str):
        return "data.object.id is not a string"
    return None


def receive(*, payload: bytes, signature: str, now: datetime) -> bool:
    """Verify and store a webhook event; True if it was new (a job will apply it)."""
    try:
        event = gateways.current().verify_webhook(payload, signature)
    except gateways.BadSignature as exc:
        raise Unauthorized(f"The Stripe signature did not verify: {exc}", code="invalid_signature") from exc
    problem = malformed(event)
    if problem:
        log.warning("refused a signed but malformed Stripe event: %s", problem)
        raise DomainError(f"Malformed Stripe event: {problem}.", errors={"json": {"_body": [problem]}}, code="malformed_event")
    obj = (event.get("data") or {}).get("object") or {}
    insert = upsert(StripeEvent)
    event_id = db.session.scalar(
        insert.values(stripe_id=event["id"], type=event.get("type", ""), object_id=obj.get("id"), payload=event,
                      received_at=now)
        .on_conflict_do_nothing(index_elements=["stripe_id"]).returning(StripeEvent.id)
    )
    if event_id is None:
        return False
    PROCESS_STRIPE_EVENT.after_commit(event_id)
    return True


def process(*, event_id: int, now: datetime) -> str | None:
    """Apply one stored event (once); returns what it did."""
    event = db.session.scalar(select(StripeEvent).where(StripeEvent.id == event_id).with_for_update())
    if event is None or event.processed_at is not None:
        return None
    gateway = gateways.current()
    try:
        if event.type.startswith("payment_intent."):
            outcome = _payment_intent(event.object_id, gateway, now)
        elif event.type == "account.updated":
            outcome = _account(event.object_id, gateway)
        elif event.type in ("refund.updated", "charge.refund.updated", "refund.failed"):
            outcome = refunds.refund_updated(stripe_refund_id=event.object_id, now=now)
        elif event.type == "charge.refunded":
            outcome = refunds.record_external(payment_intent_id=(event.payload["data"]["object"] or {}).get(
                "payment_intent"), now=now)
        else:
            outcome = "ignored"
    except gateways.GatewayError as exc:
        if exc.retryable:
            raise  # the job is retried; the event stays unprocessed for the sweep meanwhile
        outcome = f"failed: {exc.message}"
    event.processed_at = now
    event.outcome = outcome
    return outcome


def _payment_intent(intent_id: str, gateway, now: datetime) -> str:
    funding = db.session.scalar(select(Funding).where(Funding.payment_intent_id == intent_id).with_for_update())
    if funding is None:
        return "no funding has this payment intent"
    return fundings.apply_intent(funding=funding, intent=gateway.retrieve_payment_intent(intent_id), now=now)


def _account(account_id: str, gateway) -> str:
    payout_account = db.session.scalar(select(PayoutAccount).where(PayoutAccount.stripe_account_id == account_id)
                                       .with_for_update())
    if payout_account is None:
        return "no payout account has this id"
    fresh = gateway.retrieve_account(account_id)
    payout_account.payouts_enabled = fresh.payouts_enabled
    payout_account.details_submitted = fresh.details_submitted
    return f"payouts_enabled={fresh.payouts_enabled}"


def unprocessed(*, now: datetime) -> list[int]:
    """Events stored a while ago whose job never finished (lost or failed), for the sweep."""
    return list(db.session.scalars(
        select(StripeEvent.id).where(StripeEvent.processed_at.is_(None), StripeEvent.received_at <= now - SWEEP_AFTER)
        .order_by(StripeEvent.id).limit(1000)
    ))
