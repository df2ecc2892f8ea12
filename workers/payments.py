"""Money jobs: Stripe events, payouts, refunds, reconciliation, auto-approval. Each body is one service call."""
from marketplace.approvals import services as approvals
from marketplace.db import utcnow
from marketplace.payments import events, payouts, reconcile as reconciliation, refunds
from marketplace.payments.jobs import PROCESS_STRIPE_EVENT, SEND_PAYOUT, SEND_REFUND
from workers.context import job


@job
def process_stripe_event(event_id: int) -> str | None:
    """Apply one stored Stripe event (once)."""
    return events.process(event_id=event_id, now=utcnow())


@job
def sweep_stripe_events() -> int:
    """Re-queue stored events whose job was lost."""
    ids = events.unprocessed(now=utcnow())
    for event_id in ids:
        PROCESS_STRIPE_EVENT.after_commit(event_id)
    return len(ids)


@job
def run_payouts() -> list[int]:
    """Open payouts for annotators above the minimum; a job per payout sends it."""
    return payouts.run(now=utcnow())


@job
def send_payout(payout_id: int) -> str | None:
    """Make one payout's Stripe transfer (idempotency key from the payout row)."""
    return payouts.send(payout_id=payout_id, now=utcnow())


@job
def send_refund(refund_id: int) -> str | None:
    """Send one refund to Stripe and settle it in the ledger."""
    return refunds.send(refund_id=refund_id, now=utcnow())


@job
def reconcile() -> int:
    """Compare the ledger with Stripe's balance transactions; returns the number of differences."""
    return len(reconciliation.run(now=utcnow()).differences)


@job
def approve_due_answers() -> int:
    """Approve answers left pending past their project's auto-approval delay."""
    return approvals.approve_due(now=utcnow())


@job
def sweep_money_jobs() -> int:
    """Queue again the payouts and refunds whose jobs were lost or gave up (same idempotency keys)."""
    now = utcnow()
    payout_ids, refund_ids = payouts.stuck(now=now), refunds.stuck(now=now)
    for payout_id in payout_ids:
        SEND_PAYOUT.after_commit(payout_id)
    for refund_id in refund_ids:
        SEND_REFUND.after_commit(refund_id)
    return len(payout_ids) + len(refund_ids)


@job
def check_escrow_holds() -> int:
    """Compare escrow reservations with live leases and pending answers; correct and report any drift."""
    from marketplace.payments import escrow

    return len(escrow.check_holds())
