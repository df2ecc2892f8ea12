"""What operators watch: when each periodic job last started, finished and failed."""
from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import UTCDateTime
from marketplace.extensions import db


class JobRun(db.Model):
    """One row per periodic job (by its dotted path), written by the job wrapper as the job ends.

    The scheduler's own signal: if no periodic job started lately, `rq cron` is not running; a job
    whose last finish is long past its schedule is overdue (it fails, or nothing runs it).
    """

    __tablename__ = "job_runs"

    path: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
