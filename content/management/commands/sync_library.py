"""``python manage.py sync_library [--full] [--dry-run] [--confirm-removals] [--enqueue]``
(cron-safe). ``--enqueue`` puts the sync on the task queue as a job instead of running it here."""
from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from content.library import jobs
from content.library.locks import LockBusy
from content.library.sync import SyncAborted, library_sync
from content.models import Job
from content.storage import library_storage
from content.storage.base import StorageError


class Command(BaseCommand):
    help = ("Bring the database up to date with the song folders in the library: add new songs, "
            "update changed ones, mark removed ones. Incremental and safe to run from cron.")

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true",
                            help="read every song again, ignoring fingerprints and stored ETags")
        parser.add_argument("--dry-run", action="store_true",
                            help="report what would change without writing to the database")
        parser.add_argument("--confirm-removals", action="store_true",
                            help="allow marking more than SYNC_MAX_REMOVED_FRACTION of the songs "
                                 "removed")
        parser.add_argument("--enqueue", action="store_true",
                            help="queue the sync as a job for a task worker "
                                 "(db_worker / rqworker) instead of running it here; prints "
                                 "the job's id")

    def handle(self, *args, full: bool, dry_run: bool, confirm_removals: bool, enqueue: bool,
               **options):
        if enqueue:
            return self._enqueue(full=full, dry_run=dry_run, confirm_removals=confirm_removals)
        storage = library_storage()
        try:
            run = library_sync(storage=storage, full=full, dry_run=dry_run,
                               confirm_removals=confirm_removals)
        except LockBusy as error:
            raise CommandError(f"sync_library not started: {error}") from None
        except (SyncAborted, StorageError) as error:
            raise CommandError(f"sync_library stopped: {error}") from None
        prefix = "dry run, nothing written: " if dry_run else ""
        self.stdout.write(
            f"{prefix}{storage.describe()}: added {run.added}, updated {run.updated}, "
            f"moved {run.moved}, removed {run.removed}, unchanged {run.unchanged}, "
            f"issues {run.issues}, errors {run.errors}, requests {run.requests}, "
            f"downloaded {run.bytes_downloaded} bytes, {run.seconds:.2f} s")
        if run.errors:
            raise CommandError(f"{run.errors} folders or songs could not be read; "
                               "their rows were kept as they were (see the log above)")

    def _enqueue(self, **arguments) -> None:
        try:
            job = jobs.job_start(kind=Job.Kind.SYNC, user=None, arguments=arguments,
                                 target=jobs.SYNC_TARGET)
        except (jobs.JobRefused, jobs.JobQueueError) as error:
            raise CommandError(f"sync_library not queued: {error}") from None
        self.stdout.write(f"sync queued as job #{job.pk} (TASKS_BACKEND={settings.TASKS_BACKEND})")
