"""Which periodic jobs run on a cron schedule and which on an interval, as `rq cron workers/cron.py` loads them.

rq cron runs an interval job as soon as the scheduler starts: right for sweeps, wrong for the daily
payout run and reconciliation, which used to run again on every restart of the scheduler.
"""
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rq.cron import CronScheduler

from marketplace.assignments.jobs import EXPIRE_LEASES
from marketplace.config import Config, config_from_env
from marketplace.payments.jobs import RECONCILE, RUN_PAYOUTS, SWEEP_MONEY_JOBS, SWEEP_STRIPE_EVENTS
from marketplace.queue import Job

CRON_CONFIG = str(Path(__file__).resolve().parents[2] / "workers" / "cron.py")


@pytest.fixture
def local_zone(monkeypatch):
    """Restore the test process's time zone after a test (loading workers/cron.py sets TZ=UTC)."""
    monkeypatch.setenv("TZ", os.environ.get("TZ", "UTC"))
    yield monkeypatch
    monkeypatch.undo()
    time.tzset()


def _loaded(redis_conn) -> dict:
    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file(CRON_CONFIG)
    return {job.func_name: job for job in scheduler.get_jobs()}


def test_payouts_and_reconciliation_run_on_cron_not_when_the_scheduler_starts(redis_conn, local_zone):
    jobs = _loaded(redis_conn)
    for declared, expression in ((RUN_PAYOUTS, Config.PAYOUTS_CRON), (RECONCILE, Config.RECONCILE_CRON)):
        registered = jobs[declared.path]
        assert (registered.cron, registered.interval, registered.queue_name) == (expression, None, declared.queue)
        assert not registered.should_run()  # a (re)start does not run it; its next due time does
    for sweep in (SWEEP_MONEY_JOBS, SWEEP_STRIPE_EVENTS, EXPIRE_LEASES):
        assert (jobs[sweep.path].interval, jobs[sweep.path].cron) == (sweep.interval_s, None)
        assert jobs[sweep.path].should_run()  # sweeps do run at start: harmless, and they catch up
    assert (Config.PAYOUTS_CRON, Config.RECONCILE_CRON) == ("0 3 * * *", "30 3 * * *")


def test_the_schedules_come_from_the_environment_and_are_read_as_utc(redis_conn, local_zone):
    local_zone.setenv("PAYOUTS_CRON", "15 4 * * 1")
    local_zone.setenv("RECONCILE_CRON", "45 4 * * 1")
    local_zone.setenv("TZ", "EST5")  # a host five hours behind UTC, no daylight saving
    time.tzset()
    jobs = _loaded(redis_conn)
    payouts, reconcile = jobs[RUN_PAYOUTS.path], jobs[RECONCILE.path]
    assert (payouts.cron, reconcile.cron) == ("15 4 * * 1", "45 4 * * 1")
    due = payouts.next_enqueue_time
    assert (due.utcoffset().total_seconds(), due.weekday(), due.hour, due.minute) == (0, 0, 4, 15)
    assert reconcile.next_enqueue_time - due == timedelta(minutes=30)


def test_a_bad_schedule_in_the_environment_is_refused_at_start(monkeypatch):
    monkeypatch.setenv("PAYOUTS_CRON", "every night")
    with pytest.raises(ValueError, match="PAYOUTS_CRON"):
        config_from_env()


def test_a_job_has_one_schedule():
    with pytest.raises(ValueError, match="not both"):
        Job("workers.payments.run_payouts", cron="0 3 * * *", interval_s=86_400)
    with pytest.raises(ValueError, match="not a cron expression"):
        Job("workers.payments.run_payouts", cron="at three")
    with pytest.raises(ValueError, match="cron_setting"):
        Job("workers.payments.run_payouts", cron_setting="PAYOUTS_CRON")
    assert Job("workers.x.y", cron="0 3 * * *").schedule(Config) == {"cron": "0 3 * * *"}
    assert Job("workers.x.y", interval_s=60).schedule(Config) == {"interval": 60}
    assert Job("workers.x.y").schedule(Config) == {}
