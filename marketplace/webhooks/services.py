"""Webhook endpoints (register, change, rotate, delete), emitting events, listing and replaying deliveries."""
import json
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, or_, select

from marketplace import queue
from marketplace.accounts.models import ADMIN, Account
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.extensions import db
from marketplace.projects import services as projects
from marketplace.projects.models import Project
from marketplace.webhooks import signing, targets
from marketplace.webhooks.jobs import DELIVER
from marketplace.webhooks.models import (
    EVENTS,
    PENDING,
    PING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

MAX_ENDPOINTS_PER_OWNER = 25
BATCH_SIZE = 50  # deliveries per job: 50 x (5 s connect + 5 s read) stays inside RQ's job timeout
BATCH = "webhook_batch"
QUEUE = queue.WEBHOOKS


def server_key() -> str:
    """Return the key endpoint secrets are derived from."""
    return current_app.config.get("WEBHOOKS_SECRET_KEY") or current_app.config["SECRET_KEY"]


def secret_of(endpoint: WebhookEndpoint) -> str:
    """Return an endpoint's current signing secret."""
    return signing.derive_secret(server_key(), endpoint.secret_salt)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """Return the secrets a delivery is signed with now: the current one, and the previous during a rotation."""
    live = [secret_of(endpoint)]
    if endpoint.previous_secret_salt and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        live.append(signing.derive_secret(server_key(), endpoint.previous_secret_salt))
    return live


def checked_url(url: str) -> str:
    """Return a URL that passes the SSRF guard, or raise a 422 naming `url`."""
    config = current_app.config
    try:
        targets.check(url, allow_http=config["WEBHOOKS_ALLOW_HTTP"], allow_private=config["WEBHOOKS_ALLOW_PRIVATE_TARGETS"])
    except targets.UnsafeTarget as exc:
        raise field_error(exc.message, "url")
    return url.strip()


def _checked_events(events: list[str]) -> list[str]:
    unknown = [event for event in events if event not in EVENTS]
    if unknown:
        raise field_error(f"unknown event {unknown[0]!r}; choose from {', '.join(EVENTS)}", "events")
    return sorted(set(events))


def _owner_for_project(account: Account, project_id: int | None) -> int:
    """Return whose events an endpoint receives: the project's requester, else the caller."""
    if project_id is None:
        return account.id
    try:
        return projects.owned(account=account, project_id=project_id).requester_id
    except NotFound:
        raise field_error("no such project of yours", "project_id")


def register(*, account: Account, fields: dict) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its signing secret, which is shown only this once."""
    owner_id = _owner_for_project(account, fields.get("project_id"))
    count = db.session.scalar(select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.owner_id == owner_id))
    if count >= MAX_ENDPOINTS_PER_OWNER:
        raise Conflict(f"An account may have at most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints.", code="too_many_endpoints")
    endpoint = WebhookEndpoint(owner_id=owner_id, project_id=fields.get("project_id"), url=checked_url(fields["url"]),
                               events=_checked_events(fields["events"]), description=fields.get("description", ""),
                               active=fields.get("active", True), secret_salt=signing.new_salt())
    secret = secret_of(endpoint)
    endpoint.secret_prefix = signing.shown_prefix(secret)
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def owned(*, account: Account, endpoint_id: int, lock: bool = False) -> WebhookEndpoint:
    """Return an endpoint the account owns (any, for an admin); anyone else's is a 404."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    endpoint = db.session.scalar(query.with_for_update() if lock else query)
    if endpoint is None or (account.role != ADMIN and endpoint.owner_id != account.id):
        raise NotFound("No such webhook endpoint.")
    return endpoint


def listing(*, account: Account, project_id: int | None, cursor: int | None, limit: int) -> list[WebhookEndpoint]:
    """List the account's endpoints (every one, for an admin)."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.id > (cursor or 0)).order_by(WebhookEndpoint.id).limit(limit + 1)
    if account.role != ADMIN:
        query = query.where(WebhookEndpoint.owner_id == account.id)
    if project_id is not None:
        query = query.where(WebhookEndpoint.project_id == project_id)
    return list(db.session.scalars(query))


def update(*, account: Account, endpoint_id: int, fields: dict) -> WebhookEndpoint:
    """Change an endpoint's URL, events, project filter, description or active flag."""
    endpoint = owned(account=account, endpoint_id=endpoint_id, lock=True)
    if "url" in fields:
        endpoint.url = checked_url(fields["url"])
    if "events" in fields:
        endpoint.events = _checked_events(fields["events"])
    if "project_id" in fields:
        owner_id = _owner_for_project(account, fields["project_id"])
        if fields["project_id"] is not None and owner_id != endpoint.owner_id:
            raise field_error("the project belongs to another requester than this endpoint", "project_id")
        endpoint.project_id = fields["project_id"]
    for name in ("description", "active"):
        if name in fields:
            setattr(endpoint, name, fields[name])
    db.session.flush()
    return endpoint


def rotate_secret(*, account: Account, endpoint_id: int, previous_valid_for_s: int, now: datetime) -> tuple[WebhookEndpoint, str]:
    """Give an endpoint a new secret; the previous one keeps signing too for a grace period."""
    endpoint = owned(account=account, endpoint_id=endpoint_id, lock=True)
    endpoint.previous_secret_salt = endpoint.secret_salt if previous_valid_for_s else None
    endpoint.previous_secret_expires_at = now + timedelta(seconds=previous_valid_for_s) if previous_valid_for_s else None
    endpoint.secret_salt = signing.new_salt()
    secret = secret_of(endpoint)
    endpoint.secret_prefix = signing.shown_prefix(secret)
    db.session.flush()
    return endpoint, secret


def delete(*, account: Account, endpoint_id: int) -> None:
    """Delete an endpoint with its deliveries and their attempts."""
    endpoint = owned(account=account, endpoint_id=endpoint_id, lock=True)
    db.session.delete(endpoint)
    db.session.flush()


def emit(*, project_id: int, event: str, payload: dict, now: datetime) -> list[int]:
    """Record `event` for every active endpoint of the project's owner that subscribes to it.

    Contract for callers (task completion, project completion, escalation, recompute):
    - Call it inside your own transaction, after the change the event reports; it never commits.
      The deliveries commit or roll back with your change, so a rolled-back change sends nothing.
    - `event` is one of models.EVENTS; `payload` is JSON-serialisable (checked here, so a bad payload
      fails in your transaction, not in a worker) and becomes the `data` of the delivered body
      `{id, event, created_at, project_id, data}`. Keep it small: ids and summary fields.
    - Endpoints match when active, subscribed to the event, and filtered to this project or to none.
    - Sending happens after the commit: deliveries are queued in jobs of up to BATCH_SIZE, one job per
      batch for the whole transaction however many times you call emit; a lost job is harmless,
      the every-minute sweep sends whatever is due. Delivery is at least once, in no set order.
    - Costs one SELECT when the owner has no matching endpoint. Returns the new delivery ids.
    """
    return emit_many(project_id=project_id, event=event, payloads=[payload], now=now)


def emit_many(*, project_id: int, event: str, payloads: list[dict], now: datetime) -> list[int]:
    """emit() for many events of one kind and project: the endpoints are looked up once, rows inserted at once."""
    if event not in EVENTS and event != PING:
        raise ValueError(f"unknown webhook event {event!r}")
    for payload in payloads:
        json.dumps(payload)
    if not payloads:
        return []
    endpoints = db.session.scalars(
        select(WebhookEndpoint).join(Project, Project.requester_id == WebhookEndpoint.owner_id)
        .where(Project.id == project_id, WebhookEndpoint.active,
               or_(WebhookEndpoint.project_id.is_(None), WebhookEndpoint.project_id == project_id))
    ).all()
    subscribed = [e for e in endpoints if event in e.events]
    return _record(endpoints=subscribed, project_id=project_id, event=event, payloads=payloads, now=now)


def _record(*, endpoints: list[WebhookEndpoint], project_id: int | None, event: str, payloads: list[dict],
            now: datetime) -> list[int]:
    if not endpoints:
        return []
    rows = [{"endpoint_id": e.id, "project_id": project_id, "event": event, "event_id": f"evt_{uuid.uuid4().hex}",
             "payload": payload, "status": PENDING, "cycle": 1, "attempt_count": 0, "next_attempt_at": now,
             "created_at": now} for e in endpoints for payload in payloads]
    ids = list(db.session.scalars(insert(WebhookDelivery).returning(WebhookDelivery.id), rows))
    schedule(ids)
    return ids


def schedule(delivery_ids: list[int]) -> None:
    """Queue delivery jobs for these ids after the commit, filling this transaction's open batch first."""
    if not delivery_ids:
        return
    batch = _open_batch()
    for delivery_id in delivery_ids:
        if len(batch) >= BATCH_SIZE:
            batch = _new_batch()
        batch.append(delivery_id)


def _open_batch() -> list[int]:
    # A batch is open while its job call is still waiting for this transaction's commit; the call
    # holds the list itself, so ids appended later in the transaction go out with it.
    batch = db.session.info.get(BATCH)
    waiting = db.session.info.get(queue.PENDING) or []
    if batch is None or not any(call.path == DELIVER.path and call.args[0] is batch for call in waiting):
        return _new_batch()
    return batch


class DeliveryBatch(list):
    """Delivery ids still growing inside a transaction; hashable by identity, sent to RQ as a plain list."""

    __hash__ = object.__hash__

    def __reduce__(self):
        return list, (list(self),)


def _new_batch() -> list[int]:
    batch = DeliveryBatch()
    DELIVER.after_commit(batch)
    db.session.info[BATCH] = batch
    return batch


def ping(*, account: Account, endpoint_id: int, now: datetime) -> WebhookDelivery:
    """Queue a `ping` delivery to one endpoint, whatever events it subscribes to."""
    endpoint = owned(account=account, endpoint_id=endpoint_id)
    if not endpoint.active:
        raise Conflict("This endpoint is disabled; enable it before testing.", code="endpoint_disabled")
    payload = {"endpoint_id": endpoint.id, "message": "Webhook test from the marketplace."}
    [delivery_id] = _record(endpoints=[endpoint], project_id=endpoint.project_id, event=PING, payloads=[payload], now=now)
    return db.session.get(WebhookDelivery, delivery_id)


def deliveries(*, account: Account, endpoint_id: int, status: str | None, event: str | None,
               cursor: int | None, limit: int) -> list[WebhookDelivery]:
    """List an endpoint's deliveries, newest first, each with its attempts."""
    endpoint = owned(account=account, endpoint_id=endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id).order_by(WebhookDelivery.id.desc())
    if cursor:
        query = query.where(WebhookDelivery.id < cursor)
    if status:
        query = query.where(WebhookDelivery.status == status)
    if event:
        query = query.where(WebhookDelivery.event == event)
    found = list(db.session.scalars(query.limit(limit + 1)))
    attempts: dict[int, list] = {d.id: [] for d in found}
    if found:
        for attempt in db.session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts))
                                          .order_by(WebhookAttempt.id)):
            attempts[attempt.delivery_id].append(attempt)
    for delivery in found:
        delivery.attempts = attempts[delivery.id]
    return found


def replay(*, account: Account, delivery_id: int, now: datetime) -> WebhookDelivery:
    """Send a delivery again from a fresh cycle of attempts: same event id, same payload."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound("No such webhook delivery.")
    endpoint = owned(account=account, endpoint_id=delivery.endpoint_id)
    if not endpoint.active:
        raise Conflict("This endpoint is disabled; enable it before replaying.", code="endpoint_disabled")
    locked = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                               .with_for_update(skip_locked=True))
    if locked is None:
        raise Conflict("This delivery is being sent right now; try again in a few seconds.",
                       headers={"Retry-After": "10"}, code="delivery_in_progress")
    locked.status, locked.cycle, locked.attempt_count, locked.next_attempt_at = PENDING, locked.cycle + 1, 0, now
    locked.delivered_at = None
    db.session.flush()
    schedule([locked.id])
    return locked
