"""JSON log lines for the API and the RQ workers: one object per line on stderr.

Why: with no handler configured Python drops INFO lines and prints tracebacks only through
logging's last-resort handler, plain text that `gunicorn --daemon` sends to /dev/null. Every process
(gunicorn master and workers, `rq worker`, `rq cron`) writes the same shape instead, so a line can be
parsed (jq, Loki, CloudWatch) whoever wrote it:
`{"time", "level", "logger", "message", "process"}`, plus `traceback` for an exception, `request_id`
for anything logged during a request, and any `extra={...}` fields.

Who configures what:
- gunicorn.conf.py (`logconfig_dict`) and workers/settings.py (RQ's `DICT_CONFIG`) install
  `dict_config()` before the app exists, so the servers' own lines are JSON too.
- `init_app(app)` (from create_app) calls `configure()` when the config names a LOG_LEVEL (the
  environment config does) and is not TESTING: a process started any other way (`flask run`, a
  worker without `-c workers.settings`) still gets one JSON handler. It is a no-op where one exists.
  Tests and the demo leave LOG_LEVEL unset, so pytest's caplog and the demo's output are untouched.
- `init_app(app)` also gives each request an id (`X-Request-Id` in and out) and logs one access
  line per request on the `marketplace.access` logger.

Stdlib only: a JSON formatter is a screenful of code, not worth a dependency (python-json-logger).
"""
import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is echoed into our logs and headers: only a short token, never free text.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Attributes every LogRecord has; anything else on a record came from `extra=` and becomes a field.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# Loggers that say nothing useful at INFO: alembic's names each plugin every time an app is built.
QUIET_LOGGERS = {"alembic.runtime.plugins": "WARNING"}

access_log = logging.getLogger("marketplace.access")
# A WSGI environ key: per request, unlike g (tests reuse one app context across requests).
_STARTED = "marketplace.request_started"


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line (newlines in messages are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry.setdefault(key, value)  # an extra never hides a standard field
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: a U+2028 left raw would split the line for some readers; default=str: never fail a line.
        return json.dumps(entry, default=str)


class StderrHandler(logging.StreamHandler):
    """Write to whatever `sys.stderr` is at the moment of each line.

    pytest swaps sys.stderr per test and closes the old one; a handler holding the stream it was
    built with would then fail on every line. (gunicorn's capture_output redirects the file
    descriptor, which either way follows.) The same idea as logging's own last-resort handler.
    """

    def __init__(self, level: int = logging.NOTSET):
        logging.Handler.__init__(self, level)

    @property
    def stream(self):
        return sys.stderr


def _level(level: str | int) -> str | int:
    return level.upper() if isinstance(level, str) else level


def _is_json(handler: logging.Handler) -> bool:
    return isinstance(handler.formatter, JsonFormatter)


def configure(level: str | int = "INFO") -> None:
    """Send every log line to stderr as JSON: one handler on the root logger, however often called."""
    root = logging.getLogger()
    root.setLevel(_level(level))
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet)
    if not any(_is_json(handler) for handler in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)


def dict_config(level: str | int = "INFO", loggers: dict | None = None) -> dict:
    """Return configure()'s setup as a logging.config dict (gunicorn's logconfig_dict, RQ's DICT_CONFIG)."""
    return {
        "version": 1,
        # dictConfig's default (True) would silence every logger created before it runs: rq's, ours.
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"()": StderrHandler, "formatter": "json"}},
        "root": {"level": _level(level), "handlers": ["stderr"]},
        "loggers": {**{name: {"level": quiet} for name, quiet in QUIET_LOGGERS.items()}, **(loggers or {})},
    }


def request_id_from(header: str | None) -> str:
    """Return the caller's request id if it is a sane token, else a new one."""
    if header and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def _start_request() -> None:
    req, ctx = request._get_current_object(), g._get_current_object()  # one context lookup each
    ctx.request_id = request_id_from(req.headers.get(REQUEST_ID_HEADER))
    req.environ[_STARTED] = time.perf_counter()
    # g outlives a request when an app context was pushed around it (tests, scripts using the test
    # client): the account a previous request authenticated must not be logged as this one's.
    ctx.pop("account", None)


def elapsed_s() -> float | None:
    """Seconds since this request started (the one request clock: the access line and metrics read it)."""
    started = request.environ.get(_STARTED)
    return None if started is None else time.perf_counter() - started  # None: a hook before ours failed


def _account_id() -> int | None:
    # accounts.auth's guard sets g.account once the credential is checked; public routes have none.
    return getattr(g.get("account"), "id", None)


def _finish_request(response):
    request_id = g.get("request_id")
    if request_id is None:  # a before_request hook registered earlier failed before ours ran
        request_id = g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    response.headers[REQUEST_ID_HEADER] = request_id
    if not access_log.isEnabledFor(logging.INFO):  # LOG_LEVEL above INFO: nothing to build per request
        return response
    route = request.url_rule.rule if request.url_rule else None  # the rule, not the path: no ids, no query
    elapsed = elapsed_s()  # to the end of the view: a streamed body (large exports) is still being sent
    duration_ms = None if elapsed is None else round(elapsed * 1000, 2)
    access_log.info(
        "%s %s %d", request.method, route or "<no route>", response.status_code,
        extra={"request_id": request_id, "account_id": _account_id(), "route": route,  # duration: to the view's end

               "method": request.method, "status": response.status_code, "duration_ms": duration_ms},
    )
    return response


def init_app(app: Flask) -> None:
    """Give every request an id and one access line; configure JSON logging unless testing."""
    level = app.config.get("LOG_LEVEL")
    if level and not app.testing:
        configure(level)
        app.logger.removeHandler(default_handler)  # else app lines would print twice, once as plain text
    app.before_request(_start_request)
    app.after_request(_finish_request)
