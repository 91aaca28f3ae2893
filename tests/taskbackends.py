"""A django.tasks backend for tests that act on a job while it runs: ImmediateBackend, but
each task in a new thread beside the test (a worker in the same process)."""
from __future__ import annotations

import threading

from django.db import connections
from django.tasks.backends.immediate import ImmediateBackend


class ThreadBackend(ImmediateBackend):
    # Every thread started, so the test's fixture can join them before the database goes.
    threads: list[threading.Thread] = []

    def _execute_task(self, task_result):
        def run():
            try:
                super(ThreadBackend, self)._execute_task(task_result)
            finally:
                connections.close_all()  # Django closes only request threads' connections

        thread = threading.Thread(target=run, name=f"task-{task_result.id}", daemon=True)
        self.threads.append(thread)
        thread.start()
