"""Payout accounts (Stripe Connect) and payouts of annotators' available balances.

A payout run moves each ready annotator's available balance (above the minimum) out of the ledger
into a `pending` payout row and commits; a job per payout then makes the Stripe transfer with the
idempotency key `payout-<id>`. A job killed after Stripe answered but before our commit runs again
with the same key and gets the same transfer back: one transfer, one paid payout. A refused
transfer returns the money to the annotator's available balance; an admin may retry it.

In ledger-only mode nothing can be sent: the payout is recorded `not_sent` and its money goes back
to available, still owed to the annotator (the books never claim a payment that did not happen).
That record stands until something changes: a run skips an annotator whose last payout was not
sent in the current payout period (PAYOUTS_CRON) or was for exactly the balance they still have,
so repeated runs do not list the same money as "not sent" over and over.
"""
from datetime import datetime, timedelta, timezone

from croniter import croniter
from flask import current_app
from sqlalchemy import select

from marketplace import metrics
from marketplace.accounts.models import Account
from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, STRIPE_CASH, LedgerAccount
from marketplace.payments import gateway as gateways
from marketplace.payments import idempotency
from marketplace.payments.funding import provider_error
from marketplace.payments.jobs import SEND_PAYOUT
from marketplace.payments.models import FAILED, NOT_SENT, PAID, PENDING, Payout, PayoutAccount

STUCK_AFTER = timedelta(minutes=15)
KEY_LIFETIME = timedelta(hours=23)  # Stripe keeps idempotency keys for 24 hours


def payout_account(*, annotator: Account) -> PayoutAccount:
    """Create (once) the annotator's Stripe Connect account and return it."""
    existing = db.session.scalar(select(PayoutAccount).where(PayoutAccount.annotator_id == annotator.id)
                                 .with_for_update())
    if existing is not None and existing.stripe_account_id:
        return existing
    gateway = gateways.current()
    email = db.session.get(Account, annotator.id).email
    try:
        connected = gateway.create_connected_account(annotator_id=annotator.id, email=email,
                                                     key=f"connect-{annotator.id}")
    except gateways.GatewayError as exc:
        raise provider_error(exc) from exc
    fields = {"stripe_account_id": connected.id, "payouts_enabled": connected.payouts_enabled,
              "details_submitted": connected.details_submitted, "simulated": not gateway.moves_money}
    if existing is not None:
        for name, value in fields.items():
            setattr(existing, name, value)
        db.session.flush()
        return existing
    # The Stripe key connect-<annotator id> gave a racing request the same account: keep whichever row won.
    return idempotency.insert_once(PayoutAccount(annotator_id=annotator.id, **fields), lambda: db.session.scalar(
        select(PayoutAccount).where(PayoutAccount.annotator_id == annotator.id)))


def own_payout_account(*, annotator: Account) -> PayoutAccount:
    """The annotator's payout account, or a 404."""
    row = db.session.scalar(select(PayoutAccount).where(PayoutAccount.annotator_id == annotator.id))
    if row is None:
        raise NotFound("You have no payout account yet; create one first.")
    return row


def onboarding_link(*, annotator: Account) -> str:
    """A fresh Stripe onboarding link for the annotator's payout account."""
    row = own_payout_account(annotator=annotator)
    config = current_app.config
    try:
        return gateways.current().onboarding_link(account_id=row.stripe_account_id,
                                                  refresh_url=config["PAYOUT_REFRESH_URL"],
                                                  return_url=config["PAYOUT_RETURN_URL"])
    except gateways.GatewayError as exc:
        raise provider_error(exc) from exc


def run(*, now: datetime, minimum_cents: int | None = None) -> list[int]:
    """Open a payout for every annotator whose available balance reaches the minimum; returns payout ids.

    An annotator whose ledger-only payout already records their balance as not sent is skipped.
    """
    minimum = current_app.config["PAYOUT_MINIMUM_CENTS"] if minimum_cents is None else minimum_cents
    gateway = gateways.current()
    if isinstance(gateway, gateways.DisabledGateway):
        return []
    ready = db.session.execute(
        select(LedgerAccount.id, LedgerAccount.owner_id, LedgerAccount.currency, PayoutAccount.stripe_account_id)
        .join(PayoutAccount, PayoutAccount.annotator_id == LedgerAccount.owner_id)
        .where(LedgerAccount.kind == ANNOTATOR_AVAILABLE, LedgerAccount.balance_cents >= minimum,
               PayoutAccount.payouts_enabled, PayoutAccount.simulated == (not gateway.moves_money))
        .order_by(LedgerAccount.id)
    ).all()
    group = f"payouts-{now:%Y%m%d%H%M%S}-{gateways.random_suffix()}"
    since = period_start(now=now)
    created = []
    for account_id, annotator_id, currency, destination in ready:
        cash = ledger.account(STRIPE_CASH, None, currency)
        amount = ledger.locked([account_id, cash])[account_id].balance_cents  # again under the lock (ledger order)
        # Checked under the lock: a racing run's payout, or a send returning money, has committed by now.
        if amount < minimum or _recorded_not_sent(annotator_id, currency, amount, since):
            continue
        payout = Payout(annotator_id=annotator_id, amount_cents=amount, currency=currency, status=PENDING,
                        transfer_group=group, destination=destination, attempts=0, retries=0, created_at=now)
        db.session.add(payout)
        db.session.flush()
        _move_out(payout, now)
        SEND_PAYOUT.after_commit(payout.id)
        created.append(payout.id)
    return created


def period_start(*, now: datetime) -> datetime:
    """When the current payout period began: the last time the payout schedule (PAYOUTS_CRON, UTC) was due."""
    # get_prev is strictly before its start: a microsecond on, a run at the due time opens its own period.
    start = now.astimezone(timezone.utc) + timedelta(microseconds=1)
    return croniter(current_app.config["PAYOUTS_CRON"], start).get_prev(datetime)


def _recorded_not_sent(annotator_id: int, currency: str, amount: int, since: datetime) -> bool:
    """Whether the annotator's last payout already records this money as not sent (ledger-only mode).

    It does if it was recorded in this period, or for exactly the balance they still have: a new
    record would say nothing new. Either way the money stays in their available balance, owed.
    """
    last = db.session.scalar(select(Payout).where(Payout.annotator_id == annotator_id, Payout.currency == currency)
                             .order_by(Payout.id.desc()).limit(1))
    return last is not None and last.status == NOT_SENT and (last.created_at >= since or last.amount_cents == amount)


def _move_out(payout: Payout, now: datetime) -> None:
    suffix = f"-retry-{payout.retries}" if payout.retries else ""
    ledger.post(key=f"payout-{payout.id}{suffix}", kind="payout", reference=("payout", payout.id),
                moves=[ledger.Move(ledger.account(ANNOTATOR_AVAILABLE, payout.annotator_id, payout.currency),
                                   ledger.account(STRIPE_CASH, None, payout.currency), payout.amount_cents)],
                now=now, memo="payout to the annotator's payout account")


def _move_back(payout: Payout, now: datetime, why: str) -> None:
    ledger.post(key=f"payout-returned-{payout.id}-{payout.retries}", kind="payout_returned",
                reference=("payout", payout.id),
                moves=[ledger.Move(ledger.account(STRIPE_CASH, None, payout.currency),
                                   ledger.account(ANNOTATOR_AVAILABLE, payout.annotator_id, payout.currency),
                                   payout.amount_cents)], now=now, memo=why)


def send(*, payout_id: int, now: datetime) -> str | None:
    """Make the Stripe transfer of a pending payout (idempotent: the key comes from the row)."""
    payout = db.session.scalar(select(Payout).where(Payout.id == payout_id).with_for_update())
    if payout is None or payout.status != PENDING:
        return None
    payout.attempts += 1
    key = f"payout-{payout.id}" + (f"-retry-{payout.retries}" if payout.retries else "")
    gateway = gateways.current()
    try:
        # Stripe forgets idempotency keys after 24 hours: past that, look for our transfer before making one.
        made = gateway.find_transfer(transfer_group=payout.transfer_group, payout_id=payout.id, key=key) \
            if now - payout.created_at > KEY_LIFETIME else None
        transfer = made or gateway.transfer(amount_cents=payout.amount_cents, currency=payout.currency,
                                            destination=payout.destination, transfer_group=payout.transfer_group,
                                            payout_id=payout.id, key=key)
    except gateways.GatewayError as exc:
        if exc.retryable:
            raise  # RQ retries with backoff; the same key makes the retry safe
        payout.status, payout.failure_message = FAILED, exc.message
        _move_back(payout, now, f"transfer refused: {exc.message}")
        return "failed"
    if not transfer.sent:
        payout.status, payout.failure_message = NOT_SENT, "ledger-only mode: no payment provider configured"
        _move_back(payout, now, "ledger-only mode: payout recorded, not sent")
        return NOT_SENT
    payout.status, payout.stripe_transfer_id, payout.paid_at = PAID, transfer.id, now
    metrics.payout_paid(payout.amount_cents, payout.currency)
    return PAID


def retry(*, payout_id: int, now: datetime) -> Payout:
    """Send a payout again (an admin action).

    A failed one: the money leaves available again, with a new Stripe key. A pending one (its job
    gave up): the job is queued again with the same key, so it cannot become a second transfer.
    """
    payout = db.session.scalar(select(Payout).where(Payout.id == payout_id).with_for_update())
    if payout is None:
        raise NotFound("No such payout.")
    if payout.status == PENDING:
        SEND_PAYOUT.after_commit(payout.id)
        return payout
    if payout.status not in (FAILED, NOT_SENT):
        raise Conflict(f"Only a failed or pending payout can be retried; this one is {payout.status}.", code="payout_not_retryable")
    payout.retries += 1
    payout.status = PENDING
    payout.failure_message = None
    _move_out(payout, now)
    SEND_PAYOUT.after_commit(payout.id)
    return payout


def stuck(*, now: datetime) -> list[int]:
    """Payouts left pending a while (their job was lost or gave up), for the sweep to send again."""
    return list(db.session.scalars(select(Payout.id).where(Payout.status == PENDING,
                                                           Payout.updated_at <= now - STUCK_AFTER)
                                   .order_by(Payout.id).limit(1000)))


def listing(*, annotator_id: int | None, status: str | None, cursor: int | None, limit: int) -> list[Payout]:
    """Payouts, newest first, of one annotator or all."""
    query = select(Payout).order_by(Payout.id.desc()).limit(limit + 1)
    if annotator_id is not None:
        query = query.where(Payout.annotator_id == annotator_id)
    if status:
        query = query.where(Payout.status == status)
    if cursor:
        query = query.where(Payout.id < cursor)
    return list(db.session.scalars(query))
