"""Ledger-only payouts are recorded once per payout period, and the money they record stays owed.

Without a payment provider a payout is recorded `not_sent` and its money returns to the annotator's
available balance. Before payout periods, every run (the daily job, an admin's run, each scheduler
restart) recorded the same money as a new not_sent payout.
"""
from datetime import datetime, timezone

from sqlalchemy import func, select

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_AVAILABLE, STRIPE_CASH, LedgerAccount, LedgerTransaction
from marketplace.payments import payouts
from marketplace.payments.models import NOT_SENT, Payout
from tests.factories import AnnotatorFactory

DAY1_DUE = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)  # the default PAYOUTS_CRON, "0 3 * * *"
DAY1_LATER = datetime(2026, 3, 2, 15, 30, tzinfo=timezone.utc)
DAY2_DUE = datetime(2026, 3, 3, 3, 0, 5, tzinfo=timezone.utc)
DAY3_DUE = datetime(2026, 3, 4, 3, 0, 5, tzinfo=timezone.utc)


def _earn(annotator, cents, key):
    ledger.post(key=key, kind="test", reference=("test", 0), now=utcnow(),
                moves=[ledger.Move(ledger.account(STRIPE_CASH, None, "usd"),
                                   ledger.account(ANNOTATOR_AVAILABLE, annotator.id, "usd"), cents)])


def _available(annotator):
    return db.session.scalar(select(LedgerAccount.balance_cents).where(
        LedgerAccount.kind == ANNOTATOR_AVAILABLE, LedgerAccount.owner_id == annotator.id)
        .execution_options(populate_existing=True))


def _run_and_send(now):
    """One payout run and its send jobs, as the worker would do them at `now`."""
    ids = payouts.run(now=now, minimum_cents=1_000)
    assert [payouts.send(payout_id=payout_id, now=now) for payout_id in ids] == [NOT_SENT] * len(ids)
    return ids


def _ledger_only_annotator(cents):
    annotator = AnnotatorFactory()
    assert payouts.payout_account(annotator=annotator).simulated
    _earn(annotator, cents, f"earned-{annotator.id}")
    return annotator


def test_running_ledger_only_payouts_twice_in_a_period_records_one_payout(ctx):
    annotator = _ledger_only_annotator(1_500)
    assert len(_run_and_send(DAY1_DUE)) == 1
    assert _run_and_send(DAY1_LATER) == []  # an admin's run, or a restart, the same day
    rows = db.session.scalars(select(Payout).where(Payout.annotator_id == annotator.id)).all()
    assert [(p.status, p.amount_cents) for p in rows] == [(NOT_SENT, 1_500)]
    assert _available(annotator) == 1_500  # recorded, not sent: still owed
    assert reports.trial_balance()["balanced"]


def test_the_next_period_records_a_new_payout_only_when_the_balance_changed(ctx):
    annotator = _ledger_only_annotator(1_500)
    _run_and_send(DAY1_DUE)
    _earn(annotator, 500, f"more-{annotator.id}")
    assert _run_and_send(DAY1_LATER) == []  # new money, same period: it waits for the next one
    assert len(_run_and_send(DAY2_DUE)) == 1
    assert _run_and_send(DAY3_DUE) == []  # nothing changed since: the day-2 record still stands
    rows = db.session.scalars(select(Payout).where(Payout.annotator_id == annotator.id).order_by(Payout.id)).all()
    assert [(p.status, p.amount_cents) for p in rows] == [(NOT_SENT, 1_500), (NOT_SENT, 2_000)]
    assert _available(annotator) == 2_000
    for kind in ("payout", "payout_returned"):  # each record took the money out and put it back, once
        assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)
                                 .where(LedgerTransaction.kind == kind)) == 2
    assert reports.trial_balance()["balanced"]


def test_each_annotator_is_judged_on_their_own_record(ctx):
    first = _ledger_only_annotator(1_500)
    _run_and_send(DAY1_DUE)
    second = _ledger_only_annotator(1_200)
    assert [db.session.get(Payout, i).annotator_id for i in _run_and_send(DAY1_LATER)] == [second.id]
    assert (_available(first), _available(second)) == (1_500, 1_200)


def test_the_payout_period_follows_the_payout_schedule(app, ctx, monkeypatch):
    assert payouts.period_start(now=DAY1_DUE) == DAY1_DUE  # a run at the due time opens the new period
    assert payouts.period_start(now=DAY1_LATER) == DAY1_DUE
    assert payouts.period_start(now=datetime(2026, 3, 2, 2, 59, 59, tzinfo=timezone.utc)) == \
        datetime(2026, 3, 1, 3, 0, tzinfo=timezone.utc)
    monkeypatch.setitem(app.config, "PAYOUTS_CRON", "0 3 * * 1")  # weekly, Mondays (2026-03-02 is one)
    assert payouts.period_start(now=DAY3_DUE) == DAY1_DUE
