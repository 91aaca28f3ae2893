"""The job runner on django.tasks (content/library/jobs.py, content/tasks.py): import and sync
jobs, one active job per target, retry with the kept input, the watchdog, and enqueueing on
the database and Redis backends (the real Redis on 127.0.0.1:6379; a worker process runs
them end to end in test_job_workers.py)."""
from __future__ import annotations

import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from content.library import jobs
from content.models import Job, Song

from .test_imports import song_dirs, zip_folders

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(library, tmp_path) -> Path:
    """A zip of two sample songs; the library's Songs/ emptied so they import as new."""
    source = tmp_path / "source"
    shutil.move(library.root / "Songs", source)
    (library.root / "Songs").mkdir()
    return zip_folders(song_dirs(source)[:2], tmp_path / "pack.zip")


def staged(archive: Path) -> dict:
    """Import-job arguments for ``archive`` staged as the Upload page stages it."""
    scratch = jobs.scratch_new("import")
    (jobs.scratch_path(scratch) / "0").mkdir()
    shutil.copyfile(archive, jobs.scratch_path(scratch) / "0" / archive.name)
    return {"scratch": scratch, "label": archive.name}


def import_job(archive: Path, target: str = "import:pack") -> Job:
    return jobs.job_start(kind=Job.Kind.IMPORT, user=None, arguments=staged(archive),
                          target=target)


def test_an_import_job_imports_and_lists_the_songs(archive):
    job = import_job(archive)
    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.DONE, job.error
    assert job.result["counts"] == {"imported": 2, "duplicate": 0, "rejected": 0}
    ids = {r["song_id"] for r in job.result["results"]}
    assert ids == set(Song.objects.values_list("pk", flat=True)) and len(ids) == 2
    assert job.result_song is None  # two songs: the page lists them, none is "the" song
    assert not jobs.scratch_path(job.arguments["scratch"]).exists()


def test_a_sync_job_records_the_sync(library):
    job = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={}, target=jobs.SYNC_TARGET)
    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.DONE, job.error
    assert job.result["added"] == Song.objects.count() == 12
    assert job.percent == 100 and job.progress_message == "done"


def test_a_second_sync_is_refused_while_one_is_queued(library):
    first = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={}, target=jobs.SYNC_TARGET)
    with pytest.raises(jobs.JobRefused, match=rf"already queued \(job #{first.pk}\)") as refused:
        jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={"full": True},
                       target=jobs.SYNC_TARGET)
    assert refused.value.job == first and Job.objects.count() == 1
    jobs.job_run(first.pk)
    again = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={}, target=jobs.SYNC_TARGET)
    assert again.state == Job.State.QUEUED


def test_the_same_archive_twice_is_refused_another_is_not(archive, tmp_path):
    first = import_job(archive, target="import:aaa")
    with pytest.raises(jobs.JobRefused, match="An import of the same files is already queued"):
        import_job(archive, target="import:aaa")
    assert import_job(archive, target="import:bbb").pk != first.pk
    # The refused job's staging folder is the caller's to remove (the views do).
    assert Job.objects.count() == 2


def test_the_database_enforces_one_active_job_per_target(db):
    Job.objects.create(kind=Job.Kind.SYNC, target="sync:library", state=Job.State.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(kind=Job.Kind.SYNC, target="sync:library")
    # Finished jobs and jobs without a target never conflict.
    Job.objects.create(kind=Job.Kind.SYNC, target="sync:library", state=Job.State.FAILED)
    Job.objects.create(kind=Job.Kind.GENERATE)
    Job.objects.create(kind=Job.Kind.GENERATE)


def test_a_dead_workers_job_does_not_block_its_target(library):
    long_ago = timezone.now() - jobs.STALE_AFTER * 3
    dead = Job.objects.create(kind=Job.Kind.SYNC, target=jobs.SYNC_TARGET,
                              state=Job.State.RUNNING, started_at=long_ago,
                              heartbeat_at=long_ago)
    job = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={}, target=jobs.SYNC_TARGET)
    dead.refresh_from_db()
    assert dead.state == Job.State.FAILED and "stopped without finishing" in dead.error
    assert job.state == Job.State.QUEUED


def fail(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, error="boom",
                                         finished_at=timezone.now())
    job.refresh_from_db()


def test_retry_runs_the_same_input_again(archive, django_user_model):
    user = django_user_model.objects.create_user("retrier")
    job = import_job(archive)
    fail(job)
    old_folder = jobs.scratch_path(job.arguments["scratch"])
    assert (old_folder / "0" / "pack.zip").is_file()  # a failed job keeps its input

    retry = jobs.job_retry(job.pk, user=user)
    assert retry.retry_of == job and retry.target == job.target and retry.user == user
    assert retry.arguments["label"] == "pack.zip"
    new_folder = jobs.scratch_path(retry.arguments["scratch"])
    assert (new_folder / "0" / "pack.zip").is_file() and not old_folder.exists()
    with pytest.raises(jobs.JobRefused, match=f"already retried as job #{retry.pk}"):
        jobs.job_retry(job.pk, user=user)
    jobs.job_run(retry.pk)
    retry.refresh_from_db()
    assert retry.state == Job.State.DONE and retry.result["counts"]["imported"] == 2


def test_retry_refuses_a_job_that_did_not_fail_or_whose_input_is_gone(archive):
    job = import_job(archive)
    with pytest.raises(jobs.JobRefused, match="Only a failed job can be retried"):
        jobs.job_retry(job.pk, user=None)
    fail(job)
    folder = jobs.scratch_path(job.arguments["scratch"])
    assert jobs.jobs_expire_inputs() == 0  # kept KEEP_FAILED_INPUT
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=8))
    assert jobs.jobs_expire_inputs() == 1
    job.refresh_from_db()
    assert job.arguments == {"scratch": None, "label": "pack.zip"}
    assert jobs.jobs_expire_inputs() == 0
    assert not folder.exists()
    with pytest.raises(jobs.JobRefused, match="input of job .* is gone.*upload the files again"):
        jobs.job_retry(job.pk, user=None)
    assert Job.objects.count() == 1


def test_a_refused_retry_gives_the_input_back(archive):
    job = import_job(archive, target="import:same")
    fail(job)
    blocker = import_job(archive, target="import:same")
    with pytest.raises(jobs.JobRefused, match=f"job #{blocker.pk}"):
        jobs.job_retry(job.pk, user=None)
    assert (jobs.scratch_path(job.arguments["scratch"]) / "0" / "pack.zip").is_file()


def test_a_sync_job_can_be_retried(library):
    job = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={"full": True},
                         target=jobs.SYNC_TARGET)
    fail(job)
    retry = jobs.job_retry(job.pk, user=None)
    assert retry.arguments == {"full": True} and retry.state == Job.State.QUEUED


def broken_import(*, arguments, progress):
    """An import that fails after its first step."""
    progress(0, 2, "starting")
    raise jobs.JobFailed("pack.zip: the disk is full")


def test_a_failed_job_keeps_its_input_a_cancelled_one_does_not(archive, monkeypatch):
    monkeypatch.setitem(jobs.JOB_FUNCTIONS, Job.Kind.IMPORT,
                        "tests.library.test_jobs.broken_import")
    failing = import_job(archive, target="import:one")
    jobs.job_run(failing.pk)
    failing.refresh_from_db()
    assert failing.state == Job.State.FAILED and failing.error == "pack.zip: the disk is full"
    assert (jobs.scratch_path(failing.arguments["scratch"]) / "0" / "pack.zip").is_file()
    cancelled = import_job(archive, target="import:two")
    jobs.job_cancel(cancelled.pk)
    assert not jobs.scratch_path(cancelled.arguments["scratch"]).exists()


def _stop_watchdog(stop) -> None:
    stop.set()  # and its last round ends before the test's database goes
    for thread in threading.enumerate():
        if thread.name == "jobs-watchdog":
            thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_the_watchdog_fails_dead_jobs_periodically(library, monkeypatch):
    monkeypatch.setattr(jobs, "_watchdog_pid", None)
    stop = jobs.watchdog_start(every=0.1)
    try:
        assert stop is not None and jobs.watchdog_start(every=0.1) is None  # one per process
        # A job that goes stale after the watchdog started is caught too (not only at start-up).
        time.sleep(0.3)
        long_ago = timezone.now() - jobs.STALE_AFTER * 3
        dead = Job.objects.create(kind=Job.Kind.SYNC, state=Job.State.RUNNING,
                                  started_at=long_ago, heartbeat_at=long_ago)
        deadline = time.monotonic() + 10
        while (Job.objects.get(pk=dead.pk).state == Job.State.RUNNING
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert Job.objects.get(pk=dead.pk).state == Job.State.FAILED
    finally:
        _stop_watchdog(stop)


@pytest.mark.django_db(transaction=True)
def test_the_watchdog_waits_for_the_app_registry_before_its_first_query(library, monkeypatch,
                                                                         recwarn):
    # Workers start it from ContentConfig.ready(), before the registry is complete: a query
    # then makes Django warn "Accessing the database during app initialization", which every
    # `./dev run` printed.
    monkeypatch.setattr(jobs, "_watchdog_pid", None)
    long_ago = timezone.now() - jobs.STALE_AFTER * 3
    dead = Job.objects.create(kind=Job.Kind.SYNC, state=Job.State.RUNNING,
                              started_at=long_ago, heartbeat_at=long_ago)
    monkeypatch.setattr(apps, "ready", False)
    stop = jobs.watchdog_start(every=0.1)
    try:
        time.sleep(0.3)
        apps.ready = True
        deadline = time.monotonic() + 10
        while (Job.objects.get(pk=dead.pk).state == Job.State.RUNNING
               and time.monotonic() < deadline):
            time.sleep(0.05)
        assert Job.objects.get(pk=dead.pk).state == Job.State.FAILED
        assert not [w for w in recwarn if "app initialization" in str(w.message)]
    finally:
        _stop_watchdog(stop)


# --- Enqueueing on the configured backend ---------------------------------------------------

def test_job_start_enqueues_on_the_database_backend(library, settings,
                                                    django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend",
                                  "QUEUES": ["default"]}}
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={},
                             target=jobs.SYNC_TARGET)
        assert not DBTaskResult.objects.exists()  # not before the job's row is committed
    task = DBTaskResult.objects.get()
    assert task.task_path == "content.tasks.job_task" and task.args_kwargs["args"] == [job.pk]


@pytest.fixture
def rq_settings(settings, worker_id):
    """The RQ backend on a Redis database of its own (15, 14 for the second xdist worker)."""
    import django_rq

    number = 15 - (int(worker_id[2:]) if worker_id.startswith("gw") else 0)
    settings.TASKS_BACKEND = "rq"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {
        "URL": f"redis://127.0.0.1:6379/{number}?socket_connect_timeout=5", "DEFAULT_TIMEOUT": -1}}
    connection = django_rq.get_connection("default")
    connection.flushdb()
    yield settings
    connection.flushdb()


def test_job_start_enqueues_on_redis(library, rq_settings, django_capture_on_commit_callbacks):
    import django_rq

    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments={},
                             target=jobs.SYNC_TARGET)
    queue = django_rq.get_queue("default")
    assert queue.count == 1
    queued = queue.jobs[0]
    assert queued.func_name == "content.tasks.job_task" and queued.args == (job.pk,)


def test_redis_down_fails_the_enqueue_quickly_with_a_clear_error(
        archive, rq_settings, django_capture_on_commit_callbacks):
    rq_settings.RQ_QUEUES = {"default": {
        "URL": "redis://127.0.0.1:1/0?socket_connect_timeout=5", "DEFAULT_TIMEOUT": -1}}
    started = time.monotonic()
    with pytest.raises(jobs.JobQueueError, match="TASKS_BACKEND=rq.*Connection refused"):
        with django_capture_on_commit_callbacks(execute=True):
            job = import_job(archive)
    assert time.monotonic() - started < 5
    job = Job.objects.get()
    assert job.state == Job.State.FAILED and "could not be queued" in job.error
    assert jobs.scratch_path(job.arguments["scratch"]).is_dir()  # kept for a retry


# --- sync_library --enqueue --------------------------------------------------------------------

def test_sync_library_enqueue_queues_a_job_and_refuses_a_second(library, capsys):
    call_command("sync_library", "--enqueue", "--full")
    job = Job.objects.get()
    assert job.kind == Job.Kind.SYNC and job.user is None and job.state == Job.State.QUEUED
    assert job.arguments == {"full": True, "dry_run": False, "confirm_removals": False}
    assert f"sync queued as job #{job.pk}" in capsys.readouterr().out
    assert not Song.objects.exists()  # queued, not run here
    with pytest.raises(CommandError, match=rf"not queued: A library sync is already queued "
                                           rf"\(job #{job.pk}\)"):
        call_command("sync_library", "--enqueue")


def test_a_folder_import_downloads_and_imports_or_fails_over_the_limit(archive, library,
                                                                       settings, tmp_path):
    inbox = library.root / "Inbox"
    shutil.unpack_archive(archive, inbox)
    arguments = {"folder": "Inbox", "label": "Inbox"}
    settings.IMPORT_MAX_TOTAL_BYTES = 1000
    too_big = jobs.job_start(kind=Job.Kind.IMPORT, user=None, arguments=arguments,
                             target="import:folder:Inbox")
    jobs.job_run(too_big.pk)
    too_big.refresh_from_db()
    assert too_big.state == Job.State.FAILED
    assert too_big.error.startswith("Inbox: ") and "import limit of 1000 bytes" in too_big.error
    settings.IMPORT_MAX_TOTAL_BYTES = 10**9
    job = jobs.job_retry(too_big.pk, user=None)  # nothing staged: the folder is read again
    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.result["counts"]["imported"] == 2
    assert not any(Path(settings.SCRATCH_ROOT).iterdir())  # the download is removed
