"""Reconciliation: compare what our ledger says moved through Stripe with Stripe's balance transactions.

Every Stripe balance transaction in the window should match one of our rows (a succeeded funding by
its PaymentIntent or charge, a sent refund, a paid payout's transfer) with the same amount, and every
such row of ours should appear at Stripe. The report lists each difference; it changes no money.
"""
from datetime import datetime, timedelta

from sqlalchemy import select

from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.payments import gateway as gateways
from marketplace.payments.models import PAID, SUCCEEDED, Funding, Payout, ReconciliationReport, Refund

WINDOW = timedelta(days=35)


def _ours(since: datetime) -> dict[str, tuple[str, int, str]]:
    """Our Stripe-side rows by Stripe object id: (type, signed amount as Stripe shows it, our reference)."""
    rows: dict[str, tuple[str, int, str]] = {}
    for f in db.session.scalars(select(Funding).where(Funding.status == SUCCEEDED, Funding.simulated.is_(False),
                                                      Funding.updated_at >= since)):
        rows[f.charge_id or f.payment_intent_id] = ("charge", f.amount_cents, f"funding {f.id}")
    for r in db.session.scalars(select(Refund).where(Refund.status == SUCCEEDED, Refund.stripe_refund_id.is_not(None),
                                                     Refund.updated_at >= since)):
        rows[r.stripe_refund_id] = ("refund", -r.amount_cents, f"refund {r.id}")
    for p in db.session.scalars(select(Payout).where(Payout.status == PAID, Payout.stripe_transfer_id.is_not(None),
                                                     Payout.updated_at >= since)):
        rows[p.stripe_transfer_id] = ("transfer", -p.amount_cents, f"payout {p.id}")
    return rows




def run(*, now: datetime, window: timedelta = WINDOW) -> ReconciliationReport:
    """Compare the last `window` of Stripe balance transactions with our rows and store the report."""
    since = now - window
    gateway = gateways.current()
    report = ReconciliationReport(started_at=now, matched=0, differences=[], summary={}, note="")
    if not gateway.moves_money:
        report.note = "ledger-only mode: there is no Stripe balance to compare with"
        db.session.add(report)
        db.session.flush()
        return report
    ours = _ours(since)
    seen: set[str] = set()
    differences = []
    totals = {"stripe_cents": 0, "ours_cents": 0}
    for txn in gateway.balance_transactions(since=since):
        totals["stripe_cents"] += txn.amount_cents
        mine = ours.get(txn.source or "")
        if mine is None:
            differences.append({"kind": "missing_in_ledger", "stripe_id": txn.id, "type": txn.type,
                                "source": txn.source, "amount_cents": txn.amount_cents})
            continue
        seen.add(txn.source)
        if mine[1] != txn.amount_cents:
            differences.append({"kind": "amount_differs", "stripe_id": txn.id, "source": txn.source,
                                "stripe_cents": txn.amount_cents, "ours_cents": mine[1], "ours": mine[2]})
        else:
            report.matched += 1
    for source, (kind, amount, reference) in ours.items():
        totals["ours_cents"] += amount
        if source not in seen:
            differences.append({"kind": "missing_at_stripe", "source": source, "type": kind, "amount_cents": amount,
                                "ours": reference})
    report.differences = differences
    report.summary = {**totals, "differences": len(differences), "since": since.isoformat()}
    db.session.add(report)
    db.session.flush()
    return report


def latest() -> ReconciliationReport:
    """The most recent reconciliation report, or a 404."""
    report = db.session.scalar(select(ReconciliationReport).order_by(ReconciliationReport.id.desc()).limit(1))
    if report is None:
        raise NotFound("No reconciliation has run yet.")
    return report
