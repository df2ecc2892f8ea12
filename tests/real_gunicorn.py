"""A real gunicorn with the repository's gunicorn.conf.py on a free port, for tests of what only it does."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(database: Path | str, workers: int = 1, stop: int = signal.SIGTERM, **env_overrides):
    """Start gunicorn on a SQLite file (or a database URL), wait until its port accepts a connection, yield the
    port, stop it with the signal `stop`."""
    port = free_port()
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", **env_overrides}
    for key in ("REDIS_URL", "METRICS_TOKEN"):
        if key not in env_overrides:
            env.pop(key, None)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "-w",
                             str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:  # readiness: the port accepts a connection (or gunicorn died)
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start listening"
                time.sleep(0.05)
        yield port
    finally:
        os.killpg(proc.pid, stop)
        proc.wait(timeout=15)
