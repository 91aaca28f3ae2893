"""Long work outside the web request: a ``Job`` row, run by a worker thread in this process.

``job_start(kind=..., user=..., arguments=...)`` records a queued Job and, once the
surrounding transaction commits, hands its id to ``launch``. ``launch`` starts a daemon
``threading.Thread`` running ``job_run(job_id)``, which claims the job (queued → running),
calls the function registered for its kind in ``JOB_FUNCTIONS`` and records the outcome:
done (with the function's JSON result), failed (with the error text) or cancelled.

Job functions are called as ``function(arguments=dict, progress=callable)`` and

- take JSON-only ``arguments`` (the Job's ``arguments`` column; paths as strings relative to
  SCRATCH_ROOT, never objects), so the job can be handed to another process unchanged;
- report progress as ``progress(current, total, message)``; the runner saves it (throttled,
  ``Job.set_progress``) and raises ``JobCancelled`` from that call once a cancel was asked
  for, so a job stops at its next step;
- return a JSON dict, kept as ``Job.result`` (a ``song_id`` key also sets ``result_song``);
- raise ``JobFailed(message)`` for an outcome the user should read; any other exception
  fails the job too, logged with its traceback.

Staging files: ``scratch_new()`` makes a folder under SCRATCH_ROOT for a job's input; name it
in the arguments as ``"scratch"`` and the runner removes it whenever the job ends, whether
done, failed, cancelled before or while running, or found dead by ``jobs_fail_stale``.

Dead workers: while a job runs, a second thread refreshes ``heartbeat_at`` every
``HEARTBEAT_SECONDS``. ``jobs_fail_stale`` marks running jobs whose heartbeat is older than
``STALE_AFTER`` as failed (the process died: a restart, a crash, a deploy); it runs when the
runner first starts in a process, when the Jobs page is viewed, and for one job when its
status is polled.

The background-jobs issue (6) replaces the thread with a django.tasks task: define

    @task
    def job_task(job_id: int) -> None:
        job_run(job_id)

and change the one line in ``job_start`` from ``launch`` to ``job_task.enqueue``. Nothing
else changes: job functions already take JSON-only arguments and report through the Job row.
"""
from __future__ import annotations

import json
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from loguru import logger

from content.models import Job

# kind → dotted path of the job function. Dotted, so starting a job (in a web request) does
# not import the generator (about 3 s of numpy/librosa imports); the worker imports it.
JOB_FUNCTIONS: dict[str, str] = {
    Job.Kind.GENERATE: "content.library.generation.generate_job",
}
# Jobs one process runs at once; the rest wait, still queued (and cancellable). A chart
# generation holds a CPU core and a few hundred MB for its whole run.
JOBS_PER_PROCESS = 2
HEARTBEAT_SECONDS = 20.0
STALE_AFTER = timedelta(minutes=2)
_SCRATCH_NAME = re.compile(r"^job-[a-z]+-[0-9a-f]{32}$")

Progress = Callable[[int, int, str], None]


class JobFailed(Exception):
    """A job ended without its result; the message is shown to the user as the job's error."""


class JobCancelled(Exception):
    """Raised from the progress callback when the job was asked to stop."""


# --- Starting, running, cancelling ---------------------------------------------------------

def job_start(*, kind: str, user, arguments: dict) -> Job:
    """Record a queued Job of ``kind`` for ``user`` (None or anonymous: no user) and run it
    once the current transaction commits (at once in autocommit).

    arguments: JSON-only (dicts, lists, strings, numbers, booleans, None).
    Raises ValueError for an unknown kind or arguments that are not JSON.
    """
    if kind not in JOB_FUNCTIONS:
        raise ValueError(f"no job function for the kind {kind!r}")
    try:
        # Stored as JSON will read it back: a tuple would come back as a list, so refuse
        # anything that does not survive the round trip instead of changing it silently.
        if json.loads(json.dumps(arguments, allow_nan=False)) != arguments:
            raise ValueError("arguments change when stored as JSON")
    except (TypeError, ValueError) as error:
        raise ValueError(f"job arguments must be plain JSON: {error}") from None
    job = Job.objects.create(kind=kind, arguments=arguments,
                             user=user if user is not None and user.is_authenticated else None)
    # The worker must see the committed row. Issue 6: `launch` → `job_task.enqueue`.
    transaction.on_commit(partial(launch, job.pk))
    logger.info("job {} ({}) queued", job.pk, kind)
    return job


def launch(job_id: int) -> threading.Thread:
    """Run ``job_run(job_id)`` in a new daemon thread and return the thread.

    At most ``JOBS_PER_PROCESS`` of these threads run a job at once; the others wait with
    their job still queued. Daemon: a job never keeps a stopping server alive; the job it
    abandons is found by its stale heartbeat and marked failed.
    """
    _fail_stale_once()
    thread = threading.Thread(target=_thread_main, args=(job_id,), name=f"job-{job_id}",
                              daemon=True)
    thread.start()
    return thread


_slots = threading.BoundedSemaphore(JOBS_PER_PROCESS)


def _thread_main(job_id: int) -> None:
    try:
        with _slots:
            job_run(job_id)
    except Exception:
        logger.exception("job {}: the runner itself failed", job_id)
    finally:
        # This thread's own database connection; Django only closes those of request threads.
        connections.close_all()


def job_run(job_id: int) -> None:
    """Run job ``job_id`` here and now, recording its state, progress and outcome.

    Does nothing (but remove its staging files) if the job is no longer queued: cancelled
    before it started, or already taken by another worker. Never raises for a failing job
    function; its error is recorded on the job.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        logger.warning("job {} does not exist", job_id)
        return
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING, started_at=now, heartbeat_at=now)
    if not claimed:
        job.refresh_from_db()
        if job.state == Job.State.CANCELLED:
            _scratch_cleanup(job.arguments)
        logger.info("job {} is {}, not run", job_id, job.state)
        return
    job.refresh_from_db()
    logger.info("job {} ({}) running", job.pk, job.kind)

    def progress(current: int, total: int, message: str) -> None:
        # The cancel flag is read only when progress is written (≤ 2 reads a second).
        if job.set_progress(current, total, message) and job.cancel_is_requested():
            raise JobCancelled()

    try:
        function = import_string(JOB_FUNCTIONS[job.kind])
        with _heartbeat(job.pk):
            result = function(arguments=job.arguments, progress=progress)
    except JobCancelled:
        _finish(job, Job.State.CANCELLED, message="cancelled")
    except JobFailed as error:
        _finish(job, Job.State.FAILED, error=str(error), message="failed")
    except Exception as error:
        logger.exception("job {} ({}) failed", job.pk, job.kind)
        _finish(job, Job.State.FAILED, message="failed",
                error=f"Unexpected error ({type(error).__name__}): {error}")
    else:
        _finish(job, Job.State.DONE, result=result or {}, message="done")
    finally:
        _scratch_cleanup(job.arguments)


def _finish(job: Job, state: str, *, message: str, error: str = "",
            result: dict | None = None) -> None:
    fields = {"state": state, "finished_at": timezone.now(), "error": error,
              "progress_message": message}
    if result is not None:
        fields["result"] = result
        fields["result_song_id"] = result.get("song_id")
        if job.progress_total:
            fields["progress_current"] = job.progress_total
    Job.objects.filter(pk=job.pk).update(**fields)
    logger.info("job {} ({}) {}{}", job.pk, job.kind, state, f": {error}" if error else "")


def job_cancel(job_id: int) -> Job:
    """Cancel job ``job_id``: a queued job ends at once (its staging files removed), a running
    one is flagged and stops at its next progress report. A finished job is left as it is.
    Returns the job as it is now. Raises Job.DoesNotExist.
    """
    now = timezone.now()
    stopped = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.CANCELLED, cancel_requested=True, finished_at=now,
        progress_message="cancelled")
    job = Job.objects.get(pk=job_id)
    if stopped:
        _scratch_cleanup(job.arguments)
    else:
        Job.objects.filter(pk=job_id, state=Job.State.RUNNING).update(cancel_requested=True)
        job.refresh_from_db()
    logger.info("job {}: cancel requested ({})", job_id, job.state)
    return job


@contextmanager
def _heartbeat(job_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Refresh the job's heartbeat every ``every`` seconds while the block runs, from a second
    thread: one generator step can take longer than ``STALE_AFTER`` on a long song."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                Job.objects.filter(pk=job_id, state=Job.State.RUNNING).update(
                    heartbeat_at=timezone.now())
        except Exception:
            logger.exception("job {}: heartbeat failed", job_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# --- Dead workers ----------------------------------------------------------------------------

def jobs_fail_stale(*, pk: int | None = None, now: datetime | None = None) -> int:
    """Mark running jobs whose heartbeat is older than ``STALE_AFTER`` as failed (their worker
    died) and remove their staging files. ``pk``: check that one job only. Returns how many
    were marked.
    """
    now = now or timezone.now()
    cutoff = now - STALE_AFTER
    stale = Q(state=Job.State.RUNNING) & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
    candidates = Job.objects.filter(stale)
    if pk is not None:
        candidates = candidates.filter(pk=pk)
    marked = 0
    for job in candidates.only("pk", "arguments", "heartbeat_at", "started_at"):
        seen = timezone.localtime(job.heartbeat_at or job.started_at)
        # Conditional, so a worker that came back to life in between keeps its job.
        if Job.objects.filter(stale, pk=job.pk).update(
                state=Job.State.FAILED, finished_at=now, progress_message="failed",
                error=(f"The worker running this job stopped without finishing (no sign of "
                       f"life since {seen:%Y-%m-%d %H:%M:%S %Z}): the server was probably "
                       "restarted. Start the job again.")):
            _scratch_cleanup(job.arguments)
            marked += 1
            logger.warning("job {}: worker gone, marked failed", job.pk)
    return marked


_startup_lock = threading.Lock()
_startup_done = False


def _fail_stale_once() -> None:
    """``jobs_fail_stale`` the first time this process runs a job (the runner's start-up)."""
    global _startup_done
    with _startup_lock:
        if _startup_done:
            return
        _startup_done = True
    try:
        jobs_fail_stale()
    except Exception:
        logger.exception("checking for jobs left by dead workers failed")


# --- Staging files -------------------------------------------------------------------------

def scratch_new(kind: str) -> str:
    """Create a staging folder for a job's input under SCRATCH_ROOT and return its name
    (what the job's ``"scratch"`` argument holds; ``scratch_path`` turns it into a path)."""
    name = f"job-{kind}-{uuid.uuid4().hex}"
    scratch_path(name).mkdir(parents=True)
    return name


def scratch_path(name: str) -> Path:
    """The staging folder called ``name``. Raises ValueError for a name ``scratch_new`` did not
    make, so a tampered argument can never point the clean-up elsewhere."""
    if not isinstance(name, str) or not _SCRATCH_NAME.match(name):
        raise ValueError(f"not a job staging folder name: {name!r}")
    return Path(settings.SCRATCH_ROOT) / name


def _scratch_cleanup(arguments: dict) -> None:
    name = arguments.get("scratch") if isinstance(arguments, dict) else None
    if name:
        try:
            shutil.rmtree(scratch_path(name), ignore_errors=True)
        except ValueError:
            logger.error("job arguments name a bad staging folder: {!r}", name)
