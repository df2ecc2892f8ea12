"""RQ settings for `rq worker -c workers.settings` and `rq cron -c workers.settings`: JSON log lines.

RQ reads this module (`-c`, or the RQ_CONFIG environment variable) before it builds a worker or the
cron scheduler, and applies DICT_CONFIG first: the root logger gets marketplace.logs' JSON handler,
so RQ finds a handler already there and adds none of its own text ones. RQ's lines ("Job OK",
failures with their traceback), the job wrapper's and the app's then all come out as JSON on stderr.
Configuring logging from workers/__init__.py instead would run too late: RQ imports job modules
only when the first job arrives, after setting up its own handlers, and `rq cron` loads cron.py
after creating its scheduler.

REDIS_URL is the app's: RQ reads it from the environment without `-c`, and from here with it.
The level is the app's LOG_LEVEL (default INFO); `rq worker --logging_level` still sets RQ's worker
loggers, while `rq cron --logging-level` is ignored once a handler exists (RQ's own rule).
"""
from marketplace import logs
from marketplace.config import config_from_env

_config = config_from_env()

REDIS_URL = _config.REDIS_URL
DICT_CONFIG = logs.dict_config(_config.LOG_LEVEL)
