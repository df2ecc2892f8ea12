"""Sending deliveries: one attempt at a time under a row lock, retries on a backoff schedule.

A delivery is sent only while its row is locked (`FOR UPDATE SKIP LOCKED`), so two workers never
send it at once, and only while it is pending and due, so a second job for the same id, or a sweep
racing the first job, does nothing. Success (any 2xx) ends the delivery: it is never sent again
unless a requester replays it. Each failure schedules the next attempt after BACKOFF_S; after
WEBHOOKS_MAX_ATTEMPTS the delivery fails for good. A URL the SSRF guard refuses fails at once.
"""
import json
import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from marketplace import metrics
from marketplace.extensions import db
from marketplace.webhooks import sender, signing, targets
from marketplace.webhooks.models import (
    DELIVERED,
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from marketplace.webhooks.services import signing_secrets

# Wait before attempt 2, 3, ...; the last value repeats if more attempts are configured.
BACKOFF_S = (30, 120, 600, 3600, 6 * 3600)


def backoff(attempts_made: int) -> timedelta:
    """Return how long to wait after the n-th failed attempt of a cycle."""
    return timedelta(seconds=BACKOFF_S[min(attempts_made, len(BACKOFF_S)) - 1])


def body_of(delivery: WebhookDelivery) -> bytes:
    """Return the JSON body sent for a delivery (the same bytes on every attempt)."""
    envelope = {"id": delivery.event_id, "event": delivery.event, "created_at": delivery.created_at.isoformat(),
                "project_id": delivery.project_id, "data": delivery.payload}
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def _due(query, now: datetime):
    return query.where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)


def attempt(*, delivery_id: int, now: datetime) -> str | None:
    """Make one attempt at a delivery if it is due and nobody else is sending it; return its status."""
    delivery = db.session.scalar(_due(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id), now)
                                 .with_for_update(skip_locked=True))
    return metrics.webhook_attempted(_send(delivery, now)) if delivery else None


def attempt_next_due(*, now: datetime) -> str | None:
    """Make one attempt at the most overdue delivery nobody else is sending; None when none is due."""
    delivery = db.session.scalar(_due(select(WebhookDelivery), now).order_by(WebhookDelivery.next_attempt_at)
                                 .limit(1).with_for_update(skip_locked=True))
    return metrics.webhook_attempted(_send(delivery, now)) if delivery else None


def _send(delivery: WebhookDelivery, now: datetime) -> str:
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if not endpoint.active:
        return _finish(delivery, FAILED, error="the endpoint is disabled; replay after enabling it")
    config = current_app.config
    try:
        target = targets.check(endpoint.url, allow_http=config["WEBHOOKS_ALLOW_HTTP"],
                               allow_private=config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"])
    except targets.UnsafeTarget as exc:
        response = sender.Response(status_code=None, error=f"refused: {exc.message}", excerpt=None, duration_ms=0)
        return _record(delivery, now, response, give_up=not exc.retryable)
    body = body_of(delivery)
    timestamp = int(time.time())  # the receiver checks it against its own clock
    headers = {
        "X-Marketplace-Event": delivery.event,
        "X-Marketplace-Delivery": delivery.event_id,
        "X-Marketplace-Timestamp": str(timestamp),
        "X-Marketplace-Signature": signing.signature_header(signing_secrets(endpoint, now), timestamp, body),
    }
    response = sender.post(target, body, headers, timeout_s=config["WEBHOOKS_TIMEOUT_S"])
    return _record(delivery, now, response, give_up=False)


def _record(delivery: WebhookDelivery, now: datetime, response: sender.Response, give_up: bool) -> str:
    delivery.attempt_count += 1
    db.session.add(WebhookAttempt(delivery_id=delivery.id, cycle=delivery.cycle, number=delivery.attempt_count,
                                  started_at=now, duration_ms=response.duration_ms, status_code=response.status_code,
                                  error=response.error, response_excerpt=response.excerpt))
    delivery.last_status_code = response.status_code
    if response.ok:
        delivery.delivered_at = now
        return _finish(delivery, DELIVERED, error=None)
    if give_up or delivery.attempt_count >= current_app.config["WEBHOOKS_MAX_ATTEMPTS"]:
        return _finish(delivery, FAILED, error=response.error)
    delivery.last_error = response.error
    delivery.next_attempt_at = now + backoff(delivery.attempt_count)
    db.session.flush()
    return PENDING


def _finish(delivery: WebhookDelivery, status: str, error: str | None) -> str:
    delivery.status, delivery.last_error, delivery.next_attempt_at = status, error, None
    db.session.flush()
    return status
