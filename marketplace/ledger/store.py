"""The ledger's share of the hot statements: reserve an answer's cost at lease, pay the reward at submit.

The lease and submit statements (assignments) run these steps inside their single PostgreSQL
statement; on SQLite, hold_answer() and pay_answer() make the same movements through the ledger's
own functions (change_hold, post). Either way the ledger tables are written only from here and
ledger/services.py. tests/assignments/test_pay_answer_parity.py holds the two paths to the same entries.
"""
from datetime import datetime

from marketplace.ledger import services as ledger
from marketplace.ledger.models import ANNOTATOR_PENDING, PROJECT_ESCROW

# A lease reserves one answer's cost on the project's escrow in the same statement, only if that much
# is free; the row lock this takes on the escrow is held to the commit (it serialises a project's
# leases for that moment, as submissions already are by paying out of the same escrow).
# Follows a `picked` step; parameters :cost, :escrow_id. FUNDED: the lease may go ahead.
HOLD_ANSWER = """held AS (
    UPDATE ledger_accounts SET held_cents = held_cents + :cost
    WHERE id = :escrow_id AND :cost > 0 AND balance_cents - held_cents >= :cost AND EXISTS (SELECT 1 FROM picked)
    RETURNING id
)"""
FUNDED = "(:cost = 0 OR EXISTS (SELECT 1 FROM held))"


def hold_answer(*, escrow_id: int | None, cost: int) -> bool:
    """HOLD_ANSWER for the portable lease: reserve `cost` on the escrow if that much is free."""
    return not cost or (escrow_id is not None and ledger.change_hold(account_id=escrow_id, cents=cost))


# The same movement as ledger.post would make, as CTE steps the submit statement runs after marking
# the assignment submitted (`done`): record the transaction (its unique key makes a replay do
# nothing), take the reward off the escrow and its reservation, credit the annotator's pending
# balance (creating the account on first use), write both entries. Escrow is locked before the
# pending account, the order ledger.locked uses. `:pay` is false when the statement must not pay.
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
    ON CONFLICT (kind, owner_id, currency) DO UPDATE SET balance_cents = a.balance_cents + EXCLUDED.balance_cents
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
    """Move a submitted answer's reward from escrow (where its lease reserved it) to the annotator's pending.

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
