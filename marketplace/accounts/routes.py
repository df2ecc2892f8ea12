"""Registration, login, the caller's account, and requester API keys."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts import schemas, services
from marketplace.accounts.auth import current_account, requires
from marketplace.accounts.models import ADMIN, ANNOTATOR, REQUESTER, ROLES, VENDOR
from marketplace.db import transaction, utcnow
from marketplace.limits import login_failures_per_account, login_per_client, signup_per_client
from marketplace.idempotency.keys import idempotent
from marketplace.pagination import PageArgs, page_of

bp = Blueprint("accounts", __name__, description="Accounts, login and API keys")


def _register(data: dict, role: str):
    with transaction():
        return services.register(role=role, **data)


@bp.route("/requesters")
class Requesters(MethodView):
    @signup_per_client
    @bp.arguments(schemas.RegistrationIn)
    @bp.response(201, schemas.AccountOut)
    @bp.doc(security=[])
    def post(self, data):
        """Register a requester account."""
        return _register(data, REQUESTER)


@bp.route("/annotators")
class Annotators(MethodView):
    @signup_per_client
    @bp.arguments(schemas.RegistrationIn)
    @bp.response(201, schemas.AccountOut)
    @bp.doc(security=[])
    def post(self, data):
        """Register an annotator account."""
        return _register(data, ANNOTATOR)


@bp.route("/vendors")
class Vendors(MethodView):
    @signup_per_client
    @bp.arguments(schemas.RegistrationIn)
    @bp.response(201, schemas.AccountOut)
    @bp.doc(security=[])
    def post(self, data):
        """Register a vendor account: it owns teams requesters may target, and watches their work."""
        return _register(data, VENDOR)


@bp.route("/auth/tokens")
class Tokens(MethodView):
    @login_per_client
    @login_failures_per_account
    @bp.arguments(schemas.LoginIn)
    @bp.response(201, schemas.TokenOut)
    @bp.doc(security=[])
    def post(self, data):
        """Log in: exchange email and password for a bearer token with an expiry."""
        with transaction():
            token, bearer = services.login(now=utcnow(), ttl_s=current_app.config["TOKEN_TTL_S"], **data)
        return {"id": token.id, "token": bearer, "expires_at": token.expires_at}


@bp.route("/auth/tokens/<int:token_id>")
class Token(MethodView):
    @requires(*ROLES, VENDOR)
    @idempotent
    @bp.response(204)
    def delete(self, token_id):
        """Revoke one of your login tokens (log out)."""
        with transaction():
            services.revoke_token(token_id=token_id, account=current_account(), now=utcnow())


@bp.route("/me")
class Me(MethodView):
    @requires(*ROLES, VENDOR)
    @bp.response(200, schemas.AccountOut)
    def get(self):
        """Read the calling account."""
        return services.get_account(account_id=current_account().id)


@bp.route("/api-keys")
class ApiKeys(MethodView):
    @requires(REQUESTER, ADMIN)
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, schemas.ApiKeyListOut)
    def get(self, args):
        """List your API keys (prefixes only), newest first."""
        return page_of(services.list_api_keys(account=current_account(), **args), args["limit"])

    @requires(REQUESTER, ADMIN)
    @idempotent(secret_fields=('key',))
    @bp.arguments(schemas.ApiKeyIn)
    @bp.response(201, schemas.NewApiKeyOut)
    def post(self, data):
        """Create an API key; the key is in this response and nowhere else."""
        with transaction():
            key, bearer = services.create_api_key(account=current_account(), name=data["name"])
        return {**{name: getattr(key, name) for name in schemas.ApiKeyOut().fields}, "key": bearer}


@bp.route("/api-keys/<int:key_id>")
class ApiKeyItem(MethodView):
    @requires(REQUESTER, ADMIN)
    @idempotent
    @bp.response(200, schemas.ApiKeyOut)
    def delete(self, key_id):
        """Revoke an API key."""
        with transaction():
            return services.revoke_api_key(key_id=key_id, account=current_account(), now=utcnow())
