"""The ledger's share of the hot statements: reserve an answer's cost at lease, pay the reward at submit.

The lease and submit statements (assignments) run these steps inside their single PostgreSQL
statement; on SQLite, hold_answer() and pay_answer() make the same movements through the ledger's
own functions (change_hold, post). Either way the ledger tables are written only from here and
ledger/services.py. tests/assignments/test_pay_answer_parity.py holds the two paths to the same entries.
"""
from datetime import datetime

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_PENDING, PROJECT_ESCROW, LedgerAccount

# A lease reserves one answer's cost on one lane of the project's escrow in the same statement: the
# annotator's own lane (:lane) if that much is free there, else the lane with the most free; a lane
# no other transaction holds first (SKIP LOCKED; the lock re-reads what is free), and only when every
# lane with enough is busy, waiting for the best of them (which may have run dry by then: no lease).
# The row lock is held to the commit; it serialises the leases and answers of that lane only.
# Follows a `picked` step; parameters :cost, :project_id, :currency, :lane. FUNDED: the lease may go
# ahead; HELD_LANE: the lane reserved on, for the assignment's escrow_lane.
_LANES = """SELECT e.id FROM ledger_accounts e
                WHERE e.kind = 'project_escrow' AND e.owner_id = :project_id AND e.currency = :currency
                  AND e.balance_cents - e.held_cents >= :cost AND :cost > 0 AND EXISTS (SELECT 1 FROM picked)
                ORDER BY e.lane = :lane DESC, e.balance_cents - e.held_cents DESC, e.lane
                LIMIT 1"""
HOLD_ANSWER = """held AS (
    UPDATE ledger_accounts SET held_cents = held_cents + :cost
    WHERE id = coalesce((""" + _LANES + """ FOR UPDATE SKIP LOCKED), (""" + _LANES + """))
      AND balance_cents - held_cents >= :cost
    RETURNING id, lane
)"""
FUNDED = "(:cost = 0 OR EXISTS (SELECT 1 FROM held))"
HELD_LANE = "coalesce((SELECT lane FROM held), 0)"


def hold_answer(*, project_id: int, currency: str, lane: int, cost: int) -> int | None:
    """HOLD_ANSWER for the portable lease: reserve `cost` on the annotator's lane if that much is free
    there, else on the lane with the most free; return the lane reserved on (0 when nothing costs), or None."""
    if not cost:
        return 0
    free = LedgerAccount.balance_cents - LedgerAccount.held_cents
    found = db.session.execute(
        select(LedgerAccount.id, LedgerAccount.lane)
        .where(LedgerAccount.kind == PROJECT_ESCROW, LedgerAccount.owner_id == project_id,
               LedgerAccount.currency == currency.lower(), free >= cost)
        .order_by((LedgerAccount.lane == lane).desc(), free.desc(), LedgerAccount.lane).limit(1)).first()
    if found is None or not ledger.change_hold(account_id=found.id, cents=cost):
        return None
    return found.lane


# The same movement as ledger.post would make, as CTE steps the submit statement runs after marking
# the assignment submitted (`done`): record the transaction (its unique key makes a replay do
# nothing), take the reward off the escrow lane its lease reserved on (:escrow_id) and its
# reservation, credit the annotator's pending balance (creating the account on first use), write
# both entries. Escrow is locked before the pending account, the order ledger.locked uses. `:pay` is
# false when the statement must not pay.
PAY_ANSWER = """
pay_txn AS (
    INSERT INTO ledger_transactions (idempotency_key, kind, reference_type, reference_id, memo, created_at)
    SELECT 'answer-' || :assignment_id, 'answer', 'assignment', :assignment_id, :pay_memo, :now FROM done WHERE :pay
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
), pay_escrow AS (
    UPDATE ledger_accounts SET balance_cents = balance_cents - :reward, held_cents = greatest(held_cents - :reward, 0)
    WHERE id = :escrow_id AND EXISTS (SELECT 1 FROM pay_txn)
    RETURNING id
), pay_pending AS (
    INSERT INTO ledger_accounts AS a (kind, owner_id, currency, balance_cents, held_cents, created_at)
    SELECT 'annotator_pending', :annotator_id, :currency, :reward, 0, :now FROM pay_escrow
    ON CONFLICT (kind, owner_id, currency, lane) DO UPDATE SET balance_cents = a.balance_cents + EXCLUDED.balance_cents
    RETURNING id
), pay_entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, currency, created_at)
    SELECT pay_txn.id, pay_escrow.id, :reward, :currency, :now FROM pay_txn, pay_escrow
    UNION ALL
    SELECT pay_txn.id, pay_pending.id, -:reward, :currency, :now FROM pay_txn, pay_pending
    RETURNING account_id
)"""


def pay_params(*, project_id: int, currency: str, reward_cents: int, escrow_id: int | None, annotator_id: int) -> dict:
    """The parameters of PAY_ANSWER; `pay` is false when the statement leaves paying to pay_answer."""
    return {"pay": bool(reward_cents) and escrow_id is not None, "pay_memo": f"answer to project {project_id}",
            "reward": reward_cents, "escrow_id": escrow_id, "currency": currency, "annotator_id": annotator_id}


def pay_answer(*, project_id: int, currency: str, reward_cents: int, assignment_id: int, annotator_id: int,
               escrow_id: int | None, now: datetime) -> None:
    """Move a submitted answer's reward from escrow (the lane where its lease reserved it) to the annotator's pending.

    On PostgreSQL the submit statement does this itself (PAY_ANSWER) when the project has an
    escrow; this is the path for SQLite and for a project without one (which then has nothing to pay from).
    """
    if reward_cents == 0:
        return
    escrow_id = escrow_id or ledger.account(PROJECT_ESCROW, project_id, currency)
    pending = ledger.account(ANNOTATOR_PENDING, annotator_id, currency)
    ledger.post(key=f"answer-{assignment_id}", kind="answer", reference=("assignment", assignment_id),
                moves=[ledger.Move(escrow_id, pending, reward_cents)], holds={escrow_id: -reward_cents}, now=now,
                memo=f"answer to project {project_id}")
