"""Money under concurrency on PostgreSQL: 32 annotators answer 16 funded projects while approvals and payouts run.

16 requesters each fund (a simulated funding, ledger-only gateway) and publish a project of 16
tasks x 3 answers; 32 annotators in 32 threads lease and answer through the API until no project has
work left for them. Meanwhile one thread keeps approving every pending answer (a transaction per
project, as requesters or the auto-approval job would) and another keeps running payouts and
sending them (a transaction each, as the payout jobs would), so approvals credit the same
available balances that payouts drain, while submissions pay into the pending balances approvals
move. Then the books must hold: the trial balance balances, no protected balance is negative, every
answer was paid exactly once and approved exactly once, every escrow is spent to the cent, each
annotator has exactly what they earned, and the cash at Stripe is exactly what the platform owes.
No sleeps: the main thread joins the annotators, then tells the money threads to make a last pass.
"""
import threading

import pytest
from sqlalchemy import exists, func, select, text

from marketplace.approvals import services as approvals
from marketplace.assignments.models import SUBMITTED, Assignment
from marketplace.db import transaction, utcnow
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger.models import DEBIT_NORMAL, PROTECTED, LedgerAccount, LedgerTransaction
from marketplace.payments import escrow, funding, idempotency, payouts
from marketplace.payments import gateway as gateways
from marketplace.payments.models import NOT_SENT, Payout
from marketplace.projects import services as projects
from marketplace.projects.models import DRAFT, Project
from marketplace.tasks.models import OPEN, Task
from tests.factories import AnnotatorFactory, ProjectFactory, RequesterFactory, TaskFactory, bearer

REQUESTERS = 16
ANNOTATORS = 32
TASKS = 16
REDUNDANCY = 3
SPARE_CENTS = 123  # funded beyond the worst case; still the requester's after everything
JOIN_TIMEOUT_S = 120


@pytest.fixture
def ledger_only(app):
    """The ledger-only gateway: fundings are credited at once, payouts are recorded as not sent."""
    previous = app.extensions.get("payment_gateway")
    app.extensions["payment_gateway"] = gateways.LedgerOnlyGateway()
    yield
    app.extensions["payment_gateway"] = previous


def _rotated(items: list, by: int) -> list:
    return items[by % len(items):] + items[:by % len(items)]


def _work_left_for(annotator_id: int, project_id: int) -> bool:
    """Is there a task with a free slot this annotator has not had? (No lease expires in this test.)"""
    with db.engine.connect() as conn:
        had = exists().where(Assignment.task_id == Task.id, Assignment.annotator_id == annotator_id)
        return conn.scalar(select(exists().where(
            Task.project_id == project_id, Task.status == OPEN, Task.slots_taken < Task.slot_limit, ~had,
        )))


def _annotate(app, project_ids, annotator_id, headers, errors):
    """Lease and answer, moving on to the next project after each answer, until no project has work left."""
    client = app.test_client()
    with app.app_context():
        try:
            todo = list(project_ids)
            while todo:
                project_id = todo.pop(0)
                leased = client.post(f"/api/v1/projects/{project_id}/assignments", headers=headers)
                if leased.status_code == 404 or (leased.status_code == 409 and "completed" in leased.json["message"]):
                    # SKIP LOCKED may hide a task another thread holds for a moment: ask the database.
                    if leased.status_code == 404 and _work_left_for(annotator_id, project_id):
                        todo.insert(0, project_id)
                    continue
                if leased.status_code != 201:
                    errors.append(("lease", leased.status_code, leased.json))
                    return
                done = client.post(f"/api/v1/assignments/{leased.json['id']}/answer",
                                   json={"answer": {"label": "cat"}}, headers=headers)
                if done.status_code != 200:
                    errors.append(("answer", done.status_code, done.json))
                    return
                todo.append(project_id)
        except Exception as exc:  # reported to the main thread, which fails the test
            errors.append(("annotator", repr(exc)))


def _until_done(app, done, errors, passes, work):
    """Run one pass of some work over and over until the annotators are done, then once more (sees every answer)."""
    with app.app_context():
        try:
            while True:
                last = done.is_set()
                passes.append(work())
                if last:
                    return
        except Exception as exc:  # reported to the main thread, which fails the test
            errors.append((work.__name__, repr(exc)))


def _approvals(owners):
    def approve_everything():
        """Approve every pending answer, one project per transaction (as the requesters or the cron job would)."""
        decided = 0
        for project_id, requester_id in owners:
            with transaction():
                ids = approvals.pending_ids(project_id=project_id)
                decided += approvals.approve(project=db.session.get(Project, project_id), ids=ids,
                                             actor_id=requester_id, now=utcnow())
        return decided
    return approve_everything


def _pay_out():
    """Open payouts for every annotator with money available, then send each (as the payout jobs would)."""
    with transaction():
        created = payouts.run(now=utcnow(), minimum_cents=1)
    for payout_id in created:
        with transaction():  # its job already ran inline after the commit above; this send must then do nothing
            sent = payouts.send(payout_id=payout_id, now=utcnow())
        assert sent in (NOT_SENT, None), (payout_id, sent)
    return len(created)


def test_answers_approvals_and_payouts_racing_keep_the_books(committed_app, ledger_only):
    with committed_app.app_context():
        owners, funded = [], 0
        for i in range(REQUESTERS):
            requester = RequesterFactory()
            project = ProjectFactory(requester_id=requester.id, status=DRAFT, task_count=TASKS, reward_cents=3 + i,
                                     answers_per_task=REDUNDANCY, max_leases_per_annotator=1)
            for t in range(TASKS):
                TaskFactory(project_id=project.id, external_id=f"t{t}", slot_limit=REDUNDANCY)
            worst = TASKS * REDUNDANCY * escrow.answer_cost(project)
            amount = worst + SPARE_CENTS
            funding.create(requester=requester, amount_cents=amount, currency="usd", key=f"opening-{i}",
                           body_hash=idempotency.request_hash({"amount_cents": amount}), now=utcnow())
            projects.transition(account=requester, project_id=project.id, action="publish", now=utcnow())
            owners.append((project.id, requester.id))
            funded += amount
        crowd = [AnnotatorFactory() for _ in range(ANNOTATORS)]
        for annotator in crowd:
            assert payouts.payout_account(annotator=annotator).payouts_enabled
        credentials = [(a.id, bearer(a)) for a in crowd]
        db.session.commit()

    project_ids = [project_id for project_id, _ in owners]
    errors: list = []
    approved: list = []
    paid: list = []
    done = threading.Event()
    annotators = [  # each starts at a different project
        threading.Thread(target=_annotate,
                         args=(committed_app, _rotated(project_ids, i), annotator_id, headers, errors))
        for i, (annotator_id, headers) in enumerate(credentials)
    ]
    money = [threading.Thread(target=_until_done, args=(committed_app, done, errors, approved, _approvals(owners))),
             threading.Thread(target=_until_done, args=(committed_app, done, errors, paid, _pay_out))]
    for thread in money + annotators:
        thread.start()
    for thread in annotators:
        thread.join(timeout=JOIN_TIMEOUT_S)
    done.set()
    for thread in money:
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in money + annotators)
    assert errors == []
    # Approvals and payouts ran while the annotators worked (and once after).
    assert len(approved) >= 2 and len(paid) >= 2 and sum(paid) > 0

    with committed_app.app_context():
        trial = reports.trial_balance()
        assert trial["balanced"], trial
        balances = {kind: int(cents) for kind, cents in db.session.execute(
            select(LedgerAccount.kind, func.sum(LedgerAccount.balance_cents)).group_by(LedgerAccount.kind))}
        negative = db.session.scalars(select(LedgerAccount.id).where(
            LedgerAccount.kind.in_(PROTECTED),
            (LedgerAccount.balance_cents < 0) | (LedgerAccount.balance_cents < LedgerAccount.held_cents))).all()
        assert negative == []
        assert db.session.scalar(select(func.sum(LedgerAccount.held_cents))) == 0  # no lease, no pending answer left

        # Every slot of every task was answered, each answer paid once into pending and approved once.
        answers = db.session.execute(select(Assignment.id, Assignment.approved_at).where(Assignment.status == SUBMITTED)
                                     ).all()
        assert len(answers) == REQUESTERS * TASKS * REDUNDANCY
        assert all(approved_at is not None for _, approved_at in answers)
        answer_keys = db.session.scalars(select(LedgerTransaction.idempotency_key)
                                         .where(LedgerTransaction.kind == "answer")).all()
        assert sorted(answer_keys) == sorted(f"answer-{assignment_id}" for assignment_id, _ in answers)
        approved_ids = [assignment_id for details in db.session.scalars(
            select(LedgerTransaction.details).where(LedgerTransaction.kind == "approval")) for assignment_id in
            details["assignments"]]
        assert sorted(approved_ids) == sorted(assignment_id for assignment_id, _ in answers)
        assert db.session.scalar(select(func.min(Task.answer_count))) == REDUNDANCY
        assert db.session.scalar(select(func.max(Task.answer_count))) == REDUNDANCY

        # Each annotator has earned the rewards of their answers; every payout was recorded, not sent, and its
        # money returned (ledger-only), so all of it is still available.
        earned = dict(db.session.execute(text("""
            SELECT a.annotator_id, sum(p.reward_cents) FROM assignments a JOIN projects p ON p.id = a.project_id
            WHERE a.status = 'submitted' GROUP BY a.annotator_id""")).all())
        available = dict(db.session.execute(select(LedgerAccount.owner_id, LedgerAccount.balance_cents)
                                            .where(LedgerAccount.kind == "annotator_available")).all())
        assert available == earned
        assert balances.get("annotator_pending", 0) == 0
        statuses = db.session.scalars(select(Payout.status).distinct()).all()
        assert statuses == [NOT_SENT]
        payout_count = db.session.scalar(select(func.count()).select_from(Payout))
        for kind in ("payout", "payout_returned"):
            assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)
                                     .where(LedgerTransaction.kind == kind)) == payout_count

        # Every escrow is spent to the cent; each requester keeps exactly what they funded beyond the worst case.
        fees = 0
        for project_id, requester_id in owners:
            project = db.session.get(Project, project_id)
            state = escrow.state(project)
            assert (state["escrow_cents"], state["escrow_held_cents"]) == (0, 0)
            assert db.session.scalar(select(LedgerAccount.balance_cents).where(
                LedgerAccount.kind == "requester_available", LedgerAccount.owner_id == requester_id)) == SPARE_CENTS
            fees += TASKS * REDUNDANCY * escrow.fee_cents(project.reward_cents, project.fee_bps)
        assert balances["platform_fees"] == fees

        # The conservation identity: what the platform has (cash at Stripe: everything funded, as nothing was paid
        # out or refunded; no requester owes anything) is exactly what it owes: requesters' balances, escrows,
        # annotators' earnings, its own fees.
        owed = sum(cents for kind, cents in balances.items() if kind not in DEBIT_NORMAL)
        assert sum(cents for kind, cents in balances.items() if kind in DEBIT_NORMAL) == balances["stripe_cash"]
        assert balances["stripe_cash"] == funded == owed
        assert owed == (REQUESTERS * SPARE_CENTS + balances.get("project_escrow", 0) + sum(earned.values()) + fees)


def test_a_top_up_racing_a_lease_is_no_deadlock(committed_app, ledger_only, monkeypatch):
    """The requester tops up while an annotator leases: the top-up holds the project's row lock when the lease runs.

    A lease's INSERT takes FOR KEY SHARE on the project row (its foreign key) while it holds the task and
    escrow rows; project row locks are therefore FOR NO KEY UPDATE, which does not conflict with it.
    """
    with committed_app.app_context():
        requester = RequesterFactory()
        project = ProjectFactory(requester_id=requester.id, status=DRAFT, task_count=2, reward_cents=10,
                                 answers_per_task=1)
        for t in range(2):
            TaskFactory(project_id=project.id, external_id=f"t{t}", slot_limit=1)
        funding.create(requester=requester, amount_cents=1_000, currency="usd", key="opening",
                       body_hash=idempotency.request_hash({"amount_cents": 1_000}), now=utcnow())
        projects.transition(account=requester, project_id=project.id, action="publish", now=utcnow())
        requester_headers, annotator_headers = bearer(requester), bearer(AnnotatorFactory())
        db.session.commit()
        project_id = project.id

    # The top-up pauses right after taking the project's row lock, until the lease is under way.
    project_locked, lease_under_way = threading.Event(), threading.Event()
    owned = projects.owned

    def owned_then_pause(**kwargs):
        found = owned(**kwargs)
        if threading.current_thread().name == "top-up":
            project_locked.set()
            assert lease_under_way.wait(timeout=JOIN_TIMEOUT_S)
        return found

    monkeypatch.setattr(projects, "owned", owned_then_pause)
    answers = {}

    def call(name, path, **kwargs):
        answers[name] = committed_app.test_client().post(path, **kwargs).status_code

    top_up = threading.Thread(name="top-up", target=call, args=("top-up", f"/api/v1/projects/{project_id}/escrow"),
                              kwargs={"json": {"amount_cents": 5}, "headers": requester_headers})
    lease = threading.Thread(name="lease", target=call, args=("lease", f"/api/v1/projects/{project_id}/assignments"),
                             kwargs={"headers": annotator_headers})
    top_up.start()
    assert project_locked.wait(timeout=JOIN_TIMEOUT_S)
    lease.start()
    with committed_app.app_context(), db.engine.connect() as conn:
        waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND query LIKE '%WITH picked%'")
        while lease.is_alive() and not conn.scalar(waiting):  # the lease finished, or waits for the project row
            conn.rollback()
    lease_under_way.set()
    for thread in (top_up, lease):
        thread.join(timeout=JOIN_TIMEOUT_S)
    assert not top_up.is_alive() and not lease.is_alive()
    assert answers == {"top-up": 200, "lease": 201}
