"""Project lifecycle: draft -> open <-> paused -> closed; open -> completed when every task closes."""
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from marketplace import labels
from marketplace.accounts.models import ADMIN, ANNOTATOR, Account
from marketplace.assignments import store as assignment_store
from marketplace.db import utcnow
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.extensions import db
from marketplace.payments import escrow, idempotency
from marketplace.projects import arms
from marketplace.projects.models import CLOSED, COMPLETED, DRAFT, OPEN, PAUSED, Project, initial_slots
from marketplace.qualifications.models import Qualification
from marketplace.tasks import store as tasks_store
from marketplace.tasks.models import GOLD, Task
from marketplace.teams import workforce

# status -> (action, statuses it may start from, status it ends in)
TRANSITIONS = {
    "publish": ((DRAFT,), OPEN),
    "pause": ((OPEN,), PAUSED),
    "resume": ((PAUSED,), OPEN),
    "close": ((DRAFT, OPEN, PAUSED, COMPLETED), CLOSED),  # closing releases what is left in escrow
}


def _checked_schema(label_schema: dict) -> dict:
    try:
        return labels.validate_schema(label_schema)
    except labels.LabelError as exc:
        raise field_error(exc.message, "label_schema", *exc.path)


def _checked_requirements(requirements: dict, requester: Account, field: tuple | None = None) -> dict:
    for i, need in enumerate(requirements.get("qualifications", [])):
        qualification = db.session.get(Qualification, need["id"])
        if qualification is None or (qualification.owner_id != requester.id and requester.role != ADMIN):
            raise field_error("no such qualification of yours",
                              *(field or ("requirements", "qualifications", str(i), "id")))
    return requirements


def _check_review(project: Project, requester: Account) -> None:
    """A review stage needs a way to tell reviewers: a qualification of the requester's, or a trust level."""
    if project.review_qualification_id is not None:  # one of the requester's, enabled yet or not
        _checked_requirements({"qualifications": [{"id": project.review_qualification_id}]}, requester,
                              field=("review_qualification_id",))
    if not project.review_enabled:
        return
    if project.review_qualification_id is None and project.review_min_trust is None and not (
            project.workforce or {}).get("teams"):
        raise field_error("set review_qualification_id or review_min_trust (or target a team with reviewers) "
                          "to enable review", "review_enabled")


def _check_redundancy(project: Project) -> None:
    """An adaptive project needs 1 <= min_answers <= max_answers; a fixed one ignores them.

    Adaptive redundancy and the model as an annotator reason over class posteriors: they need a
    classification schema (other types aggregate a fixed number of answers each).
    """
    if not labels.is_categorical(project.label_schema):
        for name in ("target_confidence", "model_as_annotator", "show_prelabels"):
            if getattr(project, name):
                raise field_error(f"needs a classification label schema; this one is {project.label_schema['type']}",
                                  name)
    if project.target_confidence is None:
        return
    if project.min_answers is None or project.max_answers is None:
        missing = "min_answers" if project.min_answers is None else "max_answers"
        raise field_error("required when target_confidence is set", missing)
    if project.min_answers > project.max_answers:
        raise field_error("must not exceed max_answers", "min_answers")


def create(*, requester: Account, fields: dict) -> Project:
    """Create a draft project owned by the requester."""
    project = Project(requester_id=requester.id, status=DRAFT, task_count=0, gold_count=0,
                      fee_bps=current_app.config["PLATFORM_FEE_BPS"], **fields)
    project.label_schema = _checked_schema(fields["label_schema"])
    project.requirements = _checked_requirements(fields.get("requirements") or {}, requester)
    project.workforce = workforce.checked(requester=requester, body=fields["workforce"]) if fields.get("workforce") else {}
    _check_redundancy(project)
    _check_review(project, requester)
    db.session.add(project)
    db.session.flush()
    return project


def visible_to(*, account: Account, project_id: int, lock: bool = False) -> Project:
    """Return a project the account may see; anyone else's is a 404, never a 403."""
    query = select(Project).where(Project.id == project_id)
    if lock:
        query = query.with_for_update(key_share=True)  # NO KEY UPDATE: leases may still reference it
    project = db.session.scalar(query)
    if project is None:
        raise NotFound("No such project.")
    if account.role == ADMIN:
        return project
    if account.role == ANNOTATOR and project.status == OPEN:
        if not workforce.may_see(project=project, annotator_id=account.id, now=utcnow()):
            raise NotFound("No such project.")  # a team's project, and not one of its members
        return project
    if project.requester_id != account.id:
        raise NotFound("No such project.")
    return project


def owned(*, account: Account, project_id: int, lock: bool = False) -> Project:
    """Return a project the account owns (or any project, for an admin)."""
    project = visible_to(account=account, project_id=project_id, lock=lock)
    if account.role == ANNOTATOR:
        raise NotFound("No such project.")
    return project


def listing(*, account: Account, status: str | None, cursor: int | None, limit: int) -> list[Project]:
    """List projects: a requester's own, all for admins (annotators: quality.eligibility.open_projects)."""
    query = select(Project).order_by(Project.id).limit(limit + 1).where(Project.id > (cursor or 0))
    if account.role != ADMIN:
        query = query.where(Project.requester_id == account.id)
    if status:
        query = query.where(Project.status == status)
    return list(db.session.scalars(query))


def update(*, account: Account, project_id: int, fields: dict) -> Project:
    """Change a draft project's fields."""
    project = owned(account=account, project_id=project_id, lock=True)
    if project.status != DRAFT:
        raise Conflict(f"Only a draft project can be edited; this one is {project.status}.", code="project_not_draft")
    if "label_schema" in fields:
        if project.task_count or project.gold_count:
            # Gold answers, predictions and later answers are all checked against the schema they came with.
            raise Conflict("The label schema cannot change once the project has tasks.", code="label_schema_locked")
        fields = {**fields, "label_schema": _checked_schema(fields["label_schema"])}
    if fields.get("show_prelabels") and db.session.scalar(
        select(Task.id).where(Task.project_id == project.id, Task.status == GOLD, Task.prediction.is_(None)).limit(1)
    ) is not None:
        raise Conflict("Give every gold task a prediction before showing pre-labels (else gold would stand out).", code="gold_without_prediction")
    if "requirements" in fields:
        fields = {**fields, "requirements": _checked_requirements(fields["requirements"], account)}
    if "workforce" in fields:
        fields = {**fields, "workforce": workforce.checked(requester=account, body=fields["workforce"] or {})}
    for name, value in fields.items():
        setattr(project, name, value)
    _check_redundancy(project)
    _check_review(project, account)
    db.session.flush()
    return project


def transition(*, account: Account, project_id: int, action: str, now: datetime) -> Project:
    """Publish, pause, resume or close a project."""
    sources, target = TRANSITIONS[action]
    project = owned(account=account, project_id=project_id, lock=True)
    if project.status not in sources:
        raise Conflict(f"Cannot {action} a project that is {project.status}.", code="invalid_project_transition")
    if action == "publish":
        if project.task_count == 0:
            raise Conflict("Add at least one task before publishing.", code="project_has_no_tasks")
        project.published_at = now
        # Tasks imported before the redundancy settings last changed start from the current ones.
        tasks_store.reset_slot_limits(project_id=project.id, slot_limit=initial_slots(project))
        arms.stamp_tasks(project)  # then an experiment's redundancy arms set their own
        escrow.top_up(project=project, amount_cents=None, now=now)  # the worst-case cost, or 402
    project.status = target
    db.session.flush()
    if action == "close":
        escrow.lock_lanes(project_id=project.id, currency=project.currency)  # holds back, then the rest: one lock order
        _end_live_leases(project, now)
        escrow.release(project=project, now=now)
    return project


def _end_live_leases(project: Project, now: datetime) -> None:
    """A closed project takes no answers: its live leases end and give back their reservations."""
    escrow.release_lease_holds(project_id=project.id, leases=assignment_store.end_live_leases(project_id=project.id, now=now))


def escrow_state(*, account: Account, project_id: int) -> dict:
    """A project's escrow as its owner sees it: balance, reserved, free, what one answer costs."""
    return {"moved_cents": 0, **escrow.state(owned(account=account, project_id=project_id))}


def top_up(*, account: Account, project_id: int, amount_cents: int | None, now: datetime,
           key: str | None = None) -> dict:
    """Move money into a project's escrow (None: up to the worst-case cost of its remaining answers).

    With an Idempotency-Key a replay moves nothing and reports what the first request moved.
    """
    project = owned(account=account, project_id=project_id, lock=True)
    if project.status in (CLOSED, COMPLETED):
        raise Conflict(f"A {project.status} project takes no more money.", code="project_not_fundable")
    ledger_key = f"topup-{project.id}-{key}" if key else None
    asked = idempotency.request_hash({"amount_cents": amount_cents})
    first = escrow.moved_by(ledger_key) if ledger_key else None
    if first is not None:
        idempotency.ensure_same(first[1].get("request_hash"), asked)
        return {"moved_cents": first[0], **escrow.state(project)}
    moved = escrow.top_up(project=project, amount_cents=amount_cents, now=now, key=ledger_key,
                          details={"request_hash": asked} if key else None)
    return {"moved_cents": moved, **escrow.state(project)}


def accepts_tasks(project: Project) -> None:
    """Raise unless tasks may still be added to the project."""
    if project.status in (CLOSED, COMPLETED):
        raise Conflict(f"Tasks cannot be added to a project that is {project.status}.", code="project_closed_to_tasks")


def ensure_open_for_work(project) -> None:
    """Raise unless a project (or its lease context) is open for leasing; a draft is invisible."""
    if project is None or project.status == DRAFT:
        raise NotFound("No such project.")
    if project.status != OPEN:
        raise Conflict(f"This project is {project.status}; it is not handing out tasks.", code="project_not_open")
