"""Registration, login tokens, the caller's account, and API keys."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource
from labelctl.types import Account, ApiKey, Token

ROLES = ("requester", "annotator", "vendor")


class Accounts(Resource):
    def register(self, email: str, password: str, *, role: str = "requester", display_name: str = "",
                 idempotency_key: IdempotencyKey = None) -> Account:
        """Create an account (`requester`, `annotator` or `vendor`); log in afterwards."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        body: dict[str, Any] = {"email": email, "password": password}
        if display_name:
            body["display_name"] = display_name
        return cast(Account, self._http.request("POST", f"/{role}s", json=body, idempotency_key=idempotency_key))

    def login(self, email: str, password: str, *, use: bool = True) -> Token:
        """Exchange email and password for a bearer token; `use` makes this client send it from now on."""
        token = cast(Token, self._http.request("POST", "/auth/tokens", json={"email": email, "password": password}))
        if use:
            self._http.bearer = token["token"]
        return token

    def logout(self, token_id: int) -> None:
        """Revoke one of your login tokens."""
        self._http.request("DELETE", f"/auth/tokens/{token_id}")

    def me(self) -> Account:
        """The account the client's credential belongs to."""
        return cast(Account, self._http.request("GET", "/me"))

    def feed(self, *, kinds: list[str] | None = None, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Your feed, newest first (annotators): rejections, missed gold, rulings on disputes, bonuses."""
        return self._http.pages("/me/feed", {"kind": kinds}, page_size=page_size)


class ApiKeys(Resource):
    def create(self, name: str = "", *, use: bool = False, idempotency_key: IdempotencyKey = None) -> ApiKey:
        """Create a long-lived API key; its `key` is in this response only. `use` switches the client to it."""
        key = cast(ApiKey, self._http.request("POST", "/api-keys", json={"name": name},
                                              idempotency_key=idempotency_key))
        if use:
            self._http.bearer = key["key"]
        return key

    def list(self) -> Iterator[ApiKey]:
        """Your API keys (prefixes only; the server returns them in one unpaged list)."""
        return iter(cast(list[ApiKey], self._http.request("GET", "/api-keys")["items"]))

    def revoke(self, key_id: int, *, idempotency_key: IdempotencyKey = None) -> ApiKey:
        """Revoke an API key."""
        return cast(ApiKey, self._http.request("DELETE", f"/api-keys/{key_id}", idempotency_key=idempotency_key))
