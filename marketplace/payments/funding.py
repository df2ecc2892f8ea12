"""Funding: a requester's money arrives through a Stripe PaymentIntent confirmed by a verified webhook.

The requester asks for a funding; we create the PaymentIntent (idempotency key `funding-<id>`) and
return its client secret. Nothing is credited until Stripe says the payment succeeded, and then only
from the PaymentIntent as re-read from Stripe (never from the event's copy), once: the ledger key
`funding-<id>` makes a second credit impossible however many events arrive, in whatever order.
"""
from datetime import datetime

from sqlalchemy import select

from marketplace.accounts.models import Account
from marketplace.errors import DomainError, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import REQUESTER_AVAILABLE, REQUESTER_RECEIVABLE, STRIPE_CASH
from marketplace.payments import gateway as gateways
from marketplace.payments import idempotency
from marketplace.payments.models import CREATED, FAILED, SUCCEEDED, Funding

MIN_CENTS = 50  # Stripe's smallest charge in USD
MAX_CENTS = 100_000_000


class ProviderUnavailable(DomainError):
    """The payment provider could not be reached; nothing was changed, try again."""

    code = "payments_unavailable"
    status = 503


def provider_error(exc: gateways.GatewayError) -> DomainError:
    """Turn a gateway failure into the error a client sees."""
    if exc.unavailable:
        return ProviderUnavailable(exc.message)
    if exc.retryable:
        return ProviderUnavailable(exc.message + " Nothing was changed; try again.", headers={"Retry-After": "5"})
    return ValidationFailed(exc.message)


def create(*, requester: Account, amount_cents: int, currency: str, key: str | None, body_hash: str,
           now: datetime) -> Funding:
    """Open a funding and its PaymentIntent; a replay of the same Idempotency-Key returns the first one."""
    if key is not None:
        existing = db.session.scalar(select(Funding).where(Funding.requester_id == requester.id,
                                                           Funding.idempotency_key == key))
        if existing is not None:
            idempotency.ensure_same(existing.request_hash, body_hash)
            return existing
    funding = Funding(requester_id=requester.id, amount_cents=amount_cents, currency=currency.lower(), status=CREATED,
                      idempotency_key=key, request_hash=body_hash, refunded_cents=0, simulated=False)
    first = idempotency.insert_once(funding, lambda: db.session.scalar(
        select(Funding).where(Funding.requester_id == requester.id, Funding.idempotency_key == key)))
    if first is not funding:
        idempotency.ensure_same(first.request_hash, body_hash)
        return first
    gateway = gateways.current()
    try:
        intent = gateway.create_payment_intent(amount_cents=amount_cents, currency=funding.currency,
                                               funding_id=funding.id, key=f"funding-{funding.id}")
    except gateways.GatewayError as exc:
        raise provider_error(exc) from exc
    funding.payment_intent_id = intent.id
    funding.client_secret = intent.client_secret
    if not gateway.moves_money:
        funding.simulated = True
        apply_intent(funding=funding, intent=intent, now=now)
    db.session.flush()
    return funding


def apply_intent(*, funding: Funding, intent: gateways.Intent, now: datetime) -> str:
    """Bring a funding up to date with its PaymentIntent as Stripe has it; returns what happened."""
    if intent.status == SUCCEEDED:
        if intent.amount_cents != funding.amount_cents or intent.currency != funding.currency:
            return f"amount mismatch: intent {intent.amount_cents} {intent.currency}, funding {funding.amount_cents}"
        cash = ledger.account(STRIPE_CASH, None, funding.currency)
        available = ledger.account(REQUESTER_AVAILABLE, funding.requester_id, funding.currency)
        txn = ledger.post(key=f"funding-{funding.id}", kind="funding", reference=("funding", funding.id),
                          moves=[ledger.Move(cash, available, funding.amount_cents)], now=now,
                          external_id=intent.id, memo="simulated funding (ledger-only mode)" if funding.simulated
                          else "Stripe payment")
        funding.status = SUCCEEDED
        funding.charge_id = intent.charge_id
        if txn is None:
            return "already credited"
        _settle_debt(funding, available, now)
        return "credited"
    if funding.status == CREATED and intent.status in ("requires_payment_method", "canceled") and (
            intent.error or intent.status == "canceled"):
        funding.status = FAILED
        funding.failure_message = intent.error or "canceled"
        return "failed"
    return f"no change ({intent.status})"


def _settle_debt(funding: Funding, available: int, now: datetime) -> None:
    """Pay back from new money what the platform advanced for this requester (see disputes)."""
    owed = ledger.find_account(REQUESTER_RECEIVABLE, funding.requester_id, funding.currency)
    if owed is None:
        return
    rows = ledger.locked([owed.id, available])
    amount = min(rows[owed.id].balance_cents, ledger.spare_cents(rows[available]))
    if amount > 0:
        ledger.post(key=f"funding-settles-debt-{funding.id}", kind="debt_settled", reference=("funding", funding.id),
                    moves=[ledger.Move(available, owed.id, amount)], now=now, memo="repays money the platform advanced")


def own(*, requester: Account, funding_id: int) -> Funding:
    """One of the requester's fundings (an admin may read any); anyone else's is a 404."""
    funding = db.session.get(Funding, funding_id)
    if funding is None or (funding.requester_id != requester.id and requester.role != "admin"):
        raise NotFound("No such funding.")
    return funding


def listing(*, requester: Account, cursor: int | None, limit: int) -> list[Funding]:
    """The requester's fundings, newest first."""
    query = select(Funding).where(Funding.requester_id == requester.id).order_by(Funding.id.desc()).limit(limit + 1)
    if cursor:
        query = query.where(Funding.id < cursor)
    return list(db.session.scalars(query))
