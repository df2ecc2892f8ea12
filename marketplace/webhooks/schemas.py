"""Webhook schemas. A secret appears in a response only when it is created or rotated."""
from marketplace.inputs import StrictBoolean, id_range
from marshmallow import Schema, fields, validate

from marketplace.pagination import PageArgs, page_schema
from marketplace.webhooks.models import DELIVERY_STATUSES, EVENTS, PING


def _url(**kw):
    return fields.String(validate=validate.Length(min=1, max=2048), **kw, metadata={
        "description": "https URL on a public address", "example": "https://hooks.example.com/labels"})


def _events(**kw):
    return fields.List(fields.String(validate=validate.OneOf(EVENTS)), validate=validate.Length(min=1, max=len(EVENTS)),
                       **kw, metadata={"example": ["task.completed", "project.completed"]})


def _project_id(**kw):
    return fields.Integer(strict=True, allow_none=True, validate=id_range(), **kw,
                          metadata={"description": "send only this project's events; null: all your projects"})


class WebhookEndpointIn(Schema):
    url = _url(required=True)
    events = _events(required=True)
    project_id = _project_id(load_default=None)
    description = fields.String(load_default="", validate=validate.Length(max=200))
    active = StrictBoolean(load_default=True)


class WebhookEndpointPatch(Schema):
    url = _url()
    events = _events()
    project_id = _project_id()
    description = fields.String(validate=validate.Length(max=200))
    active = StrictBoolean()


class WebhookEndpointOut(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    project_id = fields.Integer(allow_none=True)
    description = fields.String()
    active = fields.Boolean()
    secret_prefix = fields.String(metadata={"description": "the start of the signing secret, to tell secrets apart"})
    previous_secret_expires_at = fields.DateTime(allow_none=True,
                                                 metadata={"description": "until then the previous secret also signs"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookEndpointWithSecretOut(WebhookEndpointOut):
    secret = fields.String(metadata={"description": "the signing secret; shown only now, store it"})


WebhookEndpointPageOut = page_schema(WebhookEndpointOut, "WebhookEndpointPageOut")


class WebhookEndpointListArgs(PageArgs):
    project_id = fields.Integer(load_default=None, validate=id_range())


class WebhookRotateIn(Schema):
    previous_valid_for_s = fields.Integer(strict=True, load_default=86_400, validate=validate.Range(min=0, max=7 * 86_400),
                                          metadata={"description": "how long the old secret keeps signing too; 0: stop now"})


class WebhookAttemptOut(Schema):
    cycle = fields.Integer(metadata={"description": "1, then one more per replay"})
    number = fields.Integer()
    started_at = fields.DateTime()
    duration_ms = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    response_excerpt = fields.String(allow_none=True)


class WebhookDeliveryOut(Schema):
    id = fields.Integer()
    endpoint_id = fields.Integer()
    project_id = fields.Integer(allow_none=True)
    event = fields.String()
    event_id = fields.String(metadata={"description": "sent as X-Marketplace-Delivery; the same on retries and replays"})
    payload = fields.Dict()
    status = fields.String(metadata={"enum": list(DELIVERY_STATUSES)})
    cycle = fields.Integer()
    attempt_count = fields.Integer(metadata={"description": "attempts in the current cycle"})
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)


class WebhookDeliveryWithAttemptsOut(WebhookDeliveryOut):
    attempts = fields.List(fields.Nested(WebhookAttemptOut))


WebhookDeliveryPageOut = page_schema(WebhookDeliveryWithAttemptsOut, "WebhookDeliveryPageOut")


class WebhookDeliveryListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(DELIVERY_STATUSES))
    event = fields.String(load_default=None, validate=validate.OneOf((*EVENTS, PING)))
