"""Admin actions on annotators: global suspension and verified skills; each is recorded."""
from datetime import datetime

from sqlalchemy import delete, select

from marketplace.accounts import store as accounts_store
from marketplace.accounts.models import ACTIVE, ADMIN, ANNOTATOR, SUSPENDED, Account
from marketplace.audit import services as audit
from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db
from marketplace.pagination import keyset
from marketplace.quality.models import QualityAction, Skill


def _account(account_id: int) -> Account:
    account = db.session.scalar(select(Account).where(Account.id == account_id).with_for_update())
    if account is None:
        raise NotFound("No such account.")
    return account


def set_suspended(*, admin: Account, account_id: int, suspended: bool, reason: str, now: datetime) -> Account:
    """Suspend an account everywhere (or reinstate it), recording who, when and why."""
    account = _account(account_id)
    if account.role == ADMIN:
        raise Conflict("Admins cannot be suspended through the API.", code="admin_not_suspendable")
    target = SUSPENDED if suspended else ACTIVE
    if account.status == target:
        raise Conflict(f"This account is already {target}.", code="already_in_state")
    accounts_store.set_status(account, target)
    db.session.add(QualityAction(annotator_id=account.id, action="suspend" if suspended else "reinstate",
                                 reason=reason, actor_id=admin.id, created_at=now))
    audit.audit(admin_id=admin.id, action="suspend" if suspended else "reinstate", target=("account", account.id),
                reason=reason, now=now)
    return account


def verify_skill(*, admin: Account, annotator_id: int, name: str, now: datetime) -> Skill:
    """Record that an admin verified a skill of an annotator."""
    annotator = _account(annotator_id)
    if annotator.role != ANNOTATOR:
        raise NotFound("No such annotator.")
    skill = db.session.scalar(select(Skill).where(Skill.annotator_id == annotator.id, Skill.name == name))
    if skill is None:
        skill = Skill(annotator_id=annotator.id, name=name, verified_by=admin.id, verified_at=now)
        db.session.add(skill)
        db.session.flush()
        audit.audit(admin_id=admin.id, action="verify_skill", target=("account", annotator.id),
                    reason=f"verified skill {name}", now=now)
    return skill


def remove_skill(*, admin: Account, annotator_id: int, name: str, now: datetime) -> None:
    """Withdraw a verified skill."""
    removed = db.session.execute(delete(Skill).where(Skill.annotator_id == annotator_id, Skill.name == name)).rowcount
    if not removed:
        raise NotFound("This annotator has no such verified skill.")
    audit.audit(admin_id=admin.id, action="remove_skill", target=("account", annotator_id),
                reason=f"withdrew skill {name}", now=now)


def skills_of(*, annotator_id: int, cursor: int | None, limit: int) -> list[Skill]:
    """List an annotator's verified skills, oldest first (one page, +1)."""
    return list(db.session.scalars(keyset(select(Skill).where(Skill.annotator_id == annotator_id), Skill.id, cursor,
                                          limit, newest_first=False)))
