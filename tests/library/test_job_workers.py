"""Jobs run end to end by real worker processes: ``manage.py db_worker --batch`` on the test
database, and an RQ burst worker (``rqworker --burst --job-class django_tasks_rq.Job``) on the
real Redis at 127.0.0.1:6379. A job left running by a dead worker is failed by the next
worker, at its start even when it has nothing to run."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from content.library import jobs
from content.models import Job, Song

from ..conftest import REPO
from .test_jobs import rq_settings  # noqa: F401  (fixture)

# Transactional: the worker process must see the committed job.
pytestmark = pytest.mark.django_db(transaction=True)


def environment(settings, **env: str) -> dict:
    """The environment of a worker process on the test database and this test's library."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return os.environ | {
        "DATABASE_URL": url, "LIBRARY_ROOT": str(settings.LIBRARY_ROOT),
        "SCRATCH_ROOT": str(settings.SCRATCH_ROOT), "DEBUG": "True", **env}


def manage(settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` in a new process to its end."""
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO,
                          env=environment(settings, **env), capture_output=True, text=True,
                          timeout=240)


def sync_and_a_dead_job() -> tuple[Job, Job]:
    long_ago = timezone.now() - jobs.STALE_AFTER * 3
    dead = Job.objects.create(kind=Job.Kind.SYNC, state=Job.State.RUNNING,
                              started_at=long_ago, heartbeat_at=long_ago)
    job = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={}, target=jobs.SYNC_TARGET)
    return job, dead


def assert_synced(job: Job, dead: Job, worker: subprocess.CompletedProcess) -> None:
    assert worker.returncode == 0, worker.stderr[-3000:]
    job.refresh_from_db()
    dead.refresh_from_db()
    assert job.state == Job.State.DONE, job.error
    assert job.result["added"] == Song.objects.count() == 12
    assert job.started_at <= job.finished_at and job.percent == 100
    assert dead.state == Job.State.FAILED and "stopped without finishing" in dead.error


def test_db_worker_runs_a_queued_sync(library, settings):
    job, dead = sync_and_a_dead_job()
    assert DBTaskResult.objects.get().args_kwargs["args"] == [job.pk]
    worker = manage(settings, "db_worker", "--batch", "--no-startup-delay", "--no-reload",
                    TASKS_BACKEND="db")
    assert_synced(job, dead, worker)
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_an_rq_worker_runs_a_queued_sync(library, rq_settings):  # noqa: F811
    job, dead = sync_and_a_dead_job()
    url = rq_settings.RQ_QUEUES["default"]["URL"].split("?")[0]
    worker = manage(rq_settings, "rqworker", "--burst", "--job-class", "django_tasks_rq.Job",
                    "default", TASKS_BACKEND="rq", REDIS_URL=url)
    assert_synced(job, dead, worker)


def test_an_idle_worker_fails_a_dead_workers_job_at_start_up(library, settings):
    long_ago = timezone.now() - jobs.STALE_AFTER * 3
    dead = Job.objects.create(kind=Job.Kind.SYNC, state=Job.State.RUNNING,
                              started_at=long_ago, heartbeat_at=long_ago)
    # No task queued: only the worker's watchdog can notice the dead job.
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--no-reload"],
        cwd=REPO, env=environment(settings, TASKS_BACKEND="db"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while (Job.objects.get(pk=dead.pk).state == Job.State.RUNNING
               and time.monotonic() < deadline and worker.poll() is None):
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    dead.refresh_from_db()
    assert dead.state == Job.State.FAILED and "stopped without finishing" in dead.error
