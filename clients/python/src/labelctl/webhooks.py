"""Webhook endpoints: register (the signing secret is shown once), list, change, delete, rotate, test."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource
from labelctl.types import WebhookDelivery, WebhookEndpoint

EVENTS = ("task.completed", "project.completed", "task.escalated", "recompute.finished")


class Webhooks(Resource):
    def create(self, url: str, events: Sequence[str], *, project_id: int | None = None, description: str = "",
               active: bool = True, idempotency_key: IdempotencyKey = None) -> WebhookEndpoint:
        """Register an https endpoint for some events (of one project, or all yours); keep its `secret`."""
        body = {"url": url, "events": list(events), "project_id": project_id, "description": description,
                "active": active}
        return cast(WebhookEndpoint, self._http.request("POST", "/webhooks", json=body, idempotency_key=idempotency_key))

    def list(self, *, project_id: int | None = None, page_size: int = 100) -> Iterator[WebhookEndpoint]:
        """Your endpoints, following the cursor."""
        return cast(Iterator[WebhookEndpoint], self._http.pages("/webhooks", {"project_id": project_id},
                                                                page_size=page_size))

    def get(self, endpoint_id: int) -> WebhookEndpoint:
        """Read an endpoint (its secret only by prefix)."""
        return cast(WebhookEndpoint, self._http.request("GET", f"/webhooks/{endpoint_id}"))

    def update(self, endpoint_id: int, *, idempotency_key: IdempotencyKey = None, **changes: Any) -> WebhookEndpoint:
        """Change url, events, project_id, description or active."""
        return cast(WebhookEndpoint, self._http.request("PATCH", f"/webhooks/{endpoint_id}", json=changes,
                                                        idempotency_key=idempotency_key))

    def delete(self, endpoint_id: int, *, idempotency_key: IdempotencyKey = None) -> None:
        """Delete an endpoint with its delivery history."""
        self._http.request("DELETE", f"/webhooks/{endpoint_id}", idempotency_key=idempotency_key)

    def rotate_secret(self, endpoint_id: int, *, previous_valid_for_s: int | None = None,
                      idempotency_key: IdempotencyKey = None) -> WebhookEndpoint:
        """Replace the signing secret (the old one keeps signing for `previous_valid_for_s`, default a day)."""
        body = {} if previous_valid_for_s is None else {"previous_valid_for_s": previous_valid_for_s}
        return cast(WebhookEndpoint, self._http.request("POST", f"/webhooks/{endpoint_id}/rotate-secret", json=body,
                                                        idempotency_key=idempotency_key))

    def test(self, endpoint_id: int, *, idempotency_key: IdempotencyKey = None) -> WebhookDelivery:
        """Send a `ping` event to the endpoint now."""
        return cast(WebhookDelivery, self._http.request("POST", f"/webhooks/{endpoint_id}/test",
                                                        idempotency_key=idempotency_key))

    def deliveries(self, endpoint_id: int, *, status: str | None = None, event: str | None = None,
                   page_size: int = 100) -> Iterator[WebhookDelivery]:
        """An endpoint's deliveries, newest first, each with its attempts."""
        return cast(Iterator[WebhookDelivery], self._http.pages(
            f"/webhooks/{endpoint_id}/deliveries", {"status": status, "event": event}, page_size=page_size))

    def replay(self, delivery_id: int, *, idempotency_key: IdempotencyKey = None) -> WebhookDelivery:
        """Send a delivery again (same event id and payload)."""
        return cast(WebhookDelivery, self._http.request("POST", f"/webhook-deliveries/{delivery_id}/replay",
                                                        idempotency_key=idempotency_key))
