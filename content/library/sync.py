"""sync_library: make the database match the song folders in the library storage.

The walk goes level by level: every collection of one level is listed concurrently (bounded
by ``storage.concurrency``), song folders are recognised by their files (scan-chart's rule), and
only songs whose listing fingerprint changed are read and parsed, again concurrently. Where
folder ETags propagate (Nextcloud), a collection whose ETag equals the one stored after the
last complete sync is skipped whole: an unchanged library costs one ``PROPFIND Depth: 0``.

Safety rules:
- Stored folder ETags are written only after everything below them was processed without
  error, so an interrupted or partly failed sync rescans next time rather than skips.
- Songs under a collection that could not be listed are kept as they are.
- A changed server data fingerprint (Nextcloud's ``oc:data-fingerprint``, read in the same
  ``PROPFIND Depth: 0`` of the sync folder; an admin changes it after restoring a backup)
  makes the run a full one: restored files can carry the very ETags we stored, and file ids
  can be handed out again, so neither is trusted: every song is read again and rows are
  matched by path only. Removals then rest on the complete listing, never on a stale ETag
  (reliability.md S7; the Nextcloud desktop client's "restore from backup" handling).
- Rows are never deleted: a vanished song gets ``removed_at``. When more than
  ``SYNC_MAX_REMOVED_FRACTION`` of the library would be marked removed, nothing is marked and
  the run stops with an error unless ``confirm_removals`` (an empty listing is likelier a
  fault than a deleted library; rclone bisync's ``--max-delete``).
- One run at a time: the whole run holds the ``sync_library`` lock (locks.py).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from loguru import logger

from content.formats.scan import FolderScan, is_song_folder, skip_dir
from content.models import LibraryFolder, Song, SyncRun
from content.storage.base import (STAGING_FOLDER, AuthenticationFailed, Entry, Storage,
                                  StorageError)

from .locks import exclusive_lock
from .searchwords import search_words_refresh
from .songreader import SongReader
from .songs import SongRecord, fingerprint, song_records

Progress = Callable[[int, int, str], None]
#: Songs written to the database per transaction (a few queries per batch, not per song).
RECORD_BATCH = 100


class SyncAborted(Exception):
    """The sync stopped without marking songs removed; the message says why and what to do."""


def _under(path: str, prefix: str) -> bool:
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def _under_any(path: str, prefixes: set[str]) -> bool:
    """``_under(path, p)`` for some ``p`` in ``prefixes``, by looking up ``path`` and its
    ancestors: O(depth) instead of O(len(prefixes)), which matters with thousands of songs and
    thousands of skipped folders."""
    while True:
        if path in prefixes:
            return True
        if not path:
            return False
        path = path.rpartition("/")[0]


def _with_ancestors(paths: list[str]) -> set[str]:
    """Every path in ``paths`` and each of its ancestors, the root ``""`` included."""
    found = {""}
    for path in paths:
        while path and path not in found:
            found.add(path)
            path = path.rpartition("/")[0]
    return found


@dataclass
class _Pending:
    """A song that must be read: where it is, what the listing said, and its row if known."""

    path: str
    folder: Entry
    files: list[Entry]
    is_sng: bool
    song: Song | None
    moved: bool


@dataclass
class _Walk:
    seen: set[str] = field(default_factory=set)            # song paths present now
    skipped: list[str] = field(default_factory=list)        # unchanged subtrees, not listed
    failed: list[str] = field(default_factory=list)         # collections or songs we could not
                                                            # read
    folders: dict[str, Entry] = field(default_factory=dict)  # listed non-song collections
    pending: list[_Pending] = field(default_factory=list)


class LibrarySync:
    """One run. Use ``library_sync()``; this class only keeps the run's state together."""

    def __init__(self, *, storage: Storage, folder: str, full: bool, dry_run: bool,
                 confirm_removals: bool, progress: Progress | None):
        self.storage = storage
        self.folder = folder
        self.full = full
        self.dry_run = dry_run
        self.confirm_removals = confirm_removals
        self.progress = progress or (lambda current, total, message: None)
        self.run = SyncRun(storage=storage.describe(), full=full, dry_run=dry_run)
        self.trust_fileids = True  # False after a backup restore: ids may have been reused
        self.walk = _Walk()
        self.songs_by_path: dict[str, Song] = {}
        self.songs_by_fileid: dict[str, Song] = {}
        self.folder_etags: dict[str, str] = {}
        self.moved: set[int] = set()  # pks of songs found at a new path by their fileid

    # --- the run --------------------------------------------------------------------------
    def execute(self) -> SyncRun:
        started = time.monotonic()
        requests_before = getattr(self.storage, "requests_made", 0)
        bytes_before = getattr(self.storage, "bytes_downloaded", 0)
        try:
            root = self.storage.stat(self.folder)
            stored_root, stored_fingerprint = (
                LibraryFolder.objects.filter(path=self.folder)
                .values_list("etag", "data_fingerprint").first() or (None, None))
            if stored_root is not None and stored_fingerprint != (root.data_fingerprint or ""):
                self._restored(stored_fingerprint, root.data_fingerprint or "")
            use_etags = self.storage.propagates_folder_etags and not self.full
            if use_etags and root.etag and stored_root == root.etag:
                self.run.unchanged = self._present_songs().count()
            else:
                self._load_known()
                # Without stored ETags to prune by (first sync, --full, plain WebDAV), every
                # collection would be listed: one deep listing is far cheaper where there is one.
                self._walk(root, use_etags, deep=not use_etags or stored_root is None)
                skipped = set(self.walk.skipped)
                self.run.unchanged += sum(
                    1 for path, song in self.songs_by_path.items()
                    if song.removed_at is None and _under_any(path, skipped))
                self._read_changed()
                self._mark_removed()
                if not self.dry_run:
                    self._save_folder_etags(root)
                    if self.run.added or self.run.updated or self.run.moved or self.run.removed:
                        search_words_refresh()
        except (StorageError, SyncAborted) as error:
            self.run.error = str(error)
            raise
        finally:
            self.run.seconds = round(time.monotonic() - started, 3)
            self.run.requests = getattr(self.storage, "requests_made", 0) - requests_before
            self.run.bytes_downloaded = getattr(self.storage, "bytes_downloaded", 0) - bytes_before
            self.run.errors = len(self.walk.failed)
            self.run.finished_at = timezone.now()
            self.run.save()
        return self.run

    def _restored(self, before: str, now: str) -> None:
        logger.warning("the server's data fingerprint changed ({!r} → {!r}): a backup was "
                       "restored, so stored ETags and file ids are not trusted; reading every "
                       "song again", before, now)
        self.full = self.run.full = True
        self.trust_fileids = False

    def _present_songs(self):
        songs = Song.objects.present()
        return songs.filter(path__startswith=f"{self.folder}/") if self.folder else songs

    def _load_known(self) -> None:
        # One query for the whole library: the walk then decides per folder from memory.
        for song in Song.objects.only("id", "path", "fileid", "fingerprint", "etag", "removed_at"):
            self.songs_by_path[song.path] = song
            if song.fileid:
                self.songs_by_fileid[song.fileid] = song
        self.folder_etags = dict(LibraryFolder.objects.values_list("path", "etag"))

    # --- walking ---------------------------------------------------------------------------
    def _walk(self, root: Entry, use_etags: bool, *, deep: bool) -> None:
        tree = self._deep_listing() if deep else None
        list_children = self.storage.list if tree is None else (lambda path: tree.get(path, []))
        level = [root]
        with ThreadPoolExecutor(max_workers=self.storage.concurrency) as pool:
            while level:
                listings = {entry.path: pool.submit(list_children, entry.path) for entry in level}
                following: list[Entry] = []
                for entry in level:
                    try:
                        children = listings[entry.path].result()
                    except AuthenticationFailed:
                        raise
                    except StorageError as error:
                        logger.warning("cannot list {}: {}", entry.path or "/", error)
                        self.walk.failed.append(entry.path)
                        continue
                    following.extend(self._classify(entry, children, use_etags))
                self.progress(len(self.walk.seen), 0, f"listed {len(level)} folders")
                level = following

    def _deep_listing(self) -> dict[str, list[Entry]] | None:
        """Everything below the sync folder from one request, as collection path → children
        sorted by name (what ``list`` returns); None when the storage has no deep listing or
        it failed (then each collection is listed). Raises AuthenticationFailed."""
        try:
            tree = self.storage.list_tree(self.folder)
        except AuthenticationFailed:
            raise
        except StorageError as error:
            logger.warning("deep listing of {} failed ({}); listing folder by folder",
                           self.folder or "/", error)
            return None
        if tree is None:
            return None
        children: dict[str, list[Entry]] = {}
        for entry in sorted(tree, key=lambda e: e.name):
            children.setdefault(entry.path.rpartition("/")[0], []).append(entry)
        return children

    def _classify(self, folder: Entry, children: list[Entry], use_etags: bool) -> list[Entry]:
        """Handle one listed collection; return the sub-collections still to list."""
        files = [c for c in children if not c.is_dir]
        if folder.path != self.folder and is_song_folder([f.name for f in files]):
            self._song_found(folder.path, folder, files, is_sng=False)
            return []  # nothing below a song folder is searched (scan-chart, Bridge)
        self.walk.folders[folder.path] = folder
        for entry in files:
            if entry.name.lower().endswith(".sng"):
                self._song_found(entry.path, entry, [entry], is_sng=True)
        descend = []
        for entry in children:
            if not entry.is_dir or skip_dir(entry.name) or entry.name == STAGING_FOLDER:
                continue
            if use_etags and entry.etag and self._unchanged_subtree(entry):
                continue
            descend.append(entry)
        return descend

    def _unchanged_subtree(self, entry: Entry) -> bool:
        """True (and the subtree counted as seen) when the collection's ETag is unchanged."""
        song = self.songs_by_path.get(entry.path)
        if song is not None and song.removed_at is None and song.etag == entry.etag:
            self.walk.seen.add(entry.path)
            self.run.unchanged += 1
            return True
        if song is None and self.folder_etags.get(entry.path) == entry.etag:
            self.walk.skipped.append(entry.path)
            return True
        return False

    def _song_found(self, path: str, folder: Entry, files: list[Entry], *, is_sng: bool) -> None:
        self.walk.seen.add(path)
        song = self.songs_by_path.get(path)
        moved = False
        if song is None and folder.fileid and self.trust_fileids:
            song = self.songs_by_fileid.get(folder.fileid)
            moved = song is not None and song.path != path
            if moved:
                self.moved.add(song.pk)
        if (song is not None and not self.full and song.removed_at is None
                and song.fingerprint == fingerprint(files)):
            if moved:
                self.run.moved += 1
                if not self.dry_run:
                    Song.objects.filter(pk=song.pk).update(path=path, etag=folder.etag or "")
            else:
                self.run.unchanged += 1
                if song.etag != (folder.etag or "") and not self.dry_run:
                    Song.objects.filter(pk=song.pk).update(etag=folder.etag or "")
            return
        self.walk.pending.append(_Pending(path, folder, files, is_sng, song, moved))

    # --- reading what changed ----------------------------------------------------------------
    def _read_changed(self) -> None:
        pending = self.walk.pending
        total = len(pending)
        with (SongReader(self.storage, songs=total) as reader,
              ThreadPoolExecutor(max_workers=self.storage.concurrency) as pool):
            futures: list[tuple[_Pending, Future]] = [
                (p, pool.submit(reader.read, p.path, p.files, p.is_sng)) for p in pending]
            batch: list[tuple[_Pending, FolderScan]] = []
            for done, (item, future) in enumerate(futures, start=1):
                try:
                    scan = future.result()
                except AuthenticationFailed:
                    raise
                except StorageError as error:
                    logger.warning("cannot read song {}: {}", item.path, error)
                    self.walk.failed.append(item.path)
                    continue
                self._count(item, scan)
                batch.append((item, scan))
                if len(batch) >= RECORD_BATCH:
                    self._record(batch)
                    batch = []
                self.progress(done, total, item.path)
            self._record(batch)

    def _count(self, item: _Pending, scan: FolderScan) -> None:
        self.run.issues += len(scan.issues)
        if item.song is None:
            self.run.added += 1
        elif item.moved:
            self.run.moved += 1
        else:
            self.run.updated += 1
        logger.debug("{} {}", "added" if item.song is None else "updated", item.path)

    def _record(self, batch: list[tuple[_Pending, FolderScan]]) -> None:
        if self.dry_run or not batch:
            return
        # Fresh rows: the ones loaded for the walk hold only the columns it compares.
        rows = Song.objects.in_bulk([item.song.pk for item, _ in batch if item.song])
        records = []
        for item, scan in batch:
            song = rows[item.song.pk] if item.song else Song()
            song.path = item.path
            records.append(SongRecord(song, scan, item.files, item.folder, item.is_sng))
        song_records(records)

    # --- removals and folder ETags --------------------------------------------------------------
    def _mark_removed(self) -> None:
        kept = set(self.walk.skipped + self.walk.failed)
        present = [p for p, s in self.songs_by_path.items()
                   if s.removed_at is None and _under(p, self.folder)]
        gone = [p for p in present
                if p not in self.walk.seen and not _under_any(p, kept)
                and self.songs_by_path[p].pk not in self.moved]
        limit = settings.SYNC_MAX_REMOVED_FRACTION
        if (gone and len(present) >= 10 and len(gone) > limit * len(present)
                and not self.confirm_removals):
            raise SyncAborted(
                f"{len(gone)} of {len(present)} songs would be marked removed (more than "
                f"{limit:.0%}); nothing was marked. If they really were deleted, run "
                "sync_library --confirm-removals.")
        self.run.removed = len(gone)
        if gone and not self.dry_run:
            for start in range(0, len(gone), 1000):
                Song.objects.filter(path__in=gone[start:start + 1000], removed_at__isnull=True
                                    ).update(removed_at=timezone.now())

    @transaction.atomic
    def _save_folder_etags(self, root: Entry) -> None:
        broken = self.walk.failed
        # A collection is up to date only if nothing below it failed. Each ETag is stored with
        # the data fingerprint it was seen under: the sync folder's row (``root``) then tells
        # the next run whether a restore happened since, and after a failure below it the old
        # fingerprint stays, so the next run is full again.
        above_failures = _with_ancestors(broken) if broken else set()
        data_fingerprint = root.data_fingerprint or ""
        LibraryFolder.objects.bulk_create(
            [LibraryFolder(path=path, etag=entry.etag, fileid=entry.fileid or "",
                           data_fingerprint=data_fingerprint)
             for path, entry in self.walk.folders.items()
             if entry.etag and path not in above_failures],
            update_conflicts=True, unique_fields=["path"],
            update_fields=["etag", "fileid", "data_fingerprint"], batch_size=1000)
        if not broken:
            listed = set(self.walk.folders)
            skipped = set(self.walk.skipped)
            stale = [p for p in self.folder_etags
                     if p not in listed and _under(p, self.folder) and not _under_any(p, skipped)]
            LibraryFolder.objects.filter(path__in=stale).delete()


def library_sync(*, storage: Storage, folder: str | None = None, full: bool = False,
                 dry_run: bool = False, confirm_removals: bool = False,
                 progress: Progress | None = None) -> SyncRun:
    """Run one sync of ``storage`` into the database and return its SyncRun record.

    folder: the library-relative folder to scan (default ``settings.SYNC_FOLDER``: the whole
    local library, or the Songs folder on Nextcloud, whose root also holds backgrounds,
    colors and highways); songs outside it are left alone.
    full: read every song again, ignoring fingerprints and stored ETags.
    dry_run: read and count, write nothing to the database.
    progress: called as ``progress(current, total, message)``; total is 0 while walking.
    Raises LockBusy if another sync holds the lock, SyncAborted for a refused mass removal,
    StorageError (e.g. authentication failed) when the storage cannot be read at all.
    """
    with exclusive_lock("sync_library"):
        folder = settings.SYNC_FOLDER if folder is None else folder
        return LibrarySync(storage=storage, folder=folder.strip("/"), full=full, dry_run=dry_run,
                           confirm_removals=confirm_removals, progress=progress).execute()
