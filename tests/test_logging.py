"""JSON log lines: the formatter, the request id and access line, tracebacks, gunicorn and rq wiring."""
import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace import create_app, logs, queue
from marketplace.config import Config, config_from_env
from tests.conftest import REDIS_URL, TestConfig
from tests.factories import RequesterFactory, bearer

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_lines(caplog):
    """Everything logged at INFO and up while the test runs, as the JSON formatter writes it, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.INFO, logger="marketplace.access")
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


@pytest.fixture
def restored_root():
    """Put the root logger's handlers and level back after a test that configures logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in quiet.items():
        logging.getLogger(name).setLevel(was)


def _access(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "marketplace.access"]


def _json_handlers(root: logging.Logger) -> list[logging.Handler]:
    return [handler for handler in root.handlers if isinstance(handler.formatter, logs.JsonFormatter)]


def test_formatter_writes_one_json_object_per_line_with_the_traceback():
    record = None
    try:
        1 / 0
    except ZeroDivisionError:
        record = logging.getLogger("workers").makeRecord(
            "workers", logging.ERROR, __file__, 1, "job %s failed\nsecond line", ("x",), sys.exc_info())

    line = logs.JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "workers"
    assert entry["message"] == "job x failed\nsecond line"
    assert entry["time"].endswith("+00:00")
    assert entry["traceback"].startswith("Traceback (most recent call last)")
    assert "ZeroDivisionError: division by zero" in entry["traceback"]


def test_extra_fields_become_fields_but_never_hide_the_standard_ones():
    from datetime import date

    record = logging.makeLogRecord({"name": "x", "levelno": logging.INFO, "levelname": "INFO", "msg": "hi",
                                    "job_id": "j1", "level": "forged", "day": date(2024, 1, 2)})

    entry = json.loads(logs.JsonFormatter().format(record))

    assert entry["job_id"] == "j1" and entry["day"] == "2024-01-02"
    assert entry["level"] == "INFO"
    assert "traceback" not in entry


def test_configure_installs_one_json_handler_and_caplog_still_sees_records(restored_root, caplog):
    logs.configure("info")
    logs.configure("warning")

    assert len(_json_handlers(restored_root)) == 1
    assert restored_root.level == logging.WARNING
    logging.getLogger("marketplace.test").warning("still captured")
    assert "still captured" in caplog.messages


def test_a_testing_app_leaves_logging_alone_and_a_deployed_one_configures_it(restored_root):
    from flask.logging import default_handler

    create_app(type("Quiet", (TestConfig,), {"LOG_LEVEL": "INFO"}))
    assert not _json_handlers(restored_root)

    app = create_app(type("Deployed", (Config,), {"LOG_LEVEL": "WARNING"}))
    assert len(_json_handlers(restored_root)) == 1 and restored_root.level == logging.WARNING
    assert default_handler not in app.logger.handlers


def test_log_level_comes_from_the_environment_and_defaults_to_info(monkeypatch):
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    assert config_from_env().LOG_LEVEL == "INFO"
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert config_from_env().LOG_LEVEL == "debug"
    assert Config.LOG_LEVEL is None  # tests and the demo: logging left as the process set it up


def test_a_request_logs_one_access_line_with_its_id_account_route_status_and_duration(client, json_lines):
    account = RequesterFactory()

    response = client.get("/api/v1/me", headers=bearer(account))

    assert response.status_code == 200
    request_id = response.headers["X-Request-Id"]
    assert GENERATED_ID.fullmatch(request_id)
    [line] = _access(json_lines())
    assert line["level"] == "INFO"
    assert line["request_id"] == request_id
    assert line["account_id"] == account.id
    assert line["route"] == "/api/v1/me" and line["method"] == "GET" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_the_access_line_names_the_url_rule_not_the_path_and_no_stale_account(client, json_lines):
    account = RequesterFactory()
    client.get("/api/v1/me", headers=bearer(account))

    client.get("/api/v1/tasks/12345")  # 401: the guard refuses before any account is known
    client.get("/api/v1/nowhere/12345")

    _, refused, unmatched = _access(json_lines())
    assert refused["route"] == "/api/v1/tasks/<int:task_id>" and refused["status"] == 401
    assert refused["account_id"] is None
    assert unmatched["route"] is None and unmatched["status"] == 404
    assert "12345" not in json.dumps([refused, unmatched])


@pytest.mark.parametrize("sent", ["abc-123", "A.b_c-9", "x" * 64])
def test_a_sane_incoming_request_id_is_echoed_and_logged(client, json_lines, sent):
    response = client.get("/api/v1/health", headers={"X-Request-Id": sent})

    assert response.headers["X-Request-Id"] == sent
    assert _access(json_lines())[0]["request_id"] == sent


@pytest.mark.parametrize("sent", ["", "has space", "x" * 65, "semi;colon", "<script>", "caf\u00e9", "a\tb"])
def test_an_insane_incoming_request_id_is_replaced(client, json_lines, sent):
    response = client.get("/api/v1/health", headers={"X-Request-Id": sent})

    replaced = response.headers["X-Request-Id"]
    assert replaced != sent and GENERATED_ID.fullmatch(replaced)
    assert _access(json_lines())[0]["request_id"] == replaced


def test_a_500_logs_its_traceback_with_the_request_id(client, json_lines, monkeypatch):
    def broken():
        raise RuntimeError("queue status exploded")

    monkeypatch.setattr(queue, "status", broken)

    response = client.get("/api/v1/health", headers={"X-Request-Id": "trace-me"})

    assert response.status_code == 500
    assert "exploded" not in response.get_data(as_text=True)
    [error] = [line for line in json_lines() if line["level"] == "ERROR"]
    assert error["logger"] == "marketplace.errors" and error["request_id"] == "trace-me"
    assert "RuntimeError: queue status exploded" in error["traceback"]
    assert "in broken" in error["traceback"]
    [access] = _access(json_lines())
    assert access["status"] == 500 and access["request_id"] == "trace-me"


def _json_only(output: str) -> list[dict]:
    """Parse every line of a process's output; a line that is not one JSON object fails the test."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_gunicorn_config_sends_its_error_log_through_json_and_drops_its_access_log_without_building_it():
    script = """
import logging, runpy
from gunicorn.config import Config
settings = runpy.run_path("gunicorn.conf.py")
Logger = settings["logger_class"]
cfg = Config()
for name in ("logconfig_dict", "accesslog", "capture_output"):
    cfg.set(name, settings[name])
cfg.set("accesslog", "-")  # as if --access-logfile - were given: still off
log = Logger(cfg)
log.info("Booting worker")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("Error handling request")
logging.getLogger("gunicorn.access").info("GET / HTTP/1.1 200")
logging.getLogger("marketplace.access").info("GET /api/v1/health 200")
assert log.access_log_enabled is False
log.atoms = None  # what gunicorn calls to build a request's log fields: calling it now would raise
log.access(None, None, {}, None)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LOG_LEVEL": "INFO"})

    assert done.returncode == 0, done.stderr
    lines = _json_only(done.stdout + done.stderr)
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("gunicorn.error", "Booting worker"),
        ("gunicorn.error", "Error handling request"),
        ("marketplace.access", "GET /api/v1/health 200"),
    ]
    assert "ZeroDivisionError" in lines[1]["traceback"]


def test_rq_worker_with_the_settings_module_logs_json_lines_with_tracebacks(redis_conn):
    from rq import Queue

    jobs = Queue("logging-test", connection=redis_conn)
    failing = jobs.enqueue("workers.no_such_module.job", 7)
    jobs.enqueue("os.getpid")

    done = subprocess.run(
        [str(BIN / "rq"), "worker", "--burst", "-w", "rq.worker.SimpleWorker", "-c", "workers.settings",
         "logging-test"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "REDIS_URL": REDIS_URL},
    )

    assert done.returncode == 0, done.stderr
    lines = _json_only(done.stdout + done.stderr)
    assert any(line["logger"] == "rq.worker" and "Job OK" in line["message"] for line in lines)
    [failure] = [line for line in lines if line["level"] == "ERROR"]
    assert failure["job_id"] == failing.id and "Traceback" in failure["message"]
