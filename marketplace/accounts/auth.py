"""The current account and the role guards every route uses."""
import functools

from flask import current_app, g, request

from marketplace.accounts import services
from marketplace.accounts.services import Principal
from marketplace.db import utcnow
from marketplace.errors import Forbidden, Unauthorized


def current_account() -> Principal:
    """Return the account authenticated for this request (its id and role)."""
    return g.account


def _authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, bearer = header.partition(" ")
    if scheme.lower() != "bearer" or not bearer.strip():
        raise Unauthorized("Send 'Authorization: Bearer <API key or token>'.", headers={"WWW-Authenticate": "Bearer"}, code="missing_credentials")
    return services.authenticate(bearer=bearer.strip(), now=utcnow(), cache_s=current_app.config["AUTH_CACHE_S"])


def requires(*roles: str):
    """Guard a view: a valid bearer credential of one of these roles (checked before the body)."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            account = _authenticate()
            if account.role not in roles:
                raise Forbidden(f"This endpoint is for {' or '.join(roles)} accounts.", code="wrong_role")
            g.account = account
            return view(*args, **kwargs)

        return guarded

    return decorate
