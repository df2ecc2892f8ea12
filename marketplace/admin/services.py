"""Admin actions, each written to the append-only audit log in the same transaction."""
from datetime import datetime

from sqlalchemy import select

from marketplace.accounts.models import ACTIVE, ADMIN, SUSPENDED, Account
from marketplace.admin.models import AdminAction
from marketplace.errors import Conflict, NotFound, field_error
from marketplace.extensions import db

MIN_REASON = 5


def audit(*, admin_id: int, action: str, target: tuple[str, int], reason: str, now: datetime,
          details: dict | None = None) -> AdminAction:
    """Record who did what to which object, when and why."""
    if len((reason or "").strip()) < MIN_REASON:
        raise field_error(f"say why (at least {MIN_REASON} characters)", "reason")
    row = AdminAction(admin_id=admin_id, action=action, target_type=target[0], target_id=target[1],
                      reason=reason.strip(), details=details, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def set_status(*, admin: Account, account_id: int, suspend: bool, reason: str, now: datetime) -> Account:
    """Suspend or reinstate an account (a suspended account's keys and tokens stop working)."""
    account = db.session.scalar(select(Account).where(Account.id == account_id).with_for_update())
    if account is None:
        raise NotFound("No such account.")
    if account.role == ADMIN and account.id == admin.id:
        raise Conflict("An admin cannot suspend themselves.")
    target = SUSPENDED if suspend else ACTIVE
    if account.status == target:
        raise Conflict(f"This account is already {target}.")
    account.status = target
    audit(admin_id=admin.id, action="suspend" if suspend else "reinstate", target=("account", account.id),
          reason=reason, now=now)
    return account


def log(*, target_type: str | None, target_id: int | None, cursor: int | None, limit: int) -> list[AdminAction]:
    """The audit log, newest first, optionally for one object."""
    query = select(AdminAction).order_by(AdminAction.id.desc()).limit(limit + 1)
    if target_type:
        query = query.where(AdminAction.target_type == target_type)
    if target_id:
        query = query.where(AdminAction.target_id == target_id)
    if cursor:
        query = query.where(AdminAction.id < cursor)
    return list(db.session.scalars(query))
