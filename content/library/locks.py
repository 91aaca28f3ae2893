"""A lock that makes two runs of the same job (two cron syncs) exclude each other.

PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``), held by the database for
the connection's lifetime, so a killed process releases it. SQLite (a single machine by
nature): an ``flock`` on a file beside the database file, which the kernel releases when the
process dies. Neither waits: a second run is told at once that the lock is taken.
"""
from __future__ import annotations

import fcntl
import os
import hashlib
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from django.db import connections


class LockBusy(Exception):
    """Another process holds the lock; the message says which job."""


def _key(name: str) -> int:
    # Advisory locks take a signed 64-bit key: derive a stable one from the name.
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


@contextmanager
def exclusive_lock(name: str, *, using: str = "default") -> Iterator[None]:
    """Hold the lock ``name`` for the ``with`` block. Raises LockBusy if it is taken."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        key = _key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                raise LockBusy(f"{name} is already running "
                               f"(PostgreSQL advisory lock {key} is held)")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    if connection.is_in_memory_db():
        # An in-memory test database has no file: lock in the temp folder, per process.
        path = Path(tempfile.gettempdir()) / f"chmanager-{os.getpid()}.{name}.lock"
    else:
        path = Path(f"{connection.settings_dict['NAME']}.{name}.lock")
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockBusy(f"{name} is already running (lock file {path} is held)") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
