"""The one interface every library storage implements.

Paths are library-relative, ``/``-separated, without a leading slash (``"Songs/Artist/Name"``);
``""`` is the library root. Sizes are bytes, ``mtime`` is seconds since the epoch (UTC).
The scanner, importer and editor talk only to this interface, so the local folder (the embedded
default) and Nextcloud over WebDAV are interchangeable.
"""
from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from loguru import logger

STAGING_FOLDER = ".chmanager-staging"

# Who is staging in this context: the job runner sets "job<id>-". A worker killed mid-publish
# cannot remove its own staging entries; named after the job, the dead job's clean-up can
# (``Storage.staging_remove``). The importer names its local work folders the same way.
staging_owner: ContextVar[str] = ContextVar("staging_owner", default="")


def staging_name(suffix: str = "") -> str:
    """A new, unique name for a staging entry (or a local work folder): the current
    ``staging_owner``, a random hex id, then ``suffix``."""
    return f"{staging_owner.get()}{uuid.uuid4().hex}{suffix}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One file or collection (folder) as a listing reports it.

    etag: the server's ETag with quotes and ``W/`` stripped, or a value derived from size and
    mtime for storages without ETags. fileid: a stable id that survives MOVE (Nextcloud's
    ``oc:fileid``), ``None`` where the storage has none. data_fingerprint: only from ``stat``,
    the server's data fingerprint (Nextcloud's ``oc:data-fingerprint``, which an admin changes
    after restoring a backup: ETags and file ids seen before it changed may no longer describe
    the files); ``None`` where the storage has none or leaves it unset.
    """

    path: str
    name: str
    is_dir: bool
    size: int
    mtime: float
    etag: str | None = None
    fileid: str | None = None
    data_fingerprint: str | None = None


class StorageError(Exception):
    """A storage operation failed; the message names the path and the reason."""


class NotFound(StorageError):
    """The path does not exist."""


class InsufficientStorage(StorageError):
    """The storage is out of space: a full disk or quota (WebDAV's HTTP 507)."""


class AlreadyExists(StorageError):
    """The destination of a write, mkdir or move already exists."""


class AuthenticationFailed(StorageError):
    """The storage refused our credentials. It stops a whole run at once: retrying or going
    on with other folders would only repeat the refusal (and Nextcloud's brute-force
    protection then locks out the whole IP)."""


class PreconditionFailed(StorageError):
    """An ``if_match`` ETag no longer matches: someone changed the file since it was read."""


def join(*parts: str) -> str:
    """Join library-relative path parts with ``/``, dropping empty parts."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def parent(path: str) -> str:
    """The library-relative path of ``path``'s parent collection (``""`` for the root's
    children)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


class Storage(ABC):
    """A tree of song folders. Implementations must be safe to share between threads."""

    #: True when a collection's ETag changes whenever anything below it changes (Nextcloud),
    #: so an unchanged ETag lets a sync skip the whole subtree.
    propagates_folder_etags: bool = False
    #: How many requests a sync may have under way at once (listings and song reads).
    concurrency: int = 4

    @abstractmethod
    def describe(self) -> str:
        """A short human description, e.g. ``local folder /srv/library``."""

    @abstractmethod
    def stat(self, path: str) -> Entry:
        """The entry at ``path``. Raises NotFound."""

    @abstractmethod
    def list(self, path: str) -> list[Entry]:
        """The direct children of the collection ``path``. Raises NotFound."""

    def list_tree(self, path: str) -> list[Entry] | None:
        """Every entry below the collection ``path`` (not ``path`` itself) from one request,
        or None where the storage cannot list a whole tree at once (then walk with ``list``).
        Raises NotFound, StorageError."""
        return None

    @abstractmethod
    def read(self, path: str) -> bytes:
        """A whole file's bytes (song.ini and charts: small). Raises NotFound."""

    @abstractmethod
    def read_range(self, path: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end of the file). Raises NotFound."""

    @abstractmethod
    def open(self, path: str) -> BinaryIO:
        """A binary stream of the file, for large files (audio previews). Raises NotFound."""

    @abstractmethod
    def write(self, path: str, data: bytes | BinaryIO, *, if_match: str | None = None,
              mtime: float | None = None) -> Entry:
        """Create or replace a file, atomically for readers, and return its new entry.

        ``data`` is bytes or a binary stream read in chunks. With ``if_match``, the write happens
        only if the current ETag equals it, else PreconditionFailed and nothing changes.
        ``mtime`` sets the file's modification time (seconds since the epoch).
        """

    @abstractmethod
    def mkdir(self, path: str) -> None:
        """Create a collection and any missing parents; an existing one is fine."""

    @abstractmethod
    def move(self, src: str, dst: str) -> None:
        """Move a file or collection. Never overwrites: raises AlreadyExists if ``dst`` exists."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete a file or a whole collection; a missing path is not an error."""

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except NotFound:
            return False
        return True

    def publish_folder(self, source: Path, dest: str) -> None:
        """Copy the local folder ``source`` to ``dest`` so that it appears whole or not at all.

        The files go to a staging collection first, then one move puts them in place. On any
        failure the staging collection is removed and ``dest`` is untouched. Raises
        AlreadyExists if ``dest`` exists, StorageError for the rest.
        """
        staging = join(STAGING_FOLDER, staging_name())
        try:
            self._upload_tree(source, staging)
            self.mkdir(parent(dest))
            self.move(staging, dest)
        except BaseException:
            logger.warning("publishing {} to {} failed; removing staging {}", source, dest,
                           staging)
            self.delete(staging)
            raise

    def staging_remove(self, owner: str) -> int:
        """Delete the staging entries whose names start with ``owner`` (``"job<id>-"``: what a
        killed job left half-uploaded). Returns how many were deleted. Raises StorageError."""
        if not owner:
            raise ValueError("staging_remove needs an owner; it never empties the whole staging")
        try:
            entries = self.list(STAGING_FOLDER)
        except NotFound:
            return 0
        leftovers = [entry for entry in entries if entry.name.startswith(owner)]
        for entry in leftovers:
            self.delete(entry.path)
        return len(leftovers)

    def publish_file(self, source: Path, dest: str) -> None:
        """Copy the local file ``source`` (a ``.sng``) to ``dest`` whole or not at all, by the
        same stage-then-move rule as publish_folder. Raises AlreadyExists, StorageError."""
        staging = join(STAGING_FOLDER, staging_name("-" + source.name))
        try:
            self.mkdir(STAGING_FOLDER)
            with source.open("rb") as stream:
                self.write(staging, stream, mtime=source.stat().st_mtime)
            self.mkdir(parent(dest))
            self.move(staging, dest)
        except BaseException:
            logger.warning("publishing {} to {} failed; removing staging {}", source, dest,
                           staging)
            self.delete(staging)
            raise

    def _upload_tree(self, source: Path, dest: str) -> None:
        self.mkdir(dest)
        for item in sorted(source.iterdir()):
            target = join(dest, item.name)
            if item.is_dir():
                self._upload_tree(item, target)
            else:
                with item.open("rb") as stream:
                    self.write(target, stream, mtime=item.stat().st_mtime)

    def walk_files(self, path: str) -> Iterator[Entry]:
        """Every file below ``path``, depth first (used by tests and small trees)."""
        for entry in self.list(path):
            if entry.is_dir:
                yield from self.walk_files(entry.path)
            else:
                yield entry
