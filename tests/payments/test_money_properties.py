"""Money never goes missing: a hypothesis state machine drives the money services at random on PostgreSQL.

Each step is one operation, called through the services with a controllable `now` as one request or
job would make it: fund a requester (a simulated funding through the ledger-only gateway, or the
test factory); create and publish a project (1-5 tasks, 1-50 cents, 1-3 answers per task, fixed or
adaptive, maybe with a gold task); lease and answer or release; let time pass and expire leases;
approve, reject, auto-approve; aggregate (a project whose tasks are all done completes); publish new
guidelines that reopen answered tasks; grant a bonus; open payout accounts, run, send and retry
payouts; dispute a rejection and resolve it (a second resolution must be a 409); refund part of a
funding; top up and close projects; and replay what was done already (a ledger posting under a used
key, with its amounts or impossible ones; a decision on decided answers; an answer's payment; a sent
payout or refund; a funding, bonus, refund or top-up under its Idempotency-Key, same body or not).

An operation runs in a savepoint. A DomainError it may end in (402, 404, 409, 422) rolls it back, as
the request's transaction would, and the ledger must be exactly as before; a replay must leave it
exactly as before whatever it returns. After every step the books are checked:

- the trial balance balances (debits = credits, no unbalanced transaction, every cached balance
  equals the sum of its entries); what the platform has (cash at Stripe, requesters' debts) equals
  what it owes; the cash is what was funded less what was refunded and paid out;
- no protected balance is negative, and no account holds more than its balance;
- an escrow holds one answer's cost per live lease and one fee per pending answer, and a closed
  project's escrow keeps nothing free;
- each annotator's pending balance is the reward of their undecided answers, and their available
  balance what they earned (approved, or won on dispute) plus bonuses less payouts; platform fees
  and refunds in flight equal what the rows say;
- every answer was paid exactly once (`answer-<assignment id>`).

Operations are picked by weight (leasing most) among those that can do something in the current
state, through one rule: hypothesis' per-rule swarm testing would otherwise switch off a link of
the fund -> publish -> lease -> answer -> approve -> pay out chain in most examples.

Each example runs inside the `ctx` fixture's transaction, in the session's own savepoint, rolled
back when the example ends (the example first checks that it starts from an empty ledger).

Size: the issue asks for 10,000 random operations. A step costs ~15 ms here (2 cores; ~18 round
trips to PostgreSQL plus the ORM, half of it the checks), so 100 examples x 100 steps took about
2 minutes. CI runs 125 examples of up to 100 steps (about 10,000 operations, ~2.5 minutes);
MONEY_EXAMPLES=40 runs about 3,000 (~45 s) for a quick local check, MONEY_EXAMPLES=400 about 32,000.
"""
import os
import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from psycopg.rows import namedtuple_row
from sqlalchemy import func, select

from marketplace.accounts.models import ADMIN, Account
from marketplace.approvals import bonuses
from marketplace.approvals import services as approvals
from marketplace.assignments import answering
from marketplace.assignments import services as assignments
from marketplace.db import utcnow
from marketplace.disputes import services as disputes
from marketplace.errors import Conflict, DomainError, InsufficientFunds, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.ledger import reports
from marketplace.ledger import services as ledger
from marketplace.ledger import store as ledger_store
from marketplace.ledger.models import DEBIT_NORMAL, PROTECTED, LedgerEntry, LedgerTransaction
from marketplace.payments import escrow, funding, idempotency, payouts, refunds
from marketplace.payments import gateway as gateways
from marketplace.payments.models import NOT_SENT, PENDING, SUCCEEDED, Payout, Refund
from marketplace.projects import guidelines
from marketplace.projects import services as projects
from marketplace.projects.models import DRAFT, Project, initial_slots
from marketplace.results import services as results
from marketplace.tasks.models import GOLD
from tests.factories import (AccountFactory, AnnotatorFactory, ProjectFactory, RequesterFactory, TaskFactory,
                             fund_requester)

EXAMPLES = int(os.environ.get("MONEY_EXAMPLES", "125"))
STEPS = 100
REQUESTERS = 2
ANNOTATORS = 4
OPENING_FUNDING_CENTS = 1_500
# The DomainErrors an operation may end in (the request answers 402, 404, 409 or 422 and changes nothing).
EXPECTED = (InsufficientFunds, Conflict, NotFound, ValidationFailed)
REASON = "The label does not match what the image shows."
PICK = st.integers(0, 63)
SUBSET = st.integers(0, 2**8 - 1)
# A small project: 1-5 tasks, a reward of 1-50 cents, 1-3 answers per task (fixed, or adaptive up to that
# many), a platform fee, 1-2 leases at a time, maybe a gold task handed out now and then.
PROJECT = st.fixed_dictionaries({
    "tasks": st.integers(1, 5), "reward": st.integers(1, 50), "redundancy": st.integers(1, 3),
    "fee_bps": st.sampled_from([2_000, 0, 1_000, 3_333]), "leases": st.integers(1, 2),
    "adaptive": st.sampled_from([False, False, True]), "gold": st.sampled_from([False, False, True]),
})
# What the operations ended in over the whole run (rule: outcome), to prove the run did real work.
OUTCOMES: Counter = Counter()


@dataclass
class Outcome:
    ok: bool
    value: object = None
    error: DomainError | None = None


def _query(sql: str, params: dict | None = None) -> list:
    """Read on the session's connection with a bare psycopg cursor (the checks run after every step)."""
    dbapi = db.session.connection().connection.dbapi_connection
    with dbapi.cursor(row_factory=namedtuple_row) as cursor:
        cursor.execute(sql, params or {}, prepare=True)
        return cursor.fetchall()


_FINGERPRINT_COLUMNS = """
(SELECT count(*) FROM ledger_entries) AS entries, (SELECT count(*) FROM ledger_transactions) AS postings,
(SELECT coalesce(string_agg(id || ':' || balance_cents || ':' || held_cents, ',' ORDER BY id), '')
 FROM ledger_accounts) AS balances"""
_FINGERPRINT = f"SELECT {_FINGERPRINT_COLUMNS}"


def _fingerprint() -> tuple:
    """Everything the ledger holds, in one round trip: entry and transaction counts, every balance and hold."""
    return tuple(_query(_FINGERPRINT)[0])


def _read_afresh() -> None:
    """Forget what the session knows of rows that change behind the ORM's back (Core and raw SQL writes).

    Accounts never change here and projects only through the ORM, so those stay (one query less per
    operation); a rolled-back operation forgets everything.
    """
    for obj in list(db.session.identity_map.values()):
        if not isinstance(obj, (Account, Project)):
            db.session.expire(obj)


class _Draw(random.Random):
    """The lease's gold draw, fixed: below a project's gold rate it tries a gold task first."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def random(self):
        return self.value


def _refund_body(funding_id: int, amount: int | None) -> str:
    return idempotency.request_hash({"funding_id": funding_id, "amount_cents": amount, "reason": "customer asked"})


def _choose(items: list, pick: int):
    return items[pick % len(items)] if items else None


def _subset(items: list, mask: int) -> list:
    """Some of the items (at least one, if there are any)."""
    return [item for i, item in enumerate(items) if mask >> (i % 8) & 1] or items[:1]


def operation(weight: int, *needs: str, **arguments):
    """Mark a method as an operation of the machine: how often to pick it, what must exist first, its arguments.

    `needs` name counts in the state read after the last step (or lists on the machine) that must be non-empty.
    """
    def mark(method):
        method.operation = (weight, needs, arguments)
        return method
    return mark


class MoneyMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        db.session.remove()
        # The canary: the previous example was rolled back (and no other test left money behind), so this one
        # starts from an empty ledger; the checks compare global totals.
        assert db.session.scalar(select(LedgerTransaction.id).limit(1)) is None, "the ledger must start empty"
        self.now = utcnow().replace(microsecond=0)
        self.requesters = [RequesterFactory().id for _ in range(REQUESTERS)]
        self.annotators = [AnnotatorFactory().id for _ in range(ANNOTATORS)]
        self.admin = AccountFactory(role=ADMIN).id
        self.projects: list[int] = []
        self.fundings: list[int] = []
        self.funding_keys: list[tuple[int, str, int]] = []  # (requester, key, amount)
        self.bonus_keys: list[tuple[int, str, int, int]] = []  # (requester, key, assignment, amount)
        self.top_up_keys: list[tuple[int, int, str, int | None, int]] = []  # (requester, project, key, amount, moved)
        self.refund_keys: list[tuple[str, int, int, int | None]] = []  # (key, refund, funding, amount)
        self.factory_cents = 0  # credited by tests.factories.fund_requester (it has no funding row)
        self.sequence = 0
        self.fingerprint: tuple | None = None  # the ledger's fingerprint, while it is known to be current
        for requester_id in self.requesters:
            self._fund(requester_id, OPENING_FUNDING_CENTS, key=None)
        self.state = _query(_STATE)[0]
        self.fingerprint = None

    def teardown(self):
        db.session.rollback()
        db.session.remove()

    # --- helpers -------------------------------------------------------------------------------

    def _key(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}-{self.sequence}"

    @staticmethod
    def _account(account_id: int) -> Account:
        return db.session.get(Account, account_id)

    @staticmethod
    def _project(project_id: int) -> Project:
        return db.session.get(Project, project_id)

    def _attempt(self, operation, label: str) -> Outcome:
        """Run one operation as a request would: all of it, or (on an allowed DomainError) none of it."""
        _read_afresh()  # a request reads the database as it is now
        before, self.fingerprint = self.fingerprint or _fingerprint(), None  # read by the last check, if still true
        savepoint = db.session.begin_nested()
        try:
            value = operation()
        except DomainError as exc:
            if not isinstance(exc, EXPECTED):
                raise
            if exc.keeps_changes:  # an expired lease goes back to the pool though its answer is refused
                savepoint.commit()
                assert _fingerprint()[:2] == before[:2], f"{label}: a refused request posted to the ledger"
            else:
                savepoint.rollback()
                # A request's rollback expires every object; a savepoint's only those it saw change, and an
                # ORM UPDATE synchronises the objects it matched without marking them changed. Read afresh.
                db.session.expire_all()
                assert _fingerprint() == before, f"{label}: {type(exc).__name__} left the ledger changed"
                self.fingerprint = before
            OUTCOMES[f"{label}: {type(exc).__name__}"] += 1
            return Outcome(False, error=exc)
        savepoint.commit()
        OUTCOMES[f"{label}: ok"] += 1
        return Outcome(True, value)

    def _unchanged(self, operation, label: str) -> Outcome:
        """Run a replay: whatever it returns or raises, the ledger must not change."""
        before = self.fingerprint = self.fingerprint or _fingerprint()
        outcome = self._attempt(operation, label)
        assert _fingerprint() == before, f"{label}: a replay changed the ledger"
        self.fingerprint = before
        return outcome

    def _assignments(self, condition: str) -> list:
        """This example's assignments matching a SQL condition, in id order."""
        return _query(f"SELECT a.id, a.annotator_id, a.project_id, a.task_id, a.escrow_lane FROM assignments a "
                      f"WHERE {condition} ORDER BY a.id")

    def _projects(self, condition: str) -> list[int]:
        return [row.id for row in _query(f"SELECT p.id FROM projects p WHERE {condition} ORDER BY p.id")]

    # --- money in ------------------------------------------------------------------------------

    def _fund(self, requester_id: int, amount: int, key: str | None) -> Outcome:
        body = idempotency.request_hash({"amount_cents": amount, "currency": "usd"})
        outcome = self._attempt(lambda: funding.create(requester=self._account(requester_id), amount_cents=amount,
                                                       currency="usd", key=key, body_hash=body, now=self.now), "fund")
        assert outcome.ok and outcome.value.status == SUCCEEDED and outcome.value.simulated
        self.fundings.append(outcome.value.id)
        if key is not None:
            self.funding_keys.append((requester_id, key, amount))
        return outcome

    @operation(2, requester=PICK, amount=st.integers(50, 3_000), keyed=st.booleans(), via_factory=st.booleans())
    def fund(self, requester, amount, keyed, via_factory):
        requester_id = _choose(self.requesters, requester)
        if via_factory:
            if self._attempt(lambda: fund_requester(requester_id, amount), "fund_by_factory").ok:
                self.factory_cents += amount
        else:
            self._fund(requester_id, amount, self._key("funding") if keyed else None)

    @operation(1, "funding_keys", pick=PICK, same_body=st.booleans())
    def replay_funding(self, pick, same_body):
        requester_id, key, amount = _choose(self.funding_keys, pick)
        body = idempotency.request_hash({"amount_cents": amount if same_body else amount + 1, "currency": "usd"})
        outcome = self._unchanged(lambda: funding.create(requester=self._account(requester_id), amount_cents=amount,
                                                         currency="usd", key=key, body_hash=body, now=self.now),
                                  "replay_funding")
        if same_body:
            assert outcome.ok and outcome.value.idempotency_key == key
        else:
            assert isinstance(outcome.error, ValidationFailed)

    # --- projects ------------------------------------------------------------------------------

    def _create_project(self, requester_id: int, spec: dict, publish: bool) -> None:
        adaptive = {"target_confidence": 0.9, "min_answers": 1, "max_answers": spec["redundancy"]} \
            if spec["adaptive"] else {}
        gold = {"gold_count": 1, "gold_rate": 0.3} if spec["gold"] else {}

        def create():
            project = ProjectFactory(requester_id=requester_id, status=DRAFT, task_count=spec["tasks"],
                                     reward_cents=spec["reward"], fee_bps=spec["fee_bps"],
                                     answers_per_task=spec["redundancy"], max_leases_per_annotator=spec["leases"],
                                     **adaptive, **gold)
            for i in range(spec["tasks"]):
                TaskFactory(project_id=project.id, external_id=f"t{i}", slot_limit=initial_slots(project))
            if gold:
                TaskFactory(project_id=project.id, external_id="g0", status=GOLD, gold_answer={"label": "cat"})
            return project.id

        project_id = self._attempt(create, "create_project").value
        self.projects.append(project_id)
        if publish:
            self._transition(project_id, "publish")

    @initialize(first=PROJECT, second=PROJECT)
    def open_two_projects(self, first, second):
        """Each requester starts with a published project (the opening funding covers its worst case)."""
        for requester_id, spec in zip(self.requesters, (first, second), strict=True):
            self._create_project(requester_id, spec, publish=True)

    @initialize()
    def open_payout_accounts(self):
        """Half the annotators can be paid out from the start; the others open an account later (or never)."""
        for annotator_id in self.annotators[: ANNOTATORS // 2]:
            self.payout_account(self.annotators.index(annotator_id))

    @operation(1, requester=PICK, spec=PROJECT, publish=st.sampled_from([True, True, False]))
    def create_project(self, requester, spec, publish):
        self._create_project(_choose(self.requesters, requester), spec, publish)

    def _transition(self, project_id: int, action: str) -> Outcome:
        project = self._project(project_id)
        status, requester_id = project.status, project.requester_id
        outcome = self._attempt(lambda: projects.transition(account=self._account(requester_id), project_id=project_id,
                                                            action=action, now=self.now), action)
        if status not in projects.TRANSITIONS[action][0]:
            assert isinstance(outcome.error, Conflict), f"{action} from {status} must be refused"
        elif action == "publish":  # the worst case moves into escrow, or the requester cannot pay it
            assert outcome.ok or isinstance(outcome.error, InsufficientFunds)
        else:
            assert outcome.ok
        return outcome

    @operation(1, "drafts", pick=PICK, any_status=st.booleans())
    def publish(self, pick, any_status):
        self._transition(_choose(self.projects if any_status else self._projects("p.status = 'draft'"), pick),
                         "publish")

    @operation(1, "open_projects", pick=PICK, any_status=st.booleans())
    def close(self, pick, any_status):
        self._transition(_choose(self.projects if any_status else self._projects("p.status IN ('open', 'completed')"),
                                 pick), "close")

    @operation(1, "open_projects", pick=PICK, amount=st.one_of(st.none(), st.integers(1, 500)), keyed=st.booleans())
    def top_up(self, pick, amount, keyed):
        project_id = _choose(self._projects("p.status = 'open'"), pick)
        requester_id = self._project(project_id).requester_id
        key = self._key("top-up") if keyed else None
        outcome = self._attempt(lambda: projects.top_up(account=self._account(requester_id), project_id=project_id,
                                                        amount_cents=amount, now=self.now, key=key), "top_up")
        if outcome.ok and key is not None:
            self.top_up_keys.append((requester_id, project_id, key, amount, outcome.value["moved_cents"]))

    @operation(1, "top_up_keys", pick=PICK, same_body=st.booleans())
    def replay_top_up(self, pick, same_body):
        """A top-up replayed under its Idempotency-Key reports what the first moved and moves nothing."""
        requester_id, project_id, key, amount, moved = _choose(self.top_up_keys, pick)
        sent = amount if same_body else (amount or 0) + 1
        outcome = self._unchanged(lambda: projects.top_up(account=self._account(requester_id), project_id=project_id,
                                                          amount_cents=sent, now=self.now, key=key), "replay_top_up")
        if same_body:  # (or refused, if the project has closed since)
            assert (outcome.ok and outcome.value["moved_cents"] == moved) or isinstance(outcome.error, Conflict)
        else:
            assert isinstance(outcome.error, (ValidationFailed, Conflict))

    @operation(1, "answered", pick=PICK)
    def aggregate(self, pick):
        """The aggregation job: results for closed tasks; a project whose tasks are all done completes."""
        project_id = _choose(self._projects("p.status = 'open'"), pick)
        if project_id is not None:
            assert self._attempt(lambda: results.aggregate_project(project_id=project_id, now=self.now),
                                 "aggregate").ok

    @operation(1, "answered", pick=PICK, reopen=st.sampled_from([True, True, False]))
    def new_guidelines(self, pick, reopen):
        """A major new version of the instructions; answered tasks may reopen (answers superseded, still owed)."""
        project_id = _choose(self._projects("p.status <> 'draft'"), pick)
        requester_id = self._project(project_id).requester_id
        outcome = self._attempt(lambda: guidelines.publish(
            account=self._account(requester_id), project_id=project_id, instructions="Pick the animal, carefully.",
            major=True, requalify=False, reopen_answered=reopen, note="clearer", now=self.now), "new_guidelines")
        assert outcome.ok or isinstance(outcome.error, (Conflict, InsufficientFunds)), outcome.error

    # --- work ----------------------------------------------------------------------------------

    @operation(6, "open_projects", annotator=PICK, project=PICK,
               then=st.sampled_from(["answer", "answer", "keep", "release"]), draw=st.sampled_from([0.9, 0.9, 0.1]))
    def lease(self, annotator, project, then, draw):
        """Lease the next task of a project (a gold one first when the draw is below its gold rate); answer it at
        once, keep it, or give it back."""
        project_id = _choose(self._projects("p.status = 'open'"), project)
        annotator_id = _choose(self.annotators, annotator)
        leased = self._attempt(lambda: assignments.lease_next_task(
            project_id=project_id, annotator=self._account(annotator_id), now=self.now, rng=_Draw(draw)), "lease")
        if not leased.ok:
            assert isinstance(leased.error, (NotFound, Conflict)), leased.error
            return
        assignment_id = leased.value.assignment_id
        if then == "answer":
            answered = self._attempt(lambda: answering.submit_answer(
                assignment_id=assignment_id, annotator=self._account(annotator_id), answer={"label": "cat"},
                now=self.now), "answer")
            assert answered.ok
        elif then == "release":
            assert self._attempt(lambda: assignments.release(assignment_id=assignment_id,
                                                             annotator=self._account(annotator_id), now=self.now),
                                 "release").ok

    @operation(2, "leased", pick=PICK, stale=st.booleans(), label=st.sampled_from(["cat", "dog", "whale"]))
    def submit(self, pick, stale, label):
        """Answer a lease (maybe expired, maybe with a label outside the schema), or any assignment at all."""
        row = _choose(self._assignments("true" if stale else "a.status = 'leased'"), pick)
        outcome = self._attempt(lambda: answering.submit_answer(
            assignment_id=row.id, annotator=self._account(row.annotator_id), answer={"label": label}, now=self.now),
            "submit")
        assert not (outcome.ok and label == "whale"), "an answer outside the label schema was accepted"

    @operation(1, "leased", pick=PICK, stale=st.booleans())
    def release(self, pick, stale):
        row = _choose(self._assignments("true" if stale else "a.status = 'leased'"), pick)
        self._attempt(lambda: assignments.release(assignment_id=row.id, annotator=self._account(row.annotator_id),
                                                  now=self.now), "release")

    @operation(2, seconds=st.sampled_from([601, 30, 1_200, 3 * 86_400 + 1, 15 * 86_400]), sweep=st.booleans())
    def advance_time(self, seconds, sweep):
        """Time passes (past a lease's 600 s, the 3-day auto-approval, the 14-day dispute window); maybe a sweep."""
        self.now += timedelta(seconds=seconds)
        if sweep:
            assert self._attempt(lambda: assignments.expire_leases(now=self.now), "expire_leases").ok

    # --- verdicts ------------------------------------------------------------------------------

    def _decide(self, pick: int, mask: int, decision: str, reason: str = REASON) -> None:
        row = _choose(self._assignments(_PENDING), pick)
        chosen = _subset(approvals.pending_ids(project_id=row.project_id), mask)
        project = self._project(row.project_id)
        requester_id = project.requester_id
        if decision == "approve":
            outcome = self._attempt(lambda: approvals.approve(project=self._project(row.project_id), ids=chosen,
                                                              actor_id=requester_id, now=self.now), "approve")
        else:
            outcome = self._attempt(lambda: approvals.reject(
                project=self._project(row.project_id), ids=chosen, category="wrong_answer", reason=reason,
                actor_id=requester_id, now=self.now), "reject")
        if reason == REASON:
            assert outcome.ok and outcome.value == len(chosen)
        else:
            assert isinstance(outcome.error, ValidationFailed)

    @operation(3, "pending", pick=PICK, mask=SUBSET)
    def approve(self, pick, mask):
        self._decide(pick, mask, "approve")

    @operation(3, "pending", pick=PICK, mask=SUBSET, reason=st.sampled_from([REASON, REASON, "too short"]))
    def reject(self, pick, mask, reason):
        self._decide(pick, mask, "reject", reason)

    @operation(1, "pending")
    def approve_due(self):
        assert self._attempt(lambda: approvals.approve_due(now=self.now), "approve_due").ok

    @operation(1, "decided", pick=PICK, mask=SUBSET, decision=st.sampled_from(["approve", "reject"]))
    def replay_decision(self, pick, mask, decision):
        """Deciding answers that were already decided changes nothing."""
        decided = self._assignments("a.approved_at IS NOT NULL OR a.rejected_at IS NOT NULL")
        row = _choose(decided, pick)
        ids = _subset([r.id for r in decided if r.project_id == row.project_id], mask)
        project = self._project(row.project_id)
        if decision == "approve":
            outcome = self._unchanged(lambda: approvals.approve(project=project, ids=ids, actor_id=None, now=self.now),
                                      "replay_approve")
        else:
            outcome = self._unchanged(lambda: approvals.reject(project=project, ids=ids, category="wrong_answer",
                                                               reason=REASON, actor_id=None, now=self.now),
                                      "replay_reject")
        assert outcome.ok and outcome.value == 0

    # --- bonuses -------------------------------------------------------------------------------

    @operation(1, "answered", pick=PICK, amount=st.integers(1, 300),
               owner=st.sampled_from(["owner", "owner", "stranger"]))
    def bonus(self, pick, amount, owner):
        row = _choose(self._assignments("a.submitted_at IS NOT NULL"), pick)
        owner_id = self._project(row.project_id).requester_id
        requester_id = owner_id if owner == "owner" else next(r for r in self.requesters if r != owner_id)
        key = self._key("bonus")
        body = idempotency.request_hash({"assignment_id": row.id, "amount_cents": amount, "reason": "great work"})
        outcome = self._attempt(lambda: bonuses.grant(requester=self._account(requester_id), assignment_id=row.id,
                                                      amount_cents=amount, reason="great work", key=key,
                                                      body_hash=body, now=self.now), "bonus")
        if owner == "stranger":
            assert isinstance(outcome.error, NotFound)
        elif outcome.ok:
            self.bonus_keys.append((requester_id, key, row.id, amount))
        else:
            assert isinstance(outcome.error, InsufficientFunds)

    @operation(1, "bonus_keys", pick=PICK, same_body=st.booleans())
    def replay_bonus(self, pick, same_body):
        requester_id, key, assignment_id, amount = _choose(self.bonus_keys, pick)
        sent = amount if same_body else amount + 1
        body = idempotency.request_hash({"assignment_id": assignment_id, "amount_cents": sent, "reason": "great work"})
        outcome = self._unchanged(lambda: bonuses.grant(requester=self._account(requester_id),
                                                        assignment_id=assignment_id, amount_cents=sent,
                                                        reason="great work", key=key, body_hash=body, now=self.now),
                                  "replay_bonus")
        if same_body:
            assert outcome.ok and outcome.value.amount_cents == amount
        else:
            assert isinstance(outcome.error, ValidationFailed)

    # --- payouts -------------------------------------------------------------------------------

    @operation(1, annotator=PICK)
    def payout_account(self, annotator):
        annotator_id = _choose(self.annotators, annotator)
        outcome = self._attempt(lambda: payouts.payout_account(annotator=self._account(annotator_id)), "payout_account")
        assert outcome.ok and outcome.value.payouts_enabled and outcome.value.simulated

    @operation(2, "payable", minimum=st.sampled_from([1, 1, 50]), send=st.booleans())
    def run_payouts(self, minimum, send):
        outcome = self._attempt(lambda: payouts.run(now=self.now, minimum_cents=minimum), "run_payouts")
        assert outcome.ok
        if send:
            for payout_id in outcome.value:
                self._send_payout(payout_id)

    def _send_payout(self, payout_id: int) -> None:
        sent = self._attempt(lambda: payouts.send(payout_id=payout_id, now=self.now), "send_payout")
        assert sent.ok and sent.value == NOT_SENT  # ledger-only: recorded, and the money back to available

    @operation(1, "pending_payouts")
    def send_pending_payouts(self):
        for payout_id in db.session.scalars(select(Payout.id).where(Payout.status == PENDING).order_by(Payout.id)):
            self._send_payout(payout_id)

    @operation(1, "payouts", pick=PICK)
    def replay_payout(self, pick):
        """Sending a payout again pays nothing; an admin retry takes the money out once more (or is refused)."""
        payout = _choose(list(db.session.scalars(select(Payout).order_by(Payout.id))), pick)
        payout_id, status = payout.id, payout.status
        if status != PENDING:
            assert self._unchanged(lambda: payouts.send(payout_id=payout_id, now=self.now), "replay_send_payout"
                                   ).value is None
        if status == NOT_SENT:
            retried = self._attempt(lambda: payouts.retry(payout_id=payout_id, now=self.now), "retry_payout")
            assert retried.ok or isinstance(retried.error, InsufficientFunds)

    # --- disputes ------------------------------------------------------------------------------

    @operation(3, "rejected", pick=PICK, again=st.sampled_from([False, False, True]),
               reason=st.sampled_from([REASON, REASON, "no"]))
    def open_dispute(self, pick, again, reason):
        undisputed = "NOT EXISTS (SELECT 1 FROM disputes d WHERE d.assignment_id = a.id)"
        row = _choose(self._assignments("a.status = 'rejected'" + ("" if again else f" AND {undisputed}")), pick)
        if row is None:
            return
        outcome = self._attempt(lambda: disputes.open_dispute(annotator=self._account(row.annotator_id),
                                                              assignment_id=row.id, reason=reason, now=self.now),
                                "open_dispute")
        assert not outcome.ok or reason == REASON

    @operation(3, "disputes", pick=PICK, outcome=st.sampled_from(["upheld", "overturned"]))
    def resolve_dispute(self, pick, outcome):
        dispute = _choose(_query("SELECT id, status FROM disputes ORDER BY id"), pick)
        admin = self._account(self.admin)
        if dispute.status != "open":
            again = self._unchanged(lambda: disputes.resolve(admin=admin, dispute_id=dispute.id, outcome=outcome,
                                                             note="second look", now=self.now), "resolve_again")
            assert isinstance(again.error, Conflict), "a dispute is resolved once"
            return
        result = self._attempt(lambda: disputes.resolve(admin=admin, dispute_id=dispute.id, outcome=outcome,
                                                        note="looked at it", now=self.now),
                               f"resolve_{outcome}")
        assert result.ok, result.error  # an overturned rejection is paid even if the requester cannot (a receivable)
        again = self._unchanged(lambda: disputes.resolve(admin=admin, dispute_id=dispute.id, outcome="overturned",
                                                         note="and again", now=self.now), "resolve_again")
        assert isinstance(again.error, Conflict), "a dispute is resolved once"

    # --- refunds -------------------------------------------------------------------------------

    @operation(1, pick=PICK, amount=st.one_of(st.integers(1, 2_000), st.none()), keyed=st.booleans(),
               send=st.booleans())
    def refund(self, pick, amount, keyed, send):
        funding_id = _choose(self.fundings, pick)
        key = self._key("refund") if keyed else None
        body = _refund_body(funding_id, amount)
        outcome = self._attempt(lambda: refunds.create(admin_id=self.admin, funding_id=funding_id, amount_cents=amount,
                                                       reason="customer asked", key=key, body_hash=body, now=self.now),
                                "refund")
        if not outcome.ok:  # more than is left of the funding, or more than the requester has
            assert isinstance(outcome.error, (InsufficientFunds, ValidationFailed)), outcome.error
            return
        refund, created = outcome.value
        assert created
        if key is not None:
            self.refund_keys.append((key, refund.id, funding_id, amount))
        if send:
            self._send_refund(refund.id)

    def _send_refund(self, refund_id: int) -> None:
        sent = self._attempt(lambda: refunds.send(refund_id=refund_id, now=self.now), "send_refund")
        assert sent.ok and sent.value == "succeeded"  # ledger-only: the simulated refund succeeds at once

    @operation(1, "pending_refunds")
    def send_pending_refunds(self):
        for refund_id in db.session.scalars(select(Refund.id).where(Refund.status == PENDING).order_by(Refund.id)):
            self._send_refund(refund_id)

    @operation(1, "refund_keys", pick=PICK, same_body=st.booleans())
    def replay_refund(self, pick, same_body):
        key, refund_id, funding_id, amount = _choose(self.refund_keys, pick)
        sent = amount if same_body else (amount or 0) + 1
        outcome = self._unchanged(lambda: refunds.create(
            admin_id=self.admin, funding_id=funding_id, amount_cents=sent, reason="customer asked", key=key,
            body_hash=_refund_body(funding_id, sent), now=self.now), "replay_refund")
        if same_body:
            assert outcome.ok and outcome.value == (db.session.get(Refund, refund_id), False)
        else:
            assert isinstance(outcome.error, ValidationFailed)
        if db.session.get(Refund, refund_id).status != PENDING:
            assert self._unchanged(lambda: refunds.send(refund_id=refund_id, now=self.now), "replay_send_refund"
                                   ).value is None

    # --- replays of postings -------------------------------------------------------------------

    @operation(1, pick=PICK, inflate=st.booleans())
    def replay_posting(self, pick, inflate):
        """Posting again under a key already used changes nothing, even with amounts no balance could pay."""
        count = db.session.scalar(select(func.count()).select_from(LedgerTransaction))
        txn = db.session.scalar(select(LedgerTransaction).order_by(LedgerTransaction.id).offset(pick % count).limit(1))
        entries = db.session.execute(select(LedgerEntry.account_id, LedgerEntry.amount_cents)
                                     .where(LedgerEntry.transaction_id == txn.id).order_by(LedgerEntry.id)).all()
        debits = [(e.account_id, e.amount_cents) for e in entries if e.amount_cents > 0]
        credits = [(e.account_id, -e.amount_cents) for e in entries if e.amount_cents < 0]
        moves = [ledger.Move(debit, credit, 10**9 if inflate else min(debited, credited))
                 for (debit, debited), (credit, credited) in zip(debits, credits, strict=False)]
        key, kind, reference = txn.idempotency_key, txn.kind, (txn.reference_type, txn.reference_id)
        outcome = self._unchanged(lambda: ledger.post(key=key, kind=kind, reference=reference, moves=moves,
                                                      now=self.now), "replay_posting")
        assert outcome.ok and outcome.value is None

    @operation(1, "answered", pick=PICK)
    def replay_answer_payment(self, pick):
        row = _choose(self._assignments("a.submitted_at IS NOT NULL"), pick)
        project = self._project(row.project_id)
        escrow_id = escrow.escrow_lanes(project)[row.escrow_lane]
        outcome = self._unchanged(lambda: ledger_store.pay_answer(
            project_id=project.id, currency=project.currency, reward_cents=project.reward_cents, assignment_id=row.id,
            annotator_id=row.annotator_id, escrow_id=escrow_id, now=self.now), "replay_answer_payment")
        assert outcome.ok

    # --- the books -----------------------------------------------------------------------------

    @rule(data=st.data())
    def step(self, data):
        """One operation, picked by weight among those that can do something now, with its arguments."""
        choices = [name for name, (weight, needs, _) in _OPERATIONS.items() for _ in range(weight)
                   if all(getattr(self.state, need, None) or getattr(self, need, None) for need in needs)]
        name = data.draw(st.sampled_from(choices), label="operation")
        arguments = {key: data.draw(strategy, label=key) for key, strategy in _OPERATIONS[name][2].items()}
        OUTCOMES["steps"] += 1
        getattr(self, name)(**arguments)

    @invariant()
    def the_books_hold(self):
        db.session.expire_all()  # the books as the database has them, as a fresh request would read them
        trial = reports.trial_balance()
        assert trial["balanced"], {key: trial[key] for key in ("debits_cents", "credits_cents",
                                                             "unbalanced_transactions", "mismatches")}
        state = self.state = _query(_STATE)[0]
        self.fingerprint = (state.entries, state.postings, state.balances)
        assert state.bad_accounts is None, f"protected balances below zero or below their holds: {state.bad_accounts}"
        # Cash at Stripe is everything the platform owes, and each side is what the rows say it is.
        assert state.assets == state.owed, state  # cash at Stripe and what requesters owe = all the platform owes
        assert state.cash == state.funded + self.factory_cents - state.refunded - state.paid_out, state
        assert state.refunds == state.refunds_in_flight, state
        assert state.fees == state.fees_earned, state
        assert state.unpaid_answers == 0 and state.answered == state.answer_payments, state
        # An escrow holds one answer's cost per live lease and one fee per pending answer (no more once closed).
        assert state.bad_escrows is None, state.bad_escrows
        # Pending is the reward of undecided answers; available is earned plus bonuses minus what was paid out.
        assert state.bad_annotators is None, state.bad_annotators


# The fee on one answer, rounded up to a whole cent as escrow.fee_cents does.
_FEE = "ceil(p.reward_cents * p.fee_bps / 10000.0)::bigint"
_PENDING = "a.status IN ('submitted', 'superseded') AND a.approved_at IS NULL AND a.rejected_at IS NULL"

# The totals the books must agree with, and how much of everything there is (for the rules' preconditions).
# name -> (weight, needs, argument strategies): leasing first (shrinking prefers it), then in the order written.
_OPERATIONS = {name: method.operation for name, method in sorted(
    vars(MoneyMachine).items(), key=lambda item: item[0] != "lease") if hasattr(method, "operation")}

_PROTECTED = ", ".join(f"'{kind}'" for kind in sorted(PROTECTED))
_ASSETS = ", ".join(f"'{kind}'" for kind in sorted(DEBIT_NORMAL))

# Everything the checks compare, in one round trip: totals, rows that break a rule (NULL when none do),
# the ledger's fingerprint, and how much of everything there is (for the operations' needs).
_STATE = f"""
WITH balances AS (SELECT kind, sum(balance_cents) AS cents FROM ledger_accounts GROUP BY kind),
escrows AS (  -- one row per escrow lane: its reservation is its own leases' and pending answers'
  SELECT p.id, e.lane, p.status, {_FEE} AS fee, p.reward_cents + {_FEE} AS cost,
         coalesce(e.balance_cents, 0) AS balance, coalesce(e.held_cents, 0) AS held,
         count(a.id) FILTER (WHERE a.status = 'leased') AS leased,
         count(a.id) FILTER (WHERE {_PENDING}) AS pending
  FROM projects p
  LEFT JOIN ledger_accounts e ON e.kind = 'project_escrow' AND e.owner_id = p.id AND e.currency = p.currency
  LEFT JOIN assignments a ON a.project_id = p.id AND a.escrow_lane = coalesce(e.lane, 0)
  GROUP BY p.id, e.id
),
work AS (
  SELECT a.annotator_id,
         coalesce(sum(p.reward_cents) FILTER (WHERE {_PENDING}), 0) AS pending_work,
         coalesce(sum(p.reward_cents) FILTER (WHERE a.approved_at IS NOT NULL), 0) AS earned
  FROM assignments a JOIN projects p ON p.id = a.project_id GROUP BY a.annotator_id
),
annotators AS (
  SELECT acc.id, coalesce(pe.balance_cents, 0) AS pending, coalesce(av.balance_cents, 0) AS available,
         coalesce(w.pending_work, 0) AS pending_work, coalesce(w.earned, 0) AS earned,
         coalesce((SELECT sum(amount_cents) FROM bonuses b WHERE b.annotator_id = acc.id), 0) AS bonuses,
         coalesce((SELECT sum(amount_cents) FROM payouts po WHERE po.annotator_id = acc.id
                   AND po.status IN ('pending', 'paid')), 0) AS paid_out
  FROM accounts acc
  LEFT JOIN ledger_accounts pe ON pe.kind = 'annotator_pending' AND pe.owner_id = acc.id
  LEFT JOIN ledger_accounts av ON av.kind = 'annotator_available' AND av.owner_id = acc.id
  LEFT JOIN work w ON w.annotator_id = acc.id
  WHERE acc.role = 'annotator'
)
SELECT
  (SELECT string_agg(id || ' ' || kind || ' ' || balance_cents || '/' || held_cents, ', ') FROM ledger_accounts
   WHERE held_cents < 0 OR (kind IN ({_PROTECTED}) AND (balance_cents < 0 OR balance_cents < held_cents)))
    AS bad_accounts,
  (SELECT json_agg(escrows) FROM escrows WHERE held <> leased * cost + pending * fee
                                            OR (status = 'closed' AND balance <> held)) AS bad_escrows,
  (SELECT json_agg(annotators) FROM annotators WHERE pending <> pending_work
                                                  OR available <> earned + bonuses - paid_out) AS bad_annotators,
  coalesce((SELECT cents FROM balances WHERE kind = 'stripe_cash'), 0) AS cash,
  coalesce((SELECT sum(cents) FROM balances WHERE kind IN ({_ASSETS})), 0) AS assets,
  coalesce((SELECT sum(cents) FROM balances WHERE kind NOT IN ({_ASSETS})), 0) AS owed,
  coalesce((SELECT cents FROM balances WHERE kind = 'platform_fees'), 0) AS fees,
  coalesce((SELECT cents FROM balances WHERE kind = 'refunds'), 0) AS refunds,
  coalesce((SELECT sum(amount_cents) FROM fundings WHERE status = 'succeeded'), 0) AS funded,
  coalesce((SELECT sum(amount_cents) FROM refunds WHERE status = 'succeeded'), 0) AS refunded,
  coalesce((SELECT sum(amount_cents) FROM refunds WHERE status = 'pending'), 0) AS refunds_in_flight,
  coalesce((SELECT sum(amount_cents) FROM payouts WHERE status IN ('pending', 'paid')), 0) AS paid_out,
  coalesce((SELECT sum({_FEE}) FROM assignments a JOIN projects p ON p.id = a.project_id
            WHERE a.approved_at IS NOT NULL), 0)
    + coalesce((SELECT sum(fee_cents) FROM bonuses), 0) AS fees_earned,
  (SELECT count(*) FROM assignments a WHERE a.submitted_at IS NOT NULL AND NOT EXISTS (
     SELECT 1 FROM ledger_transactions t WHERE t.idempotency_key = 'answer-' || a.id)) AS unpaid_answers,
  (SELECT count(*) FROM ledger_transactions t WHERE t.kind = 'answer') AS answer_payments,
  (SELECT count(*) FROM assignments a WHERE a.submitted_at IS NOT NULL) AS answered,
  {_FINGERPRINT_COLUMNS},
  (SELECT count(*) FROM projects WHERE status = 'draft') AS drafts,
  (SELECT count(*) FROM projects WHERE status = 'open') AS open_projects,
  (SELECT count(*) FROM projects WHERE status = 'completed') AS completed_projects,
  (SELECT count(*) FROM assignments WHERE status = 'leased') AS leased,
  (SELECT count(*) FROM assignments a WHERE {_PENDING}) AS pending,
  (SELECT count(*) FROM assignments WHERE approved_at IS NOT NULL OR rejected_at IS NOT NULL) AS decided,
  (SELECT count(*) FROM assignments WHERE status = 'rejected') AS rejected,
  (SELECT count(*) FROM disputes) AS disputes,
  (SELECT count(*) FROM payouts) AS payouts,
  (SELECT count(*) FROM payouts WHERE status = 'pending') AS pending_payouts,
  (SELECT count(*) FROM refunds WHERE status = 'pending') AS pending_refunds,
  (SELECT count(*) FROM ledger_accounts WHERE kind = 'annotator_available' AND balance_cents > 0) AS payable
"""


@pytest.fixture
def ledger_only(app):
    """The ledger-only gateway (no Stripe keys): fundings are credited at once, payouts recorded as not sent."""
    previous = app.extensions.get("payment_gateway")
    app.extensions["payment_gateway"] = gateways.LedgerOnlyGateway()
    yield
    app.extensions["payment_gateway"] = previous


def test_random_money_operations_keep_the_books(ctx, ledger_only):
    OUTCOMES.clear()
    run_state_machine_as_test(MoneyMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        # A step is a database round trip or twenty: slow and large by hypothesis' standards, and meant to be.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        phases=[phase for phase in Phase if phase != Phase.explain],
    ))
    # The run did real work: every kind of operation succeeded somewhere (a harness that only ever hit
    # errors or empty states would check nothing).
    for label in ("fund", "publish", "lease", "answer", "release", "expire_leases", "approve", "reject", "approve_due",
                  "bonus", "run_payouts", "send_payout", "open_dispute", "refund", "send_refund", "close",
                  "new_guidelines", "replay_posting", "replay_approve", "replay_bonus", "replay_answer_payment"):
        assert OUTCOMES[f"{label}: ok"] > 0, (label, sorted(OUTCOMES.items()))
    assert OUTCOMES["resolve_upheld: ok"] + OUTCOMES["resolve_overturned: ok"] > 0, sorted(OUTCOMES.items())
    assert OUTCOMES["steps"] >= EXAMPLES * STEPS // 2, OUTCOMES["steps"]
