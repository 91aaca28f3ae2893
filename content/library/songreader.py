"""Reading many songs from storage at once: downloads in threads, chart parsing in processes.

A cold sync of thousands of songs is bound by chart parsing (pure Python, ~10 ms a song), and
threads share one interpreter lock: downloads overlap well in threads, parsing does not, and
eight threads contending for the lock make each parse slower still. So the caller's threads
fetch the song.ini and chart bytes (``wanted_files``), and ``scan_folder_bytes`` runs in a pool
of worker processes. The workers import only ``content.formats`` (no Django) and are started
with ``spawn``: forking a process whose threads hold connections and locks is unsafe. Starting
them costs a few tenths of a second, so small batches are parsed in the calling thread. As
with any ``spawn``, a script that syncs must keep its top-level code under
``if __name__ == "__main__":`` (manage.py, the benchmarks and pytest do): a worker imports the
parent's main module.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from django.conf import settings

from content.formats.scan import FolderScan, scan_folder_bytes, wanted_files
from content.storage.base import Entry, Storage, join

from .songs import song_read

#: Fewer songs than this are parsed in the calling threads (worker start-up would not pay).
MIN_SONGS_FOR_WORKERS = 40
#: The workers' ``gc.set_threshold`` (the default is 2000, 10, 10).
WORKER_GC_THRESHOLDS = (50_000, 20, 20)


def worker_count() -> int:
    """Parsing processes from SYNC_WORKERS: 0 means one per CPU this process may use."""
    configured = settings.SYNC_WORKERS
    if configured > 0:
        return configured
    return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1)


class SongReader:
    """Reads songs for one batch of ``songs`` songs; ``read`` is safe to call from many threads.

    Use as a context manager: leaving it stops the worker processes. With one worker (or a
    small batch) every song is read and parsed in the calling thread, as ``song_read`` does.
    """

    def __init__(self, storage: Storage, *, songs: int):
        self.storage = storage
        workers = worker_count()
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1 and songs >= MIN_SONGS_FOR_WORKERS:
            # Parsing allocates millions of small objects that live until the scan is done,
            # so the default collector thresholds run it over and over for nothing (~12 % of
            # a worker's time). A worker holds no cycles worth collecting often.
            self._pool = ProcessPoolExecutor(max_workers=workers,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=gc.set_threshold,
                                             initargs=WORKER_GC_THRESHOLDS)

    def __enter__(self) -> SongReader:
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def read(self, path: str, files: list[Entry], is_sng: bool) -> FolderScan:
        """The scan of the song at ``path`` (see ``song_read``). Raises StorageError when a
        download fails; BrokenProcessPool if a worker process died."""
        if is_sng or self._pool is None:
            return song_read(storage=self.storage, path=path, files=files, is_sng=is_sng)
        sizes = {e.name: e.size for e in files}
        blobs = {name: self.storage.read(join(path, name)) for name in wanted_files(sizes)}
        return self._pool.submit(scan_folder_bytes, sizes, blobs).result()
