"""The two ways an answer is written and paid (PostgreSQL's one statement, the portable ORM steps) agree.

The submit path on PostgreSQL writes the answer, the annotator's counters and the payment in one
statement; the embedded SQLite mode takes the portable steps through ledger.post. Both run here on
PostgreSQL, on twin projects, and must leave the same ledger behind: same transaction kind and
reference, same entries on the same kinds of account, same reservations, same counters.
"""
from sqlalchemy import select

from marketplace.assignments import answer_store
from marketplace.extensions import db
from marketplace.ledger.models import LedgerAccount, LedgerEntry, LedgerTransaction
from marketplace.quality.models import AnnotatorStats
from tests.factories import AnnotatorFactory, account_totals, bearer, open_project

LABEL = {"answer": {"label": "cat"}}


def _answer_and_read(client, project, annotator):
    """Lease and answer one task; return what the ledger and the counters say of that answer."""
    headers = bearer(annotator)
    lease = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers).json
    done = client.post(f"/api/v1/assignments/{lease['id']}/answer", json=LABEL, headers=headers)
    assert done.status_code == 200, done.json
    tx = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.reference_type == "assignment",
                                                           LedgerTransaction.reference_id == lease["id"]))
    entries = db.session.execute(
        select(LedgerAccount.kind, LedgerAccount.owner_id, LedgerEntry.amount_cents, LedgerEntry.currency)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerEntry.transaction_id == tx.id).order_by(LedgerEntry.amount_cents)).all()
    owner = {project.id: "project", annotator.id: "annotator"}
    stats = db.session.scalar(select(AnnotatorStats).where(AnnotatorStats.project_id == project.id,
                                                           AnnotatorStats.annotator_id == annotator.id)
                              .execution_options(populate_existing=True))
    return {
        "transaction": (tx.kind, tx.idempotency_key.replace(str(lease["id"]), "<id>"), tx.memo.replace(str(project.id), "<p>")),
        "entries": [(kind, owner.get(who), cents, currency) for kind, who, cents, currency in entries],
        "escrow": account_totals("project_escrow", project.id),
        "counters": (stats.answers, stats.gold_seen, stats.gold_correct),
    }


def test_the_postgres_statement_and_the_portable_steps_write_the_same_ledger(client, monkeypatch):
    twins = [open_project(tasks=1, answers_per_task=1, reward_cents=10, fee_bps=2000) for _ in range(2)]
    one_statement = _answer_and_read(client, twins[0], AnnotatorFactory())
    monkeypatch.setattr(answer_store, "is_postgres", lambda: False)
    portable = _answer_and_read(client, twins[1], AnnotatorFactory())
    assert one_statement["entries"] == [("annotator_pending", "annotator", -10, "usd"),
                                        ("project_escrow", "project", 10, "usd")]
    assert portable == one_statement


def test_an_answer_paid_after_its_follow_up_work_writes_the_same_ledger_as_one_paid_in_the_write(client):
    # A closing answer pays last (after its task's result); an ordinary one pays inside the write statement.
    closing = open_project(tasks=1, answers_per_task=1, reward_cents=10, fee_bps=2000)
    ordinary = open_project(tasks=1, answers_per_task=2, reward_cents=10, fee_bps=2000)
    paid_last = _answer_and_read(client, closing, AnnotatorFactory())
    paid_in_the_write = _answer_and_read(client, ordinary, AnnotatorFactory())
    assert paid_last["entries"] == paid_in_the_write["entries"] == [("annotator_pending", "annotator", -10, "usd"),
                                                                     ("project_escrow", "project", 10, "usd")]
    assert paid_last["transaction"] == paid_in_the_write["transaction"]
    assert paid_last["escrow"][1] == paid_in_the_write["escrow"][1]  # the same reservation is left (the fee's)
    assert paid_last["counters"] == paid_in_the_write["counters"] == (1, 0, 0)
