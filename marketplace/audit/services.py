"""The audit log: every admin action is written to it in the same transaction as the action."""
from datetime import datetime

from sqlalchemy import select

from marketplace.audit.models import AdminAction
from marketplace.errors import field_error
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
