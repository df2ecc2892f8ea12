"""gunicorn settings: every line gunicorn and the app write is one JSON object (marketplace/logs.py).

gunicorn reads this file by itself when started from the repository root (`gunicorn wsgi:app`), or
with `-c gunicorn.conf.py`. Command-line options still win over it (workers, bind, --log-level for
gunicorn's own lines; LOG_LEVEL sets the app's).

- The root logger gets the JSON handler on stderr; gunicorn's error log drops its own text handler
  and propagates there, so "Booting worker", worker timeouts and "Error handling request"
  tracebacks come out as JSON too.
- gunicorn's access log is off: the app logs each request itself, with the request id, account,
  route and duration (marketplace.access). An --access-logfile given anyway is ignored, and
  gunicorn builds no access-log fields per request (`logger_class`).
- Requests gunicorn itself refuses before the app sees them (a NUL or a bad character in a header,
  a request line too long) get the API's one JSON error shape instead of gunicorn's HTML page.
- child_exit: a dead worker's live Prometheus values leave PROMETHEUS_MULTIPROC_DIR (metrics.py).
- capture_output: with `--error-logfile FILE` (as `--daemon` needs: a daemon's stderr is /dev/null),
  stderr and stdout are redirected into FILE, so the JSON handler and any stray print or
  C-level traceback land there. `kill -USR1` reopens FILE after rotation.
"""
import json

from gunicorn import glogging, util

from marketplace import logs
from marketplace.config import config_from_env
from marketplace.errors import body as error_body

accesslog = None
capture_output = True
logconfig_dict = logs.dict_config(
    config_from_env().LOG_LEVEL,
    loggers={
        # Naming a logger makes dictConfig drop the text handler gunicorn gave it (and one an
        # --access-logfile would add). No "level": gunicorn's --log-level keeps setting it.
        "gunicorn.error": {"handlers": [], "propagate": True},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
)


def _json_error(sock, status_int, reason, mesg):
    """gunicorn's own refusals in the API's one error shape ({code, status, message, errors})."""
    payload = json.dumps(error_body(status_int, mesg)).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + payload)


class _NoAccessLog(glogging.Logger):
    """gunicorn's logger with its access log off for good.

    A logconfig_dict (above) makes gunicorn count its access log as on: every request then built its
    log fields (headers, times, a dict of atoms) and a record for a logger without a handler, about 1%
    of a worker's time on the lease and answer endpoints (py-spy under benchmarks/lease_throughput.py).
    """

    @property
    def access_log_enabled(self):
        return False


logger_class = _NoAccessLog

util.write_error = _json_error  # the one place gunicorn's workers write an error page (workers/base.py)


def child_exit(server, worker):
    """A worker died: drop its live values from the Prometheus multiprocess directory (marketplace/metrics.py).

    Counters and histograms of dead workers stay and keep being summed (their totals are real);
    only live gauges must go. Without PROMETHEUS_MULTIPROC_DIR there is nothing to clean.
    """
    directory = config_from_env().PROMETHEUS_MULTIPROC_DIR
    if directory:
        from prometheus_client import multiprocess  # here: only the multiprocess mode needs it

        multiprocess.mark_process_dead(worker.pid, directory)
