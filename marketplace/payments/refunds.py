"""Refunds: an admin gives a requester's unspent money back to their card.

The money leaves the requester's available balance at once (into `refunds`, money on its way out),
then a job asks Stripe (key `refund-<id>`, our id also in the refund's metadata): when Stripe says
the refund succeeded the money leaves our cash; a refusal, or a refund Stripe later fails, returns it
to the requester; while Stripe still has it pending it stays in `refunds`. A retryable failure
leaves the row for the job's retries and the sweep. Refunds made in Stripe's Dashboard arrive as
`charge.refunded` and are booked from Stripe's own list of the intent's refunds (never twice: ours
carry our id in their metadata).
"""
from datetime import datetime

from sqlalchemy import select

from marketplace.errors import Conflict, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import REFUNDS, REQUESTER_AVAILABLE, STRIPE_CASH
from marketplace.payments import gateway as gateways
from marketplace.payments import idempotency
from marketplace.payments.jobs import SEND_REFUND
from marketplace.payments.models import FAILED, PENDING, SUCCEEDED, Funding, Refund


def create(*, admin_id: int, funding_id: int, amount_cents: int | None, reason: str, key: str | None,
           body_hash: str, now: datetime) -> tuple[Refund, bool]:
    """Refund part or all of a succeeded funding from the requester's available balance; (refund, is new)."""
    def existing():
        return db.session.scalar(select(Refund).where(Refund.idempotency_key == key)) if key else None

    first = existing()
    if first is not None:
        idempotency.ensure_same(first.request_hash, body_hash)
        return first, False
    funding = db.session.scalar(select(Funding).where(Funding.id == funding_id).with_for_update())
    if funding is None:
        raise NotFound("No such funding.")
    if funding.status != SUCCEEDED:
        raise Conflict(f"Only a succeeded funding can be refunded; this one is {funding.status}.", code="funding_not_refundable")
    in_flight = sum(r.amount_cents for r in db.session.scalars(
        select(Refund).where(Refund.funding_id == funding.id, Refund.status == PENDING)))
    left = funding.amount_cents - funding.refunded_cents - in_flight
    amount = left if amount_cents is None else amount_cents
    if amount <= 0 or amount > left:
        raise ValidationFailed(f"At most {left} cents of this funding can still be refunded.",
                               errors={"json": {"amount_cents": [f"must be between 1 and {left}"]}})
    refund = Refund(requester_id=funding.requester_id, funding_id=funding.id, amount_cents=amount,
                    currency=funding.currency, status=PENDING, reason=reason, admin_id=admin_id, idempotency_key=key,
                    request_hash=body_hash)
    first = idempotency.insert_once(refund, existing)
    if first is not refund:
        idempotency.ensure_same(first.request_hash, body_hash)
        return first, False
    available = ledger.account(REQUESTER_AVAILABLE, funding.requester_id, funding.currency)
    ledger.post(key=f"refund-{refund.id}", kind="refund", reference=("refund", refund.id),
                moves=[ledger.Move(available, ledger.account(REFUNDS, None, funding.currency), amount)], now=now,
                memo=reason)
    SEND_REFUND.after_commit(refund.id)
    return refund, True


def send(*, refund_id: int, now: datetime) -> str | None:
    """Ask Stripe for a pending refund (or how a refund Stripe still has pending ended) and settle it."""
    refund = db.session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    if refund is None or refund.status != PENDING:
        return None
    # The funding's lock orders this with the charge.refunded job, which books refunds it does not know.
    funding = db.session.scalar(select(Funding).where(Funding.id == refund.funding_id).with_for_update())
    gateway = gateways.current()
    try:
        if refund.stripe_refund_id:
            result = gateway.retrieve_refund(refund.stripe_refund_id)
        else:
            result = gateway.refund(payment_intent_id=funding.payment_intent_id, amount_cents=refund.amount_cents,
                                    refund_id=refund.id, key=f"refund-{refund.id}")
    except gateways.GatewayError as exc:
        if exc.retryable:
            raise
        result = gateways.RefundResult(None, FAILED, exc.message)
    return settle(refund=refund, funding=funding, result=result, now=now)


def settle(*, refund: Refund, funding: Funding, result: gateways.RefundResult, now: datetime) -> str:
    """Book what Stripe says of a refund: succeeded (money leaves), failed (money back) or still pending."""
    refund.stripe_refund_id = result.id or refund.stripe_refund_id
    if result.status == PENDING:
        return "pending at Stripe"  # the money stays in `refunds` until Stripe's refund.updated event
    holding = ledger.account(REFUNDS, None, refund.currency)
    if result.status == SUCCEEDED:
        ledger.post(key=f"refund-settled-{refund.id}", kind="refund_settled", reference=("refund", refund.id),
                    moves=[ledger.Move(holding, ledger.account(STRIPE_CASH, None, refund.currency), refund.amount_cents)],
                    now=now, external_id=result.id, memo="refund sent to Stripe")
        refund.status = SUCCEEDED
        funding.refunded_cents += refund.amount_cents
        return SUCCEEDED
    ledger.post(key=f"refund-failed-{refund.id}", kind="refund_failed", reference=("refund", refund.id),
                moves=[ledger.Move(holding, ledger.account(REQUESTER_AVAILABLE, refund.requester_id, refund.currency),
                                   refund.amount_cents)], now=now, memo="refund refused; money back to available")
    refund.status, refund.failure_message = FAILED, result.error or result.status
    return FAILED


def refund_updated(*, stripe_refund_id: str | None, now: datetime) -> str:
    """A refund.updated event: re-read that refund from Stripe and settle ours if it ended."""
    refund = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == stripe_refund_id).with_for_update())
    if refund is None or refund.status != PENDING:
        return "nothing to settle"
    funding = db.session.scalar(select(Funding).where(Funding.id == refund.funding_id).with_for_update())
    return settle(refund=refund, funding=funding, result=gateways.current().retrieve_refund(stripe_refund_id), now=now)


def stuck(*, now: datetime) -> list[int]:
    """Refunds left pending a while (job lost, gave up, or Stripe still pending), for the sweep."""
    from datetime import timedelta

    return list(db.session.scalars(select(Refund.id).where(Refund.status == PENDING,
                                                           Refund.updated_at <= now - timedelta(minutes=15))
                                   .order_by(Refund.id).limit(1000)))


def listing(*, requester_id: int | None, cursor: int | None, limit: int) -> list[Refund]:
    """Refunds, newest first, of one requester or all."""
    query = select(Refund).order_by(Refund.id.desc()).limit(limit + 1)
    if requester_id is not None:
        query = query.where(Refund.requester_id == requester_id)
    if cursor:
        query = query.where(Refund.id < cursor)
    return list(db.session.scalars(query))


def record_external(*, payment_intent_id: str | None, now: datetime) -> str:
    """Book refunds made at Stripe outside our API (the Dashboard): the money left; take it from available.

    Stripe's list of the intent's refunds is the truth; each one that is not ours (ours carry our
    refund id in their metadata) and has no row gets one and a ledger movement (requester available
    -> cash). If the requester has less available than was refunded, what they have is taken and
    the rest is reported for an admin (reconciliation shows it too).
    """
    funding = db.session.scalar(select(Funding).where(Funding.payment_intent_id == payment_intent_id).with_for_update())
    if funding is None:
        return "no funding has this payment intent"
    known = set(db.session.scalars(select(Refund.stripe_refund_id).where(Refund.funding_id == funding.id)))
    booked, short = 0, 0
    for seen in gateways.current().refunds_of(payment_intent_id):
        if seen.id in known or seen.ours or seen.status not in (SUCCEEDED, PENDING):
            continue
        refund = Refund(requester_id=funding.requester_id, funding_id=funding.id, amount_cents=seen.amount_cents,
                        currency=funding.currency, status=SUCCEEDED, reason="refunded at Stripe, outside the API",
                        stripe_refund_id=seen.id, admin_id=None)
        db.session.add(refund)
        db.session.flush()
        available = ledger.account(REQUESTER_AVAILABLE, funding.requester_id, funding.currency)
        cash = ledger.account(STRIPE_CASH, None, funding.currency)
        covered = min(seen.amount_cents, max(ledger.spare_cents(ledger.locked([available, cash])[available]), 0))
        ledger.post(key=f"refund-external-{refund.id}", kind="refund_external", reference=("refund", refund.id),
                    moves=[ledger.Move(available, cash, covered)], now=now, external_id=seen.id,
                    memo="refund made at Stripe")
        if covered < seen.amount_cents:
            refund.failure_message = f"{seen.amount_cents - covered} cents refunded beyond the available balance"
            short += seen.amount_cents - covered
        funding.refunded_cents += seen.amount_cents
        booked += 1
    return f"{booked} external refund(s) booked" + (f"; {short} cents short" if short else "")
