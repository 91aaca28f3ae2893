"""gunicorn settings for chmanager: ``gunicorn -c docker/gunicorn.conf.py`` (from the repo root).

Environment (all optional; `.env.example` documents them):
  GUNICORN_BIND      address to listen on, default ``0.0.0.0:8000``
  WEB_CONCURRENCY    worker processes, default CPU count + 1
  GUNICORN_THREADS   threads per worker, default 4
  GUNICORN_TIMEOUT   seconds a silent worker may live before it is restarted, default 60
  PROMETHEUS_MULTIPROC_DIR  where the workers share their /metrics figures; default a fresh
                     temporary folder removed on exit
gunicorn's own options (``GUNICORN_CMD_ARGS``, ``FORWARDED_ALLOW_IPS``) work as usual. A
``.env`` file in the project folder is read first, as chmanager/settings.py does.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import environ

environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

wsgi_app = "chmanager.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# Processes for the CPU (page rendering), threads for the waiting (PostgreSQL, Nextcloud).
# process_cpu_count() honours the CPU set a container is pinned to.
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.process_cpu_count() or 1) + 1)
# gthread: the main thread keeps the worker's heartbeat while a request runs, so a 2 GiB
# upload over a slow line is not killed by `timeout` the way a sync worker would be.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# The heartbeat file on tmpfs: a container's overlay filesystem can stall it for seconds.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None

# One line per request comes from chmanager.request_log (method, path, status, ms, through
# loguru to stdout), the same under runserver and in tests, so gunicorn's access log is off to
# avoid logging each request twice. `GUNICORN_CMD_ARGS="--access-logfile -"` turns it back on.
accesslog = None
errorlog = "-"
capture_output = False
# gunicorn ≥ 25's control socket sits at one path per user, so two servers on a machine (a
# benchmark beside a test run) would fight over it; nothing here uses gunicornc.
control_socket_disable = True

# prometheus-client's multiprocess mode: each worker writes its counters to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics sums them, so a scrape sees every worker and not only
# the one it hit. Set in the master before the workers are forked (they inherit it).
_own_metrics_dir: str | None = None


def on_starting(server) -> None:
    global _own_metrics_dir
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = _own_metrics_dir = tempfile.mkdtemp(prefix="chmanager-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    # Figures left by an earlier run would be added to this one's.
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
