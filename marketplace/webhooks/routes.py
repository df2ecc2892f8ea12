"""Webhook endpoints for requesters (their own) and admins (all); anyone else's endpoint is a 404."""
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, REQUESTER
from marketplace.db import transaction, utcnow
from marketplace.pagination import page_of
from marketplace.webhooks import schemas, services
from marketplace.idempotency.keys import idempotent

bp = Blueprint("webhooks", __name__, description="Signed webhooks out: endpoints, deliveries, replays")


def _with_secret(endpoint, secret: str) -> dict:
    return {**{name: getattr(endpoint, name) for name in schemas.WebhookEndpointOut().fields}, "secret": secret}


@bp.route("/webhooks")
class Webhooks(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.WebhookEndpointListArgs, location="query")
    @bp.response(200, schemas.WebhookEndpointPageOut)
    def get(self, args):
        """List your webhook endpoints (every one, for an admin)."""
        return page_of(services.listing(account=current_account(), **args), args["limit"])

    @requires(REQUESTER, ADMIN)
    @idempotent(secret_fields=('secret',))
    @bp.arguments(schemas.WebhookEndpointIn)
    @bp.response(201, schemas.WebhookEndpointWithSecretOut)
    def post(self, fields):
        """Register an endpoint; the response shows its signing secret, once."""
        with transaction():
            endpoint, secret = services.register(account=current_account(), fields=fields)
        return _with_secret(endpoint, secret)


@bp.route("/webhooks/<int:endpoint_id>")
class WebhookItem(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.response(200, schemas.WebhookEndpointOut)
    def get(self, endpoint_id):
        """Read an endpoint (its secret only by prefix)."""
        return services.owned(account=current_account(), endpoint_id=endpoint_id)

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.arguments(schemas.WebhookEndpointPatch)
    @bp.response(200, schemas.WebhookEndpointOut)
    def patch(self, fields, endpoint_id):
        """Change an endpoint's URL, events, project, description or active flag."""
        with transaction():
            return services.update(account=current_account(), endpoint_id=endpoint_id, fields=fields)

    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(204)
    def delete(self, endpoint_id):
        """Delete an endpoint with its delivery history."""
        with transaction():
            services.delete(account=current_account(), endpoint_id=endpoint_id)


@bp.route("/webhooks/<int:endpoint_id>/rotate-secret")
class WebhookRotation(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent(secret_fields=('secret',))
    @bp.arguments(schemas.WebhookRotateIn)
    @bp.response(200, schemas.WebhookEndpointWithSecretOut)
    def post(self, body, endpoint_id):
        """Replace the signing secret; the old one also signs for `previous_valid_for_s`."""
        with transaction():
            endpoint, secret = services.rotate_secret(account=current_account(), endpoint_id=endpoint_id,
                                                      now=utcnow(), **body)
        return _with_secret(endpoint, secret)


@bp.route("/webhooks/<int:endpoint_id>/test")
class WebhookTest(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(202, schemas.WebhookDeliveryOut)
    def post(self, endpoint_id):
        """Send a `ping` event to the endpoint now."""
        with transaction():
            return services.ping(account=current_account(), endpoint_id=endpoint_id, now=utcnow())


@bp.route("/webhooks/<int:endpoint_id>/deliveries")
class WebhookDeliveries(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(schemas.WebhookDeliveryListArgs, location="query")
    @bp.response(200, schemas.WebhookDeliveryPageOut)
    def get(self, args, endpoint_id):
        """List an endpoint's deliveries, newest first, with every attempt."""
        return page_of(services.deliveries(account=current_account(), endpoint_id=endpoint_id, **args), args["limit"])


@bp.route("/webhook-deliveries/<int:delivery_id>/replay")
class WebhookReplay(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(202, schemas.WebhookDeliveryOut)
    def post(self, delivery_id):
        """Send a delivery again (same event id and payload) with a fresh cycle of attempts."""
        with transaction():
            return services.replay(account=current_account(), delivery_id=delivery_id, now=utcnow())
