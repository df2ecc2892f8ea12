"""factory-boy factories for every feature; rows are flushed into the test's transaction."""
import functools
from datetime import timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from marketplace.accounts import secrets
from marketplace.accounts.models import ANNOTATOR, REQUESTER, AccessToken, Account
from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.projects.models import DRAFT, OPEN, Project, ProjectProgress
from marketplace.tasks.models import Task

PASSWORD = "correct horse battery"


@functools.cache
def _password_hash() -> str:
    return secrets.hash_password(PASSWORD)


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class AccountFactory(Base):
    class Meta:
        model = Account

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    password_hash = factory.LazyFunction(_password_hash)
    role = REQUESTER
    status = "active"
    display_name = ""


class RequesterFactory(AccountFactory):
    role = REQUESTER


class AnnotatorFactory(AccountFactory):
    role = ANNOTATOR


class AdminFactory(AccountFactory):
    role = "admin"


class ProjectFactory(Base):
    class Meta:
        model = Project

    requester_id = factory.LazyFunction(lambda: RequesterFactory().id)
    name = factory.Sequence(lambda n: f"project {n}")
    description = ""
    instructions = "Pick the animal."
    label_schema = factory.LazyFunction(lambda: {"type": "classification", "classes": ["cat", "dog", "bird"]})
    reward_cents = 5
    currency = "usd"
    answers_per_task = 3
    aggregation = "mv"
    assignment_duration_s = 600
    max_leases_per_annotator = 1
    status = DRAFT
    task_count = 0

    @factory.post_generation
    def closed_task_count(project, create, done, **kwargs):
        """`closed_task_count=n`: n tasks done (the progress row the closing answers count in)."""
        if done:
            db.session.add(ProjectProgress(project_id=project.id, done_tasks=done))
            db.session.flush()
            db.session.expire(project, ["closed_task_count"])


class TaskFactory(Base):
    class Meta:
        model = Task

    project_id = factory.LazyFunction(lambda: ProjectFactory().id)
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    data = factory.LazyFunction(lambda: {"text": "hello"})
    status = "open"
    slots_taken = 0
    slot_limit = 3
    answer_count = 0


def fund_requester(requester_id: int, cents: int, currency: str = "usd") -> None:
    """Credit a requester's available balance as a succeeded funding would (cash -> available)."""
    from marketplace.ledger import services as ledger
    from marketplace.ledger.models import REQUESTER_AVAILABLE, STRIPE_CASH

    ledger.post(key=f"test-funding-{requester_id}-{ledger_sequence()}", kind="funding", reference=("funding", 0),
                moves=[ledger.Move(ledger.account(STRIPE_CASH, None, currency),
                                   ledger.account(REQUESTER_AVAILABLE, requester_id, currency), cents)], now=utcnow())


_sequence = [0]


def ledger_sequence() -> int:
    _sequence[0] += 1
    return _sequence[0]


def fund_escrow(project: Project, cents: int | None = None) -> None:
    """Fund a project's escrow: its requester is credited what it needs, then it moves to escrow."""
    from marketplace.payments import escrow

    needed = cents if cents is not None else escrow.worst_case_answers(project) * escrow.answer_cost(project)
    if needed:
        fund_requester(project.requester_id, needed, project.currency)
        escrow.top_up(project=project, amount_cents=needed, now=utcnow())


# What open_project puts in escrow beyond its tasks' worst case, for tests that add tasks or slots later.
SPARE_ESCROW_CENTS = 10_000


def open_project(tasks: int = 5, funded: bool = True, **fields) -> Project:
    """An open project with `tasks` tasks; its escrow covers their worst case plus a spare (unless funded=False)."""
    from marketplace.payments import escrow

    project = ProjectFactory(status=OPEN, task_count=tasks, published_at=utcnow(), **fields)
    for i in range(tasks):
        TaskFactory(project_id=project.id, external_id=f"t{i}", slot_limit=project.answers_per_task)
    if funded:
        fund_escrow(project, escrow.worst_case_answers(project) * escrow.answer_cost(project) + SPARE_ESCROW_CENTS)
    return project


def bearer(account: Account) -> dict:
    """Authorization headers with a fresh login token for the account."""
    full, prefix, secret_hash = secrets.new_secret(secrets.TOKEN)
    db.session.add(AccessToken(account_id=account.id, prefix=prefix, secret_hash=secret_hash,
                               expires_at=utcnow() + timedelta(hours=1)))
    db.session.flush()
    return {"Authorization": f"Bearer {full}"}


def fresh(model, key):
    """Read a row as the database has it now (services write with Core statements the session does not see)."""
    return db.session.get(model, key, populate_existing=True)


def account_totals(kind: str, owner_id: int) -> tuple[int, int]:
    """(balance, held) of an owner's ledger account of a kind as the database has it now, summed over a
    project escrow's lanes; (0, 0) when there is none."""
    from sqlalchemy import func, select

    from marketplace.ledger.models import LedgerAccount

    balance, held = db.session.execute(select(func.sum(LedgerAccount.balance_cents), func.sum(LedgerAccount.held_cents))
                                       .where(LedgerAccount.kind == kind, LedgerAccount.owner_id == owner_id)).one()
    return int(balance or 0), int(held or 0)
