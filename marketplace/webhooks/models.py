"""Webhook endpoints, the deliveries made to them and every attempt at a delivery."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import BigId, IdMixin, Json, TimestampMixin, UTCDateTime, utcnow
from marketplace.extensions import db

TASK_COMPLETED = "task.completed"
PROJECT_COMPLETED = "project.completed"
TASK_ESCALATED = "task.escalated"
RECOMPUTE_FINISHED = "recompute.finished"
# Import and export jobs (marketplace/transfers), sent in the job's final transaction.
IMPORT_COMPLETED = "import.completed"
IMPORT_FAILED = "import.failed"
EXPORT_COMPLETED = "export.completed"
EXPORT_FAILED = "export.failed"
# The forecast says the project's money (budget cap or escrow) runs out before its last answer
# (marketplace/forecasts): once per episode, again after it cleared.
PROJECT_BUDGET_WARNING = "project.budget_warning"
EVENTS = (TASK_COMPLETED, PROJECT_COMPLETED, TASK_ESCALATED, RECOMPUTE_FINISHED, IMPORT_COMPLETED, IMPORT_FAILED,
          EXPORT_COMPLETED, EXPORT_FAILED, PROJECT_BUDGET_WARNING)
PING = "ping"  # sent only by the test endpoint, to whatever the endpoint subscribes to

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED)


class WebhookEndpoint(IdMixin, TimestampMixin, db.Model):
    """A requester's URL for some events, of one project or of all their projects.

    The signing secret is never stored: it is derived from the server's key and `secret_salt`
    (see signing.py), so a copy of the database alone cannot forge signatures. During a rotation the
    previous secret keeps signing alongside the new one until `previous_secret_expires_at`.
    """

    __tablename__ = "webhook_endpoints"

    owner_id: Mapped[int] = mapped_column(BigId, ForeignKey("accounts.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list] = mapped_column(Json)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_salt: Mapped[str] = mapped_column(String(64))
    secret_prefix: Mapped[str] = mapped_column(String(16))
    previous_secret_salt: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(IdMixin, db.Model):
    """One event for one endpoint; retried until delivered or out of attempts; replay starts a new cycle."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        # The sweep's scan: only pending rows are ever due.
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    endpoint_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    project_id: Mapped[int | None] = mapped_column(BigId)
    event: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookAttempt(IdMixin, db.Model):
    """One try at sending a delivery: when, how long, what came back."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    cycle: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
