"""Shared test set-up: where the read-only fixtures live (../shared/fixtures beside the repo)."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = (REPO / ".." / "shared" / "fixtures").resolve()

if not FIXTURES.is_dir():
    raise pytest.UsageError(
        f"test fixtures not found at {FIXTURES}: the shared/ folder must sit beside the repo root"
    )


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The read-only fixture folder (charts, onyx songs, hostile archives)."""
    return FIXTURES


# --- Task backends (settings.TASKS) for the tests that start jobs ----------------------------

@pytest.fixture
def immediate_tasks(settings):
    """Enqueued tasks run at once, in the enqueuing thread (django.tasks' ImmediateBackend):
    a job started in a request has ended when the response comes back. Enqueueing waits for
    the transaction's commit, so use it with transactional tests."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def held_tasks(settings):
    """Enqueued tasks are kept, never run (DummyBackend): the returned function lists the job
    ids enqueued so far."""
    from django.tasks import default_task_backend

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    return lambda: [result.args[0] for result in default_task_backend.results]


@pytest.fixture
def thread_tasks(settings):
    """Each enqueued task runs in its own thread (tests.taskbackends.ThreadBackend); yields the
    threads started, joined when the test ends so none outlives its database."""
    from tests.taskbackends import ThreadBackend

    settings.TASKS = {"default": {"BACKEND": "tests.taskbackends.ThreadBackend"}}
    ThreadBackend.threads.clear()
    yield ThreadBackend.threads
    for thread in ThreadBackend.threads:
        thread.join(timeout=60)
