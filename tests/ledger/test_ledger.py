"""The ledger: balanced, idempotent, protected balances never negative, append-only, readable at any past time."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from marketplace.db import utcnow
from marketplace.errors import InsufficientFunds
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger import services as ledger
from marketplace.ledger.models import (ANNOTATOR_AVAILABLE, REQUESTER_AVAILABLE, STRIPE_CASH, LedgerAccount,
                                       LedgerEntry)


def _accounts():
    return (ledger.account(STRIPE_CASH, None, "usd"), ledger.account(REQUESTER_AVAILABLE, 7, "usd"),
            ledger.account(ANNOTATOR_AVAILABLE, 8, "usd"))


def _balance(account_id):
    return db.session.get(LedgerAccount, account_id, populate_existing=True).balance_cents


def test_a_movement_debits_one_account_credits_the_other_and_the_book_balances(ctx):
    cash, requester, _ = _accounts()
    ledger.post(key="f-1", kind="funding", reference=("funding", 1), moves=[ledger.Move(cash, requester, 500)],
                now=utcnow())
    assert (_balance(cash), _balance(requester)) == (500, 500)  # an asset and what we owe against it
    entries = db.session.execute(select(LedgerEntry.account_id, LedgerEntry.amount_cents).order_by(LedgerEntry.id)).all()
    assert sorted(entries) == sorted([(cash, 500), (requester, -500)])
    trial = reports.trial_balance()
    assert trial["balanced"] and trial["debits_cents"] == trial["credits_cents"] == 500


def test_a_replayed_key_changes_nothing(ctx):
    cash, requester, _ = _accounts()
    move = [ledger.Move(cash, requester, 300)]
    assert ledger.post(key="same", kind="funding", reference=("funding", 1), moves=move, now=utcnow()) is not None
    assert ledger.post(key="same", kind="funding", reference=("funding", 1), moves=move, now=utcnow()) is None
    assert _balance(requester) == 300
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 2


def test_a_protected_balance_never_goes_negative(ctx):
    cash, requester, annotator = _accounts()
    ledger.post(key="f", kind="funding", reference=("funding", 1), moves=[ledger.Move(cash, requester, 100)], now=utcnow())
    with pytest.raises(InsufficientFunds) as refused:
        ledger.post(key="b", kind="bonus", reference=("bonus", 1), moves=[ledger.Move(requester, annotator, 101)],
                    now=utcnow())
    assert refused.value.status == 402 and "100" in refused.value.message


def test_money_held_on_an_account_cannot_be_moved_out(ctx):
    cash, requester, annotator = _accounts()
    ledger.post(key="f", kind="funding", reference=("funding", 1), moves=[ledger.Move(cash, requester, 100)], now=utcnow())
    assert ledger.change_hold(account_id=requester, cents=80)
    assert not ledger.change_hold(account_id=requester, cents=21)  # only 20 is free
    with pytest.raises(InsufficientFunds):
        ledger.post(key="b", kind="bonus", reference=("bonus", 1), moves=[ledger.Move(requester, annotator, 21)],
                    now=utcnow())


def test_balances_can_be_read_as_they_were_at_any_past_time(ctx):
    cash, requester, annotator = _accounts()
    t0 = utcnow() - timedelta(days=3)
    ledger.post(key="f", kind="funding", reference=("funding", 1), moves=[ledger.Move(cash, requester, 1_000)], now=t0)
    ledger.post(key="b", kind="bonus", reference=("bonus", 1), moves=[ledger.Move(requester, annotator, 250)],
                now=t0 + timedelta(days=2))
    assert reports.balance_of(requester, as_of=t0 + timedelta(days=1)) == 1_000
    assert reports.balance_of(requester) == 750 == _balance(requester)
    past = {line["kind"]: line["balance_cents"] for line in reports.trial_balance(as_of=t0 + timedelta(days=1))["lines"]}
    assert past == {STRIPE_CASH: 1_000, REQUESTER_AVAILABLE: 1_000, ANNOTATOR_AVAILABLE: 0}


def test_postgres_refuses_an_unbalanced_transaction_at_commit(ctx):
    cash, requester, _ = _accounts()
    txn_id = ledger.post(key="f", kind="funding", reference=("funding", 1), moves=[ledger.Move(cash, requester, 10)],
                         now=utcnow())
    db.session.add(LedgerEntry(transaction_id=txn_id, account_id=cash, amount_cents=5, currency="usd", created_at=utcnow()))
    db.session.flush()
    with pytest.raises(DBAPIError, match="does not balance"):
        db.session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))


@pytest.mark.parametrize("statement", ["UPDATE ledger_entries SET amount_cents = 1", "DELETE FROM ledger_entries",
                                       "UPDATE ledger_transactions SET memo = 'x'", "DELETE FROM ledger_transactions"])
def test_the_ledger_is_append_only(ctx, statement):
    cash, requester, _ = _accounts()
    ledger.post(key="f", kind="funding", reference=("funding", 1), moves=[ledger.Move(cash, requester, 10)], now=utcnow())
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
