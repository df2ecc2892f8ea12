"""Money in: fundings of your balance (simulated at once in ledger-only mode), and the balance itself."""
from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from labelctl._http import IdempotencyKey
from labelctl._resource import Resource
from labelctl.types import Balance, Funding


class Payments(Resource):
    def fund(self, amount_cents: int, *, currency: str = "usd", idempotency_key: IdempotencyKey = None) -> Funding:
        """Add money to your balance. With Stripe the funding waits for the payment (confirm its
        `client_secret` with Stripe.js); in ledger-only mode it is `succeeded` (and `simulated`) at once."""
        return cast(Funding, self._http.request("POST", "/payments/fundings",
                                                json={"amount_cents": amount_cents, "currency": currency},
                                                idempotency_key=idempotency_key))

    def funding(self, funding_id: int) -> Funding:
        """Read one of your fundings."""
        return cast(Funding, self._http.request("GET", f"/payments/fundings/{funding_id}"))

    def fundings(self, *, page_size: int = 100) -> Iterator[Funding]:
        """Your fundings, newest first."""
        return cast(Iterator[Funding], self._http.pages("/payments/fundings", page_size=page_size))

    def balance(self) -> Balance:
        """Your balances per currency, and whether the server's payments move real money."""
        return cast(Balance, self._http.request("GET", "/balance"))
