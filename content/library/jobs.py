"""Long work outside the web request: a ``Job`` row, run by a django.tasks worker.

``job_start(kind=..., user=..., arguments=..., target=...)`` records a queued Job and, once
the surrounding transaction commits, enqueues ``content.tasks.job_task(job_id)`` on the
configured backend (TASKS_BACKEND: the database with ``manage.py db_worker``, or Redis with
``manage.py rqworker --job-class django_tasks_rq.Job``). The worker calls ``job_run(job_id)``,
which claims the job (queued → running), calls the function registered for its kind in
``JOB_FUNCTIONS`` and records the outcome: done (with the function's JSON result), failed
(with the error text) or cancelled.

Job functions are called as ``function(arguments=dict, progress=callable)`` and

- take JSON-only ``arguments`` (the Job's ``arguments`` column; paths as strings relative to
  SCRATCH_ROOT, never objects), so any worker process on any host can run them;
- report progress as ``progress(current, total, message)``; the runner saves it (throttled,
  ``Job.set_progress``) and raises ``JobCancelled`` from that call once a cancel was asked
  for, so a job stops at its next step;
- return a JSON dict, kept as ``Job.result`` (a ``song_id`` key also sets ``result_song``);
- raise ``JobFailed(message)`` for an outcome the user should read; any other exception
  fails the job too, logged with its traceback.

One at a time per target: a job started with a ``target`` (``sync:<folder>``,
``import:<content hash>``) is refused with ``JobRefused`` while another queued or running
job has the same target; a partial unique index on Job.target enforces it.

Staging files: ``scratch_new()`` makes a folder under SCRATCH_ROOT for a job's input; name it
in the arguments as ``"scratch"``. The runner removes it when the job is done or cancelled.
A failed job keeps it, so ``job_retry`` can run the same input again (the folder moves to
the new job); ``jobs_expire_inputs`` removes it ``KEEP_FAILED_INPUT`` after the failure.

Dead workers: while a job runs, a second thread refreshes ``heartbeat_at`` every
``HEARTBEAT_SECONDS``. ``jobs_fail_stale`` marks running jobs whose heartbeat is older than
``STALE_AFTER`` as failed (the process died: a restart, a crash, a deploy). It runs in every
worker process at its start and then every ``WATCHDOG_SECONDS`` (``watchdog_start``), when
the Jobs page is viewed, for one job when its status is polled, and before a new job is
refused for a target a dead job still holds. A running job's work folders under SCRATCH_ROOT
and its staging entries in the library storage are named ``job<id>-...``
(``staging_owner``), so failing a dead job also removes what its worker left half-written.
A database restart while a job runs fails the job with a clear message once the database is
back (``_with_database``), instead of leaving it running.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from blake3 import blake3
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string
from loguru import logger

from content.models import Job
from content.storage import library_storage
from content.storage.base import StorageError, staging_owner

# kind → dotted path of the job function. Dotted, so starting a job (in a web request) does
# not import the generator (about 3 s of numpy/librosa imports); the worker imports it.
JOB_FUNCTIONS: dict[str, str] = {
    Job.Kind.GENERATE: "content.library.generation.generate_job",
    Job.Kind.IMPORT: "content.library.job_functions.import_job",
    Job.Kind.SYNC: "content.library.job_functions.sync_job",
    Job.Kind.UPLOAD: "content.library.job_functions.upload_job",
}
# One library sync at a time, whoever starts it (cron, the Jobs page, a retry).
SYNC_TARGET = "sync:library"
HEARTBEAT_SECONDS = 20.0
# Seconds between attempts to record a job's outcome while the database is unreachable.
DATABASE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
STALE_AFTER = timedelta(minutes=2)
# How often a worker process looks for jobs of dead workers and expired inputs.
WATCHDOG_SECONDS = 60.0
# A failed job's uploaded input is kept this long for a retry.
KEEP_FAILED_INPUT = timedelta(days=7)
_SCRATCH_NAME = re.compile(r"^job-[a-z]+-[0-9a-f]{32}$")

Progress = Callable[[int, int, str], None]


class JobFailed(Exception):
    """A job ended without its result; the message is shown to the user as the job's error."""


class JobCancelled(Exception):
    """Raised from the progress callback when the job was asked to stop."""


class JobRefused(Exception):
    """A job was not started; the message says why (another job holds its target, its input is
    gone). ``job``: the job in the way, when there is one."""

    def __init__(self, message: str, job: Job | None = None):
        super().__init__(message)
        self.job = job


class JobQueueError(Exception):
    """The task queue did not take the job (Redis or the database unreachable). The job is
    recorded as failed with the same message, so it can be retried once the queue is back."""


# --- Starting, running, cancelling ---------------------------------------------------------

def job_start(*, kind: str, user, arguments: dict, target: str = "",
              retry_of: Job | None = None) -> Job:
    """Record a queued Job of ``kind`` for ``user`` (None or anonymous: no user) and enqueue
    its task once the current transaction commits (at once in autocommit).

    arguments: JSON-only (dicts, lists, strings, numbers, booleans, None).
    target: what the job works on; while a queued or running job has the same non-empty
    target, this one is refused.
    Raises ValueError for an unknown kind or arguments that are not JSON, JobRefused when
    another job holds ``target``, JobQueueError when the queue is unreachable (raised where
    the enqueue happens: here in autocommit, else when the transaction commits).
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
    fields = {"kind": kind, "arguments": arguments, "target": target, "retry_of": retry_of,
              "user": user if user is not None and user.is_authenticated else None}
    try:
        job = _create(fields)
    except IntegrityError:
        # A job whose worker died may still hold the target: fail it and try once more.
        if not (target and jobs_fail_stale()):
            raise _refusal(kind, target) from None
        try:
            job = _create(fields)
        except IntegrityError:
            raise _refusal(kind, target) from None
    # The worker must see the committed row.
    transaction.on_commit(partial(_enqueue, job.pk))
    logger.info("job {} ({}) queued{}", job.pk, kind, f" for {target}" if target else "")
    return job


def _create(fields: dict) -> Job:
    # Its own savepoint, so a refused insert leaves a surrounding transaction usable.
    with transaction.atomic():
        return Job.objects.create(**fields)


def _refusal(kind: str, target: str) -> JobRefused:
    holder = Job.objects.filter(target=target, state__in=Job.ACTIVE_STATES).first()
    if holder is None:  # it ended in between; the caller may simply try again
        return JobRefused(f"Another {Job.Kind(kind).label.lower()} job on the same input was "
                          "just starting; try again.")
    what = {Job.Kind.SYNC: "A library sync", Job.Kind.IMPORT: "An import of the same files",
            Job.Kind.GENERATE: "A chart generation from the same audio",
            Job.Kind.UPLOAD: "An upload of the same files here"}[Job.Kind(holder.kind)]
    return JobRefused(f"{what} is already {holder.get_state_display().lower()} "
                      f"(job #{holder.pk}); this one was not started.", holder)


def _enqueue(job_id: int) -> None:
    # Imported here: content.tasks imports this module for job_run.
    from content.tasks import job_task

    try:
        job_task.enqueue(job_id)
    except Exception as error:
        message = (f"The job could not be queued: the task queue "
                   f"(TASKS_BACKEND={settings.TASKS_BACKEND}) did not answer: "
                   f"{str(error).rstrip('.')}. "
                   "Check that it is running, then retry the job.")
        Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
            state=Job.State.FAILED, finished_at=timezone.now(), error=message,
            progress_message="failed")
        logger.error("job {}: {}", job_id, message)
        raise JobQueueError(message) from error


def job_run(job_id: int) -> None:
    """Run job ``job_id`` here and now, recording its state, progress and outcome.

    Does nothing (but remove its staging files) if the job is no longer queued: cancelled
    before it started, or already taken by another worker. Never raises for a failing job
    function; its error is recorded on the job. Fails the jobs of dead workers first, so a
    worker that just started clears what its predecessor left running.
    """
    jobs_fail_stale()
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

    owner = staging_owner.set(_owner(job.pk))
    try:
        function = import_string(JOB_FUNCTIONS[job.kind])
        with _heartbeat(job.pk):
            result = function(arguments=job.arguments, progress=progress)
    except JobCancelled:
        outcome = {"state": Job.State.CANCELLED}
    except JobFailed as error:
        outcome = {"state": Job.State.FAILED, "error": str(error)}
    except (OperationalError, InterfaceError) as error:
        logger.exception("job {} ({}) lost the database", job.pk, job.kind)
        outcome = {"state": Job.State.FAILED,
                   "error": f"The database connection was lost while the job ran ({error}). "
                            "Songs finished before that are in the library (the next sync "
                            "records any the database missed). Retry the job."}
    except Exception as error:
        logger.exception("job {} ({}) failed", job.pk, job.kind)
        outcome = {"state": Job.State.FAILED,
                   "error": f"Unexpected error ({type(error).__name__}): {error}"}
    else:
        outcome = {"state": Job.State.DONE, "result": result or {}}
    finally:
        staging_owner.reset(owner)
    # A failed job keeps its input for job_retry (jobs_expire_inputs removes it later). The
    # others' input goes before their outcome is recorded, so a finished job has none left.
    if outcome["state"] != Job.State.FAILED:
        _scratch_cleanup(job.arguments)
    _finish(job, **outcome)


def _finish(job: Job, state: str, *, error: str = "", result: dict | None = None) -> None:
    """Record ``state`` (a finished one, also shown as the progress message), ``error`` and
    ``result``."""
    fields = {"state": state, "finished_at": timezone.now(), "error": error,
              "progress_message": state}
    if result is not None:
        fields["result"] = result
        fields["result_song_id"] = result.get("song_id")
        if job.progress_total:
            fields["progress_current"] = job.progress_total
    _with_database(f"job {job.pk}", lambda: Job.objects.filter(pk=job.pk).update(**fields))
    logger.info("job {} ({}) {}{}", job.pk, job.kind, state, f": {error}" if error else "")


def _with_database[T](what: str, action: Callable[[], T]) -> T:
    """``action()``, tried again on a new connection while the database is unreachable
    (``DATABASE_RETRY_DELAYS``). A restarted database (an upgrade, a failover) drops every
    connection; a job's outcome waits for it rather than staying "running" until the
    watchdog fails it. Raises the last OperationalError/InterfaceError when it stays down.
    """
    for delay in DATABASE_RETRY_DELAYS:
        try:
            return action()
        except (OperationalError, InterfaceError) as error:
            logger.warning("{}: the database is unreachable ({}); trying again in {} s", what,
                           str(error).strip(), delay)
            _drop_connection()
            time.sleep(delay)
    return action()


def _drop_connection() -> None:
    """Close this thread's broken connection, so the next query opens a new one."""
    try:
        connection.close()
    except (DatabaseError, InterfaceError):
        pass


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


def job_retry(job_id: int, *, user) -> Job:
    """Start a new job with the arguments and target of the failed job ``job_id``, for
    ``user``; its staging folder (the uploaded input) moves to the new job.

    Raises Job.DoesNotExist; JobRefused when the job did not fail, was already retried, its
    input is gone (expired, or the retry that took it ended) or another job holds its target;
    JobQueueError as ``job_start``.
    """
    old = Job.objects.get(pk=job_id)
    if old.state != Job.State.FAILED:
        raise JobRefused(f"Only a failed job can be retried; job #{old.pk} is "
                         f"{old.get_state_display().lower()}.")
    if (retry := old.retries.order_by("-pk").first()) is not None:
        raise JobRefused(f"Job #{old.pk} was already retried as job #{retry.pk}.", retry)
    arguments = dict(old.arguments)
    moved = None
    if "scratch" in old.arguments:
        arguments["scratch"] = _scratch_name(old.kind)
        try:
            # None: jobs_expire_inputs removed it.
            moved = (scratch_path(old.arguments["scratch"] or ""),
                     scratch_path(arguments["scratch"]))
            # One rename: the folder belongs to exactly one job at any moment, so the old
            # job's expiry can never remove the new job's input.
            os.rename(*moved)
        except (ValueError, FileNotFoundError):
            raise JobRefused(
                f"The input of job #{old.pk} is gone (failed inputs are kept "
                f"{KEEP_FAILED_INPUT.days} days): upload the files again.") from None
    try:
        return job_start(kind=old.kind, user=user, arguments=arguments, target=old.target,
                         retry_of=old)
    except JobRefused:
        if moved:
            os.rename(moved[1], moved[0])
        raise


@contextmanager
def _heartbeat(job_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Refresh the job's heartbeat every ``every`` seconds while the block runs, from a second
    thread: one generator step can take longer than ``STALE_AFTER`` on a long song."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    Job.objects.filter(pk=job_id, state=Job.State.RUNNING).update(
                        heartbeat_at=timezone.now())
                except (OperationalError, InterfaceError) as error:
                    # Keep beating: the database may be back by the next beat (a restart).
                    logger.warning("job {}: heartbeat not saved ({})", job_id, error)
                    _drop_connection()
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
    died); their input stays for a retry. ``pk``: check that one job only. Returns how many
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
    for job in candidates.only("pk", "heartbeat_at", "started_at"):
        seen = timezone.localtime(job.heartbeat_at or job.started_at)
        # Conditional, so a worker that came back to life in between keeps its job. The input
        # stays for a retry, like any failed job's.
        if Job.objects.filter(stale, pk=job.pk).update(
                state=Job.State.FAILED, finished_at=now, progress_message="failed",
                error=(f"The worker running this job stopped without finishing (no sign of "
                       f"life since {seen:%Y-%m-%d %H:%M:%S %Z}): the server or worker was "
                       "probably restarted. Retry the job.")):
            marked += 1
            logger.warning("job {}: worker gone, marked failed", job.pk)
            _leftovers_remove(job.pk)
    return marked


def _owner(job_id: int) -> str:
    """The ``staging_owner`` of job ``job_id``: its staging and work folders' name prefix."""
    return f"job{job_id}-"


def _leftovers_remove(job_id: int) -> None:
    """Remove what the killed worker of job ``job_id`` left half-written: its work folders
    under SCRATCH_ROOT (archives being extracted, charts being written) and its staging
    entries in the library storage. Logs, never raises: the storage may be unreachable."""
    owner = _owner(job_id)
    for folder in Path(settings.SCRATCH_ROOT).glob(f"{owner}*"):
        shutil.rmtree(folder, ignore_errors=True)
    try:
        removed = library_storage().staging_remove(owner)
    except StorageError as error:
        logger.error("job {}: could not remove its staging entries: {}", job_id, error)
    else:
        if removed:
            logger.info("job {}: removed {} staging entries it left", job_id, removed)


def jobs_expire_inputs(*, now: datetime | None = None) -> int:
    """Remove the staging folders of jobs that failed more than ``KEEP_FAILED_INPUT`` ago
    (their ``"scratch"`` argument becomes None; a retry then says the input is gone).
    Returns how many were removed."""
    cutoff = (now or timezone.now()) - KEEP_FAILED_INPUT
    expired = 0
    candidates = Job.objects.filter(state=Job.State.FAILED, finished_at__lt=cutoff,
                                    arguments__has_key="scratch").exclude(arguments__scratch=None)
    for job in candidates.only("pk", "arguments"):
        _scratch_cleanup(job.arguments)
        # None, not absent: job_retry can then say that the job had input and it is gone.
        Job.objects.filter(pk=job.pk).update(arguments=job.arguments | {"scratch": None})
        expired += 1
    return expired


# Management commands that run tasks; each such process gets a watchdog.
WORKER_COMMANDS = ("db_worker", "rqworker")
_watchdog_lock = threading.Lock()
_watchdog_pid: int | None = None


def watchdog_start(every: float = WATCHDOG_SECONDS) -> threading.Event | None:
    """Start this process's watchdog thread unless it runs already: ``jobs_fail_stale`` and
    ``jobs_expire_inputs`` now and every ``every`` seconds, until the process ends or the
    returned event is set. Returns None if one runs already. Worker processes (db_worker,
    rqworker) call it at start-up (``ContentConfig.ready``); an RQ work-horse is a fork of
    such a process, whose watchdog keeps running in the parent.
    """
    global _watchdog_pid
    with _watchdog_lock:
        if _watchdog_pid == os.getpid():
            return None
        _watchdog_pid = os.getpid()
    stop = threading.Event()
    threading.Thread(target=_watchdog, args=(every, stop), name="jobs-watchdog",
                     daemon=True).start()
    return stop


def _watchdog(every: float, stop: threading.Event) -> None:
    # Started from ContentConfig.ready(): a query before every app's ready() has returned
    # is one Django warns about ("Accessing the database during app initialization").
    while not apps.ready and not stop.wait(0.05):
        pass
    while not stop.is_set():
        try:
            jobs_fail_stale()
            jobs_expire_inputs()
        except Exception:
            # A database hiccup must not end the watchdog for the rest of the process.
            logger.exception("jobs watchdog: checking for dead workers failed")
        finally:
            connections.close_all()
        stop.wait(every)


# --- Staging files -------------------------------------------------------------------------

def scratch_new(kind: str) -> str:
    """Create a staging folder for a job's input under SCRATCH_ROOT and return its name
    (what the job's ``"scratch"`` argument holds; ``scratch_path`` turns it into a path)."""
    name = _scratch_name(kind)
    scratch_path(name).mkdir(parents=True)
    return name


def _scratch_name(kind: str) -> str:
    return f"job-{kind}-{uuid.uuid4().hex}"


def scratch_write(uploads: list[tuple[UploadedFile, Path]]) -> str:
    """Write each uploaded file to its path (in chunks: large uploads are on disk already) and
    return their content key: the blake3 hex digest of the files' own digests, sorted, so the
    same files under other names or in another order give the same key (a job ``target``)."""
    digests = []
    for upload, path in uploads:
        digest = blake3()
        with path.open("wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
        digests.append(digest.digest())
    return blake3(b"".join(sorted(digests))).hexdigest()


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
