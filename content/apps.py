import sys

from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Song library"

    def ready(self):
        from content.library import jobs

        # A task worker checks for jobs of dead workers from its start, not only when it
        # happens to run a job.
        if sys.argv[1:2] and sys.argv[1] in jobs.WORKER_COMMANDS:
            jobs.watchdog_start()
