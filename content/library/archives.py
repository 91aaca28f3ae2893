"""Safe extraction of uploaded song archives (zip, 7z, rar) and plain folders into staging.

An uploaded archive is hostile input. The rules below follow reliability.md §1.3 (how zipfile,
py7zr, rarfile and their tools fail), §1.6 (limits) and §1.7 (the extraction pipeline):

1. Detect the type by magic bytes; the file name's extension is only a cross-check
   (:func:`detect_kind`). A ``.sng`` (``SNGPKG``) is a song, not an archive: it is named so the
   caller can route it, never extracted here.
2. List the whole archive first and refuse the WHOLE archive, before anything is written, if any
   entry is a link (symbolic, hard, junction), a device, FIFO or socket, encrypted, part of a
   multi-volume set, stored with an unsupported method, has an unsafe name (see
   :func:`_entry_parts`), collides with another entry after NFC + casefold, or if the entry count
   or the declared sizes are over the caps (:class:`ArchiveLimits`).
3. Extract member by member, each to a path WE compute under ``dest`` (never the libraries'
   extract-all, never their sanitised names): directories are opened with ``O_NOFOLLOW`` one
   component at a time from a descriptor of ``dest``, files are created with
   ``O_CREAT | O_EXCL | O_NOFOLLOW``. Every byte goes through a counting writer charged against
   a per-entry cap and one global budget of bytes actually written, so a bomb whose headers lie
   stops at the cap (checked before each write: at most ``cap`` bytes ever reach the disk).
4. On any failure, everything this call wrote under ``dest`` is removed again and an
   :class:`ArchiveError` says which archive, which entry and why.

Skipped, not refused: entries under a ``__MACOSX`` folder and dot files or dot folders (any path
component starting with ``.``: ``.DS_Store``, ``._song.ini``, ``.git/``). They are still checked
like every other entry (a hostile name, a link or an encrypted entry refuses the archive) but are
never written; their names are returned in :attr:`ExtractionResult.skipped`.

Nested archives are NOT extracted: an ``inner.zip`` inside an upload is written as an ordinary
file. A song pack never needs a second level, and one level keeps the byte budget simple.

Libraries and backends:

- zip: :mod:`zipfile` (CPython >= 3.12.2 raises "Overlapped entries" for Fifield's overlapping
  bomb, CVE-2024-0450; that becomes an :class:`ArchiveError`).
- 7z: py7zr, streamed through ``extract(factory=...)`` into our counting writer with
  ``max_extract_size`` set to the same byte budget (py7zr >= 1.1.3, CVE-2026-55195).
- rar: rarfile parses the headers in Python and runs an external tool for the data. This module
  configures rarfile explicitly to use **unar** only (``rarfile.tool_setup(unrar=False, unar=True,
  bsdtar=False, sevenzip=False, sevenzip2=False, force=True)``). Why: with Debian 12's
  ``bsdtar`` (libarchive 3.6.2) ``rar5-solid.rar`` and ``rar5-hlink.rar`` fail ("Failed the read
  enough data", fixtures/README.md); ``unrar`` is non-free; 7-Zip < 25.00 has a RAR5 heap write
  (CVE-2025-53816). unar's own flaw (it follows symlinks out of the destination, unblob#179)
  cannot bite: rarfile runs it as ``unar -o -`` (data to stdout, nothing written to disk), links
  are refused before it runs, and we write the bytes ourselves. Note: ``tool_setup`` is global
  to the rarfile module, so this choice applies to every rarfile user in the process.

No Django in here: the caller passes the limits (settings wiring lives in imports.py). Time and
memory caps (wall clock 300 s, RLIMIT_AS ~1 GiB, §1.6) belong to the process that calls this.
"""
from __future__ import annotations

import enum
import errno
import io
import lzma
import os
import re
import stat
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, BinaryIO

import py7zr
import py7zr.exceptions
import py7zr.helpers
import py7zr.io
import rarfile

__all__ = [
    "DEFAULT_LIMITS",
    "ArchiveError",
    "ArchiveKind",
    "ArchiveLimitError",
    "ArchiveLimits",
    "ExtractionResult",
    "copy_folder",
    "detect_kind",
    "extract_archive",
]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# Read and write in 1 MiB pieces: small enough that a bomb is caught within 1 MiB of the cap
# and memory stays flat, large enough that a real 500 MB pack is not slowed down by syscalls.
_CHUNK = 1 * MiB


class ArchiveKind(enum.StrEnum):
    """What a file is, from its magic bytes. Values compare equal to plain strings ("zip")."""

    ZIP = "zip"
    SEVEN_ZIP = "7z"
    RAR = "rar"
    SNG = "sng"  # a song package: import it as a song, not through extract_archive()


# reliability.md §1.7 step 1. "PK\x05\x06" is the end record an empty zip starts with.
_MAGIC: tuple[tuple[bytes, ArchiveKind], ...] = (
    (b"PK\x03\x04", ArchiveKind.ZIP),
    (b"PK\x05\x06", ArchiveKind.ZIP),
    (b"7z\xbc\xaf\x27\x1c", ArchiveKind.SEVEN_ZIP),
    (b"Rar!\x1a\x07", ArchiveKind.RAR),  # RAR 1.5-4 ("...\x00") and RAR 5 ("...\x01\x00")
    (b"SNGPKG", ArchiveKind.SNG),
)
# A spanned/split zip's first part starts with the data-descriptor signature.
_SPANNED_ZIP = b"PK\x07\x08"
_EXTENSIONS = {".zip": ArchiveKind.ZIP, ".7z": ArchiveKind.SEVEN_ZIP, ".rar": ArchiveKind.RAR,
               ".sng": ArchiveKind.SNG}


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """Caps for one archive or folder. All sizes in bytes. Defaults: reliability.md §1.6.

    max_entries: entries listed (files, folders and skipped entries all count).
    max_total_bytes: bytes written for the whole archive; see :meth:`total_cap` for the ratio
        rule that lowers it for small archives.
    max_entry_bytes: bytes of one entry (the largest real files are videos).
    max_depth: path components of an entry, file name included (``a/b/c.ogg`` is 3).
    max_component_bytes / max_path_bytes: UTF-8 length of one component / of the whole
        ``/``-joined path.
    total_ratio / total_allowance_bytes: unpacked total <= ratio x archive size + allowance;
        ``total_ratio=None`` turns the ratio rule off (folders never use it: nothing is
        compressed there).
    """

    max_entries: int = 10_000
    max_total_bytes: int = 8 * GiB
    max_entry_bytes: int = 1 * GiB
    max_depth: int = 8
    max_component_bytes: int = 255
    max_path_bytes: int = 1024
    total_ratio: int | None = 4
    total_allowance_bytes: int = 256 * MiB

    def __post_init__(self) -> None:
        for name in ("max_entries", "max_total_bytes", "max_entry_bytes", "max_depth",
                     "max_component_bytes", "max_path_bytes", "total_allowance_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"ArchiveLimits.{name} must be a non-negative int, got {value!r}")
        if self.total_ratio is not None and (not isinstance(self.total_ratio, int)
                                             or self.total_ratio < 1):
            raise ValueError(
                f"ArchiveLimits.total_ratio must be None or an int >= 1, got {self.total_ratio!r}")

    def total_cap(self, compressed_bytes: int | None) -> int:
        """Byte budget for an archive of ``compressed_bytes``: min(max_total_bytes,
        ratio x compressed + allowance) (§1.6: real packs are audio and video, already
        compressed, so their ratio is about 1-2). ``None`` (a folder) gives max_total_bytes."""
        if compressed_bytes is None or self.total_ratio is None:
            return self.max_total_bytes
        return min(self.max_total_bytes,
                   self.total_ratio * compressed_bytes + self.total_allowance_bytes)


DEFAULT_LIMITS = ArchiveLimits()


class ArchiveError(Exception):
    """An archive or folder was refused or could not be extracted; nothing of it is left in dest.

    ``str(error)`` is a sentence for people: ``"<archive file>: entry '<name>': <reason>"`` (or
    ``"<archive file>: <reason>"`` when no single entry is to blame). ``archive``, ``entry`` and
    ``reason`` hold the parts; a plain ``ArchiveError("message")`` is allowed too (callers use
    it for their own follow-up checks).
    """

    def __init__(self, message: str, *, archive: str | None = None, entry: str | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.archive = archive
        self.entry = entry
        self.reason = reason if reason is not None else message


class ArchiveLimitError(ArchiveError):
    """A cap was hit. ``limit``: the cap in bytes (or entries); ``written``: bytes this call had
    written when it stopped (always <= the byte cap: the budget is checked before each write)."""

    def __init__(self, message: str, *, limit: int, written: int = 0, **parts: Any) -> None:
        super().__init__(message, **parts)
        self.limit = limit
        self.written = written


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    """What :func:`extract_archive` / :func:`copy_folder` wrote.

    kind: the archive type, ``None`` for a folder.
    files: every file written, as absolute paths under dest, in archive (listing) order.
    skipped: names of entries not written on purpose (``__MACOSX``, dot files), as the archive
        spells them.
    bytes_written: total bytes written.
    """

    kind: ArchiveKind | None
    files: tuple[Path, ...]
    skipped: tuple[str, ...]
    bytes_written: int


# --------------------------------------------------------------------------------------------
# Type detection


def detect_kind(path: Path, *, name: str | None = None) -> ArchiveKind:
    """The kind of the file at ``path``, from its first bytes.

    name: the file name to show and to cross-check the extension with (an upload's original name
    when ``path`` is a temporary file); defaults to ``path.name``.
    Raises ArchiveError when the content is none of zip / 7z / rar / sng, is empty, is a part of
    a spanned zip, or when a known extension (.zip .7z .rar .sng) disagrees with the content
    (a renamed file is refused rather than guessed at: the message says what it really is).
    OSError if the file cannot be read.
    """
    label = name or Path(path).name
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        raise _error(label, "is empty")
    kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
    if kind is None:
        if head.startswith(_SPANNED_ZIP):
            raise _error(label, "multi-volume archive: this is one part of a split (spanned) zip; "
                                "upload the songs as a single archive")
        raise _error(label, "is not a zip, 7z or rar archive nor a .sng song "
                            "(unrecognised content)")
    extension = PurePath(label).suffix.lower()
    expected = _EXTENSIONS.get(extension)
    if expected is not None and expected is not kind:
        raise _error(label, f"is named {extension} but its content is a {kind.value} file; "
                            f"rename it to .{kind.value}")
    return kind


# --------------------------------------------------------------------------------------------
# Public entry points


def extract_archive(path: Path, dest: Path, limits: ArchiveLimits = DEFAULT_LIMITS, *,
                    name: str | None = None) -> ExtractionResult:
    """Extract the zip / 7z / rar archive at ``path`` into the staging folder ``dest``.

    dest: a fresh staging folder. It is created if missing (its parent must exist); if it exists
        it must be an empty directory and not a symbolic link, else ValueError (a caller bug).
        On failure ``dest`` is left as it was given (empty, or absent again).
    limits: caps, see :class:`ArchiveLimits`; the byte budget is
        ``limits.total_cap(size of the archive file)``.
    name: the file name to show in messages (an upload's original name); default ``path.name``.

    Returns an :class:`ExtractionResult`. Files are written with mode 0644 and folders 0755 (the
    archive's permissions and times are not kept: nothing in a song needs them).
    Raises :class:`ArchiveError` (:class:`ArchiveLimitError` for caps) for every refusal or
    failure, including a ``.sng`` file (detect_kind() first and route it) and damaged archives.
    """
    path = Path(path)
    label = name or path.name
    kind = detect_kind(path, name=name)
    if kind is ArchiveKind.SNG:
        raise _error(label, "is a .sng song file, not an archive: import it as a song")
    job = _Job(label, limits, limits.total_cap(path.stat().st_size))
    extractor = {ArchiveKind.ZIP: _extract_zip, ArchiveKind.SEVEN_ZIP: _extract_7z,
                 ArchiveKind.RAR: _extract_rar}[kind]
    return job.run(dest, kind, lambda: extractor(job, path))


def copy_folder(src: Path, dest: Path, limits: ArchiveLimits = DEFAULT_LIMITS, *,
                name: str | None = None) -> ExtractionResult:
    """Copy the folder ``src`` (an import from disk) into the staging folder ``dest``.

    Same rules as an archive (names, collisions, skips, caps with ``limits.total_cap(None)`` =
    ``max_total_bytes``), and links are refused the same way: a symbolic link anywhere (``src``
    itself included: resolve it first if you trust it), a hard-linked file (a regular file with
    more than one name could expose a file from outside the folder, e.g. one planted in a shared
    drop folder), devices, FIFOs and sockets refuse the whole folder. Skipped dot folders are not
    walked. Files are opened with ``O_NOFOLLOW`` relative to their folder's descriptor and
    re-checked after opening, so a swap during the copy is noticed.

    Returns :class:`ExtractionResult` with ``kind=None``. Raises :class:`ArchiveError` naming the
    folder, ValueError for a bad ``dest`` (see :func:`extract_archive`).
    """
    src = Path(src)
    label = name or src.name
    try:
        root = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        # O_DIRECTORY|O_NOFOLLOW on a link fails with ENOTDIR or ELOOP; say which it was.
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(src):
            raise _error(label, "is a symbolic link (links are never followed)") from exc
        raise _error(label, f"cannot be opened as a folder ({exc.strerror})") from exc
    job = _Job(label, limits, limits.total_cap(None), noun="folder")
    try:
        return job.run(dest, None, lambda: _copy_tree(job, root))
    finally:
        os.close(root)


# --------------------------------------------------------------------------------------------
# Listing checks shared by every format


@dataclass(slots=True)
class _Member:
    """One listed entry as a backend sees it, before the shared checks.

    problem: why this entry refuses the archive whatever its name is (a link, encryption...).
    handle: what the backend needs to read it again (ZipInfo, RarInfo, py7zr key, folder path).
    """

    name: str
    is_dir: bool
    size: int
    handle: Any = None
    problem: str | None = None


@dataclass(slots=True)
class _Entry:
    """A checked entry: ``parts`` is the path we will write (NFC, ``/``-split, validated)."""

    raw: str
    parts: tuple[str, ...]
    is_dir: bool
    size: int
    skip: bool
    handle: Any


_DRIVE = re.compile(r"[A-Za-z]:")
# Windows device names, reserved with any extension ("nul.txt"), case-insensitive; Nextcloud
# syncs the library to Windows machines, where such a file cannot be created.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                       *(f"COM{c}" for c in "123456789¹²³"), *(f"LPT{c}" for c in "123456789¹²³")})


class _Refused(Exception):
    """A name rule failed; the message is the reason (turned into an ArchiveError by the
    caller)."""


def _entry_parts(raw: str, limits: ArchiveLimits) -> tuple[tuple[str, ...], bool]:
    """Validate an entry name; return (path components in NFC, name ends with a separator).

    Rules (reliability.md §1.7 step 2, py7zr's bad-file scenario list §1.3): ``\\`` is a
    separator; refuse control characters (NUL included), UNC (``//host``), absolute paths,
    drive letters, any ``..`` component (never resolved lexically: ``a/../b`` is refused, as
    tarfile's "data" filter and py7zr >= 1.1.3 do), Windows device names, components ending in a
    dot or a space (Windows drops them, so two names would become one), over-long components
    and paths (UTF-8 bytes), and paths deeper than ``max_depth``. Empty and ``.`` components are
    dropped (``./a//b`` is ``a/b``).
    """
    if not raw:
        raise _Refused("the name is empty")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused("the name is not valid UTF-8 / Unicode") from None
    for char in raw:
        if unicodedata.category(char) == "Cc":
            raise _Refused(f"the name contains a control character (U+{ord(char):04X})")
    name = raw.replace("\\", "/")
    if name.startswith("//"):
        raise _Refused("UNC network path (\\\\host\\share)")
    if name.startswith("/"):
        raise _Refused("absolute path")
    if _DRIVE.match(name):
        raise _Refused("Windows drive letter (absolute path)")
    is_dir = name.endswith("/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refused('".." component (path traversal)')
    if not parts:
        raise _Refused("the name has no usable path component")
    parts = [unicodedata.normalize("NFC", p) for p in parts]
    for part in parts:
        if len(part.encode("utf-8")) > limits.max_component_bytes:
            raise _Refused(f"a path component is longer than {limits.max_component_bytes} bytes")
        if part[-1] in ". ":
            raise _Refused(f"the component {part!r} ends with a dot or a space "
                           "(invalid on Windows)")
        if part.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
            raise _Refused(f"the component {part!r} is a reserved Windows device name")
    if len(parts) > limits.max_depth:
        raise _Refused(f"the path is {len(parts)} levels deep, "
                       f"over the limit of {limits.max_depth}")
    if len("/".join(parts).encode("utf-8")) > limits.max_path_bytes:
        raise _Refused(f"the path is longer than {limits.max_path_bytes} bytes")
    return tuple(parts), is_dir


def _is_skipped(parts: tuple[str, ...]) -> bool:
    """macOS resource forks (``__MACOSX/``, ``._x``), ``.DS_Store``, any dot file or folder."""
    return any(p == "__MACOSX" or p.startswith(".") for p in parts)


def _fold(parts: Iterable[str]) -> str:
    # Parts are NFC already; casefold() can denormalise ("ǰ"), so normalise again.
    return unicodedata.normalize("NFC", "/".join(parts).casefold())


class _Collisions:
    """Refuse two entries that would land on the same path on a case-insensitive or
    normalising filesystem (Windows, macOS, Nextcloud clients): §1.7 "collisions after NFC +
    casefold". Also a file that is used as a folder by another entry, and folders spelled two
    ways (``Song/`` and ``song/``), which would merge on such a filesystem."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.files: dict[str, str] = {}
        self.dirs: dict[str, tuple[tuple[str, ...], str]] = {}

    def add(self, entry: _Entry) -> None:
        depth = len(entry.parts) if entry.is_dir else len(entry.parts) - 1
        for i in range(1, depth + 1):
            prefix = entry.parts[:i]
            key = _fold(prefix)
            if key in self.files:
                raise self.job.error(f"it needs {self.files[key]!r} to be a folder, "
                                     "but that is a file", entry.raw)
            seen = self.dirs.get(key)
            if seen is None:
                self.dirs[key] = (prefix, entry.raw)
            elif seen[0] != prefix:
                raise self.job.error(f"the folder {'/'.join(prefix)!r} collides with "
                                     f"{'/'.join(seen[0])!r} (from {seen[1]!r}): the names "
                                     "differ only in letter case or Unicode form", entry.raw)
        if not entry.is_dir:
            key = _fold(entry.parts)
            if key in self.files:
                raise self.job.error(f"collides with {self.files[key]!r}: the same path, or one "
                                     "that differs only in letter case or Unicode form",
                                     entry.raw)
            if key in self.dirs:
                raise self.job.error(f"is a file, but {self.dirs[key][1]!r} "
                                     "uses the same path as a folder", entry.raw)
            self.files[key] = entry.raw


def _check_declared_sizes(job: _Job, entries: list[_Entry]) -> None:
    """Refuse before writing when the declared (header) sizes are over the caps. Headers can lie;
    the counting writer enforces the same caps on the bytes really written. Declared sizes of
    skipped entries count too: 7z and solid rar decompress them anyway."""
    total = 0
    for entry in entries:
        if entry.is_dir:
            continue
        if entry.size > job.limits.max_entry_bytes:
            raise job.limit_error(f"declares {entry.size:,} bytes, over the per-entry limit of "
                                  f"{job.limits.max_entry_bytes:,} bytes", entry.raw,
                                  limit=job.limits.max_entry_bytes)
        total += entry.size
    if total > job.total_cap:
        if job.noun == "folder":
            reason = (f"holds {total:,} bytes, over the limit of {job.total_cap:,} bytes "
                      "for a folder import")
        else:
            reason = (f"declares {total:,} bytes unpacked, "
                      f"over the limit of {job.total_cap:,} bytes "
                      "for this archive (possible zip bomb)")
        raise job.limit_error(reason, None, limit=job.total_cap)


# --------------------------------------------------------------------------------------------
# Writing: staging folder, budget, counting writer


class _Budget:
    """Bytes actually written, charged before each write against the per-entry and total caps."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.written = 0
        self._lock = threading.Lock()  # py7zr may call writers from worker threads

    def charge(self, entry: str, entry_written: int, count: int) -> None:
        limits = self.job.limits
        with self._lock:
            if entry_written + count > limits.max_entry_bytes:
                raise self.job.limit_error(
                    f"unpacks to more than the per-entry limit of {limits.max_entry_bytes:,} "
                    f"bytes (stopped after writing {self.written:,} bytes in all)", entry,
                    limit=limits.max_entry_bytes, written=self.written)
            if self.written + count > self.job.total_cap:
                if self.job.noun == "folder":
                    reason = (f"the folder holds more than the limit of {self.job.total_cap:,} "
                              f"bytes (stopped after copying {self.written:,} bytes)")
                else:
                    reason = (f"the archive unpacks to more than the limit of "
                              f"{self.job.total_cap:,} bytes (possible zip bomb; "
                              f"stopped after writing {self.written:,} bytes)")
                raise self.job.limit_error(reason, entry, limit=self.job.total_cap,
                                           written=self.written)
            self.written += count


class _CountingWriter(py7zr.io.Py7zIO):
    """Write-only file on a descriptor we opened; every write is charged to the budget first.

    It is also py7zr's per-member writer (Py7zIO): not seekable, so py7zr never rewinds it.
    """

    def __init__(self, fd: int, budget: _Budget, entry: str, path: Path,
                 staging: _Staging) -> None:
        self._fd = fd
        self._budget = budget
        self._staging = staging
        self.entry = entry
        self.path = path
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        count = len(data)
        if not count:
            return 0
        self._budget.charge(self.entry, self.written, count)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:
            raise self._budget.job.error(f"could not be written to the staging folder "
                                         f"({exc.strerror})", self.entry) from exc
        self.written += count
        return count

    def read(self, size: int | None = None) -> bytes:
        raise io.UnsupportedOperation("write-only")

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset == 0 and whence in (io.SEEK_CUR, io.SEEK_END):
            return self.written
        raise io.UnsupportedOperation("not seekable")

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.written

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            self._staging.forget(fd)
            os.close(fd)

    def __enter__(self) -> _CountingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _Staging:
    """The destination folder, reached only through descriptors, and an undo log of what we
    created there (so a failure removes exactly our files, deepest first)."""

    def __init__(self, dest: Path) -> None:
        self.dest = Path(dest).absolute()
        self._made_root = False
        try:
            os.mkdir(self.dest, 0o755)
            self._made_root = True
        except FileExistsError:
            pass
        except OSError as exc:
            raise ValueError(
                f"cannot create the staging folder {self.dest}: {exc.strerror}") from exc
        try:
            self.fd = os.open(self.dest, _DIR_FLAGS)
        except OSError as exc:
            raise ValueError(
                f"staging folder {self.dest} is not a directory or is a symbolic link") from exc
        if os.listdir(self.fd):
            os.close(self.fd)
            raise ValueError(f"staging folder {self.dest} is not empty")
        self._created: list[tuple[tuple[str, ...], bool]] = []
        self._dirs: set[tuple[str, ...]] = {()}
        self._open_fds: set[int] = set()

    def _open_dir(self, parts: tuple[str, ...], job: _Job, entry: str) -> int:
        """A new descriptor of folder ``parts`` (created as needed), walked without following
        any symbolic link."""
        current = os.dup(self.fd)
        try:
            for i, part in enumerate(parts, start=1):
                if parts[:i] not in self._dirs:
                    try:
                        os.mkdir(part, 0o755, dir_fd=current)
                        self._created.append((parts[:i], True))
                    except FileExistsError:
                        pass
                    self._dirs.add(parts[:i])
                child = os.open(part, _DIR_FLAGS, dir_fd=current)
                os.close(current)
                current = child
        except OSError as exc:
            os.close(current)
            raise job.error(f"could not create its folder in the staging folder ({exc.strerror})",
                            entry) from exc
        return current

    def make_dir(self, parts: tuple[str, ...], job: _Job, entry: str) -> None:
        os.close(self._open_dir(parts, job, entry))

    def create_file(self, parts: tuple[str, ...], job: _Job, entry: str) -> _CountingWriter:
        folder = self._open_dir(parts[:-1], job, entry)
        try:
            fd = os.open(parts[-1],
                         os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644, dir_fd=folder)
        except FileExistsError as exc:
            # Listing refuses collisions; this is a filesystem that folds names we did not.
            raise job.error("collides with another entry on the staging filesystem",
                            entry) from exc
        except OSError as exc:
            raise job.error(f"could not be created in the staging folder ({exc.strerror})",
                            entry) from exc
        finally:
            os.close(folder)
        self._created.append((parts, False))
        self._open_fds.add(fd)
        return _CountingWriter(fd, job.budget, entry, self.dest.joinpath(*parts), self)

    def forget(self, fd: int) -> None:
        self._open_fds.discard(fd)

    def rollback(self) -> None:
        """Remove what this call created, deepest first; never anything else."""
        self._close_files()
        for parts, is_dir in reversed(self._created):
            relative = os.path.join(*parts)
            try:
                if is_dir:
                    os.rmdir(relative, dir_fd=self.fd)
                else:
                    os.unlink(relative, dir_fd=self.fd)
            except FileNotFoundError:
                pass
            except OSError:
                pass  # not ours to force (someone else wrote into it); the caller wipes scratch
        self._created.clear()
        if self._made_root:
            try:
                os.rmdir(self.dest)
            except OSError:
                pass

    def _close_files(self) -> None:
        # py7zr does not close a member's writer when decompression fails.
        for fd in list(self._open_fds):
            self._open_fds.discard(fd)
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        self._close_files()
        os.close(self.fd)


class _Job:
    """State of one extraction: label for messages, caps, budget, staging, current entry."""

    def __init__(self, label: str, limits: ArchiveLimits, total_cap: int,
                 noun: str = "archive") -> None:
        self.label = label
        self.noun = noun  # "archive" or "folder", for messages
        self.limits = limits
        self.total_cap = total_cap
        self.budget = _Budget(self)
        self.staging: _Staging | None = None
        self.current: str | None = None  # the entry being written, for error messages

    def error(self, reason: str, entry: str | None = None) -> ArchiveError:
        return _error(self.label, reason, entry)

    def limit_error(self, reason: str, entry: str | None, *, limit: int,
                    written: int = 0) -> ArchiveLimitError:
        return _error(self.label, reason, entry, ArchiveLimitError, limit=limit, written=written)

    def run(self, dest: Path, kind: ArchiveKind | None, body: Any) -> ExtractionResult:
        self.staging = _Staging(dest)
        done = False
        try:
            try:
                files, skipped = body()
            except ArchiveError:
                raise
            except Exception as exc:
                raise _translate(exc, self) from exc
            done = True
            return ExtractionResult(kind, tuple(files), tuple(skipped), self.budget.written)
        finally:
            if not done:
                self.staging.rollback()
            self.staging.close()

    def check(self, members: list[_Member]) -> list[_Entry]:
        """The shared listing checks (count, per-entry rules, collisions, declared sizes)."""
        if len(members) > self.limits.max_entries:
            raise self.limit_error(f"has {len(members):,} entries, over the limit of "
                                   f"{self.limits.max_entries:,}", None,
                                   limit=self.limits.max_entries)
        entries = [self.entry(member) for member in members]
        self.finish(entries)
        return entries

    def entry(self, member: _Member) -> _Entry:
        if member.problem:
            raise self.error(member.problem, member.name)
        try:
            parts, dir_by_name = _entry_parts(member.name, self.limits)
        except _Refused as refused:
            raise self.error(str(refused), member.name) from None
        is_dir = member.is_dir or dir_by_name
        if is_dir and member.size:
            raise self.error(f"is a folder entry that carries {member.size:,} bytes of data",
                             member.name)
        return _Entry(member.name, parts, is_dir, member.size, _is_skipped(parts), member.handle)

    def finish(self, entries: list[_Entry]) -> None:
        collisions = _Collisions(self)
        for entry in entries:
            if not entry.skip:
                collisions.add(entry)
        _check_declared_sizes(self, entries)

    def write_entries(self, entries: list[_Entry],
                      open_member: Any) -> tuple[list[Path], list[str]]:
        """Write ``entries`` in order; ``open_member(entry)`` returns a readable binary stream."""
        assert self.staging is not None
        files: list[Path] = []
        skipped: list[str] = []
        for entry in entries:
            self.current = entry.raw
            if entry.skip:
                skipped.append(entry.raw)
            elif entry.is_dir:
                self.staging.make_dir(entry.parts, self, entry.raw)
            else:
                with open_member(entry) as source, \
                        self.staging.create_file(entry.parts, self, entry.raw) as out:
                    _copy_stream(source, out)
                self.check_size(entry, out.written)
                files.append(out.path)
        self.current = None
        return files, skipped

    def check_size(self, entry: _Entry, written: int) -> None:
        if written == entry.size:
            return
        if self.noun == "folder":
            raise self.error(f"changed while it was being copied ({written:,} bytes read, "
                             f"{entry.size:,} listed)", entry.raw)
        raise self.error(f"unpacked to {written:,} bytes but the archive declares {entry.size:,} "
                         "(damaged archive)", entry.raw)


def _copy_stream(source: BinaryIO, out: _CountingWriter) -> None:
    while chunk := source.read(_CHUNK):
        out.write(chunk)


def _error(label: str, reason: str, entry: str | None = None,
           cls: type[ArchiveError] = ArchiveError, **extra: Any) -> Any:
    # repr() shows control characters and trailing spaces in a name instead of hiding them.
    where = f"{label}: entry {entry!r}: " if entry is not None else f"{label}: "
    return cls(where + reason, archive=label, entry=entry, reason=reason, **extra)


def _translate(exc: Exception, job: _Job) -> ArchiveError:
    """A library's exception as an ArchiveError that says why, in words a user can act on."""
    entry = job.current
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, zipfile.BadZipFile):
        if "Overlapped entries" in str(exc):
            return job.error("entries overlap each other, the shape of a zip bomb "
                             "(CVE-2024-0450); refused", entry)
        return job.error(f"is damaged or not a valid zip ({exc})", entry)
    if isinstance(exc, py7zr.exceptions.DecompressionBombError):
        return job.limit_error(f"the archive unpacks to more than the limit of "
                               f"{job.total_cap:,} bytes (possible zip bomb; "
                               f"stopped after writing {job.budget.written:,} bytes)",
                               entry, limit=job.total_cap, written=job.budget.written)
    if isinstance(exc, (py7zr.exceptions.PasswordRequired, rarfile.PasswordRequired,
                        rarfile.RarWrongPassword)):
        return job.error("encrypted archive: password-protected archives are not supported", entry)
    if isinstance(exc, (py7zr.exceptions.UnsupportedCompressionMethodError, NotImplementedError)):
        return job.error(f"unsupported compression method ({exc})", entry)
    if isinstance(exc, rarfile.NeedFirstVolume):
        return job.error("multi-volume archive: this is not the first part of a split RAR; upload "
                         "the songs as a single archive", entry)
    if isinstance(exc, rarfile.RarCannotExec):
        return job.error(f"RAR archives cannot be extracted on this server: the unar tool is "
                         f"missing or does not run ({exc})", entry)
    if isinstance(exc, OSError):
        # Our own writes are wrapped already: this is reading the archive or the folder.
        return job.error(f"cannot be read ({detail})", entry)
    if isinstance(exc, (py7zr.exceptions.ArchiveError, rarfile.Error, EOFError, zlib.error,
                        lzma.LZMAError, ValueError)):
        return job.error(f"is damaged or cannot be read ({detail})", entry)
    if isinstance(exc, MemoryError):
        return job.error("needs more memory than allowed to unpack (possible bomb)", entry)
    return job.error(f"could not be extracted ({detail})", entry)


# --------------------------------------------------------------------------------------------
# zip

_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate",
                zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
_ZIP_OTHER_METHODS = {1: "Shrink", 6: "Implode", 9: "Deflate64", 10: "PKWARE DCL Implode",
                      18: "IBM TERSE", 19: "IBM LZ77", 93: "Zstandard", 94: "MP3", 95: "XZ",
                      96: "JPEG", 97: "WavPack", 98: "PPMd"}
_ZIP_ENCRYPTED = 0x0001          # general purpose flag bit 0 (traditional PKWARE or AES)
_ZIP_STRONG_ENCRYPTION = 0x0040  # bit 6
_ZIP_MASKED_HEADERS = 0x2000     # bit 13: central directory encrypted, names masked
_ZIP_PATCHED = 0x0020            # bit 5: compressed patched data, zipfile cannot read it
_ZIP_AES = 99                    # WinZip AES "method"


def _special_kind(mode: int) -> str:
    fmt = stat.S_IFMT(mode)
    return {stat.S_IFIFO: "named pipe (FIFO)", stat.S_IFCHR: "character device",
            stat.S_IFBLK: "block device",
            stat.S_IFSOCK: "socket"}.get(fmt, f"special file (type 0o{fmt:o})")


def _unix_type_problem(mode: int) -> str | None:
    """Refusal for a Unix st_mode that is not a plain file or folder (0 = no type recorded)."""
    fmt = stat.S_IFMT(mode)
    if fmt == stat.S_IFLNK:
        return "is a symbolic link (links are never extracted)"
    if fmt not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"is a {_special_kind(mode)} (special files are never extracted)"
    return None


def _windows_type_problem(attributes: int) -> str | None:
    if attributes & stat.FILE_ATTRIBUTE_REPARSE_POINT:
        return ("is a Windows reparse point: a symbolic link or junction "
                "(links are never extracted)")
    if attributes & stat.FILE_ATTRIBUTE_DEVICE:
        return "is a device (special files are never extracted)"
    return None


def _zip_member(info: zipfile.ZipInfo) -> _Member:
    # orig_filename: zipfile cuts .filename at the first NUL, which would hide it from us.
    name = info.orig_filename
    mode = info.external_attr >> 16
    dos = info.external_attr & 0xFFFF
    problem = _unix_type_problem(mode) or _windows_type_problem(dos)
    if problem is None:
        if info.flag_bits & (_ZIP_ENCRYPTED | _ZIP_STRONG_ENCRYPTION | _ZIP_MASKED_HEADERS) \
                or info.compress_type == _ZIP_AES:
            problem = "encrypted archive: the entry is password-protected (not supported)"
        elif info.volume:
            problem = "multi-volume archive: the entry is on another disk of a split zip"
        elif info.flag_bits & _ZIP_PATCHED:
            problem = "unsupported compression method (compressed patched data)"
        elif info.compress_type not in _ZIP_METHODS:
            method = _ZIP_OTHER_METHODS.get(info.compress_type, "unknown")
            problem = f"unsupported compression method {info.compress_type} ({method})"
    is_dir = stat.S_ISDIR(mode) or bool(dos & stat.FILE_ATTRIBUTE_DIRECTORY)
    return _Member(name, is_dir, info.file_size, info, problem)


def _extract_zip(job: _Job, path: Path) -> tuple[list[Path], list[str]]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        if "span multiple disks" in str(exc):
            raise job.error("multi-volume archive: this zip is split over several files; upload "
                            "the songs as a single archive") from exc
        raise
    with archive:
        entries = job.check([_zip_member(info) for info in archive.infolist()])
        return job.write_entries(entries, lambda entry: archive.open(entry.handle))


# --------------------------------------------------------------------------------------------
# 7z


_7Z_UNIX_EXTENSION = 0x8000  # py7zr/p7zip: high 16 bits of the attributes hold st_mode


def _7z_member(item: Any) -> _Member:
    attributes = item.file_properties().get("attributes") or 0
    mode = attributes >> 16 if attributes & _7Z_UNIX_EXTENSION else 0
    if item.is_symlink or item.is_junction:
        problem: str | None = "is a symbolic link or junction (links are never extracted)"
    elif item.is_socket:
        problem = "is a socket (special files are never extracted)"
    else:
        problem = _unix_type_problem(mode) or _windows_type_problem(attributes & 0xFFFF)
    is_dir = bool(item.is_directory) or stat.S_ISDIR(mode)
    return _Member(item.filename, is_dir, item.uncompressed or 0, None, problem)


class _SevenZipWriters(py7zr.io.WriterFactory):
    """py7zr asks for a writer per member by the name IT sanitised; we map that name back to our
    checked entry and hand out a counting writer on OUR path. Names we did not plan to write
    (skipped entries, py7zr's renamed duplicates) get a discarding writer; every planned entry is
    verified afterwards, so nothing can be silently dropped."""

    def __init__(self, job: _Job, planned: dict[str, _Entry]) -> None:
        self.job = job
        self.planned = planned
        self.writers: dict[str, _CountingWriter] = {}

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        entry = self.planned.get(filename)
        if entry is None:
            return py7zr.io.NullIO()
        if filename in self.writers:
            raise self.job.error("appears twice in the archive", entry.raw)
        assert self.job.staging is not None
        self.job.current = entry.raw
        writer = self.job.staging.create_file(entry.parts, self.job, entry.raw)
        self.writers[filename] = writer
        return writer


def _extract_7z(job: _Job, path: Path) -> tuple[list[Path], list[str]]:
    assert job.staging is not None
    # A file object, not a path: py7zr then decompresses in this thread only (no worker threads
    # writing concurrently), and reads nothing but this one file.
    with open(path, "rb") as handle:
        try:
            archive = py7zr.SevenZipFile(handle, mode="r", max_extract_size=job.total_cap)
        except py7zr.exceptions.PasswordRequired as exc:
            raise job.error("encrypted archive: even the file list is encrypted "
                            "(not supported)") from exc
        with archive:
            if archive.needs_password():
                raise job.error("encrypted archive: its contents are password-protected "
                                "(not supported)")
            entries = job.check([_7z_member(item) for item in archive.files])
            base = job.staging.dest
            planned: dict[str, _Entry] = {}
            skipped: list[str] = []
            for entry in entries:
                if entry.skip:
                    skipped.append(entry.raw)
                elif entry.is_dir:
                    job.current = entry.raw
                    job.staging.make_dir(entry.parts, job, entry.raw)
                else:
                    # The same function py7zr applies to the name before calling the factory.
                    key = py7zr.helpers.get_sanitized_output_path(entry.raw, base).as_posix()
                    planned[key] = entry
            factory = _SevenZipWriters(job, planned)
            if planned:
                # extract() with a factory streams every member into our writers; py7zr
                # itself writes nothing to disk in this mode.
                archive.extract(path=base, factory=factory)
            job.current = None
            files: list[Path] = []
            for key, entry in planned.items():
                writer = factory.writers.get(key)
                if writer is None:
                    raise job.error("was not extracted by py7zr (damaged archive?)", entry.raw)
                writer.close()
                job.check_size(entry, writer.written)
                files.append(writer.path)
            return files, skipped


# --------------------------------------------------------------------------------------------
# rar

_RAR_SETUP_LOCK = threading.Lock()
_RAR_REDIRECTS = {
    rarfile.RAR5_XREDIR_UNIX_SYMLINK: "Unix symbolic link",
    rarfile.RAR5_XREDIR_WINDOWS_SYMLINK: "Windows symbolic link",
    rarfile.RAR5_XREDIR_WINDOWS_JUNCTION: "Windows junction",
    rarfile.RAR5_XREDIR_HARD_LINK: "hard link",
    # A RAR5 "file copy" (rar -oi) repeats another entry's data; not a link, but never needed
    # by a song and untested here, so it is refused with the links.
    rarfile.RAR5_XREDIR_FILE_COPY: "file-copy reference",
}
_RAR_METHODS = range(rarfile.RAR_M0, rarfile.RAR_M5 + 1)


def _use_unar() -> None:
    """Point rarfile at unar and nothing else (see the module docstring for why)."""
    with _RAR_SETUP_LOCK:
        current = rarfile.CURRENT_SETUP
        if current is None or current.setup is not rarfile.UNAR_CONFIG:
            rarfile.tool_setup(unrar=False, unar=True, bsdtar=False, sevenzip=False,
                               sevenzip2=False, force=True)


class _MultiVolume(Exception):
    pass


def _rar_volume_guard(header: Any) -> None:
    # rarfile would go on to open "<name>.part2.rar" next to the upload: stop at the main header.
    if header.type == rarfile.RAR_BLOCK_MAIN and header.flags & rarfile.RAR_MAIN_VOLUME:
        raise _MultiVolume()


def _rar_member(info: Any) -> _Member:
    problem: str | None = None
    if info.file_redir:
        kind, _flags, target = info.file_redir
        label = _RAR_REDIRECTS.get(kind, f"link of unknown type {kind}")
        problem = f"is a {label} to {target!r} (links are never extracted)"
    elif info.is_symlink():
        problem = "is a symbolic link (links are never extracted)"
    elif info.host_os == rarfile.RAR_OS_UNIX:
        problem = _unix_type_problem(info.mode or 0)
    elif info.host_os in (rarfile.RAR_OS_WIN32, rarfile.RAR_OS_MSDOS):
        problem = _windows_type_problem(info.mode or 0)
    if problem is None:
        if info.needs_password():
            problem = "encrypted archive: the entry is password-protected (not supported)"
        elif info.flags & (rarfile.RAR_FILE_SPLIT_BEFORE | rarfile.RAR_FILE_SPLIT_AFTER):
            problem = "multi-volume archive: the entry continues in another part of a split RAR"
        elif not info.is_dir() and info.compress_type not in _RAR_METHODS:
            problem = f"unsupported compression method 0x{info.compress_type:x}"
    return _Member(info.filename, info.is_dir(), 0 if info.is_dir() else info.file_size, info,
                   problem)


def _extract_rar(job: _Job, path: Path) -> tuple[list[Path], list[str]]:
    _use_unar()
    try:
        # errors="strict": a damaged header raises instead of quietly ending the listing early.
        archive = rarfile.RarFile(str(path), errors="strict", info_callback=_rar_volume_guard)
    except _MultiVolume:
        raise job.error("multi-volume archive: this is one part of a split RAR; upload the songs "
                        "as a single archive") from None
    with archive:
        if archive.needs_password():
            # RAR5 with encrypted headers lists nothing at all without the password.
            raise job.error("encrypted archive: password-protected archives are not supported")
        if len(archive.volumelist()) > 1:
            raise job.error("multi-volume archive: upload the songs as a single archive")
        entries = job.check([_rar_member(info) for info in archive.infolist()])
        # One open() per member, streamed from unar's stdout through our writer (no extractall).
        return job.write_entries(entries, lambda entry: archive.open(entry.handle))


# --------------------------------------------------------------------------------------------
# plain folders


def _walk_folder(job: _Job, root: int) -> Iterator[_Member]:
    """Every entry under the folder descriptor ``root``, depth first, names sorted. The caller
    checks each entry as soon as it is yielded, so a hostile tree stops the walk at the first
    problem (and at ``max_entries`` or ``max_depth``, whatever its real size)."""
    count = 0
    pending: list[tuple[str, ...]] = [()]
    while pending:
        names = pending.pop()
        folder = _open_dir_at(root, names)
        try:
            with os.scandir(folder) as listing:
                items = sorted(listing, key=lambda item: item.name)
            children: list[tuple[str, ...]] = []
            for item in items:
                count += 1
                if count > job.limits.max_entries:
                    raise job.limit_error(f"has more than {job.limits.max_entries:,} entries",
                                          None, limit=job.limits.max_entries)
                path = (*names, item.name)
                info = item.stat(follow_symlinks=False)
                problem = _unix_type_problem(info.st_mode)
                if problem is None and "\\" in item.name:
                    problem = "the name contains a backslash (a folder separator on Windows)"
                if problem is None and stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                    problem = (f"is a hard link (the same file has {info.st_nlink} names; links "
                               "are never copied)")
                is_dir = stat.S_ISDIR(info.st_mode)
                yield _Member("/".join(path), is_dir, 0 if is_dir else info.st_size, path, problem)
                if is_dir and not _is_skipped(path):
                    children.append(path)
            pending.extend(reversed(children))
        finally:
            os.close(folder)


def _open_dir_at(root: int, names: tuple[str, ...]) -> int:
    """A new descriptor of folder ``names`` under ``root``, never following a link (a folder
    swapped for a link since the listing fails with ELOOP instead of being followed)."""
    current = os.dup(root)
    try:
        for name in names:
            child = os.open(name, _DIR_FLAGS, dir_fd=current)
            os.close(current)
            current = child
    except BaseException:
        os.close(current)
        raise
    return current


def _open_source(job: _Job, root: int, entry: _Entry) -> BinaryIO:
    """Open a listed file again, component by component, never following a link, and check
    that it is still the plain single-named file we listed."""
    names: tuple[str, ...] = entry.handle
    try:
        folder = _open_dir_at(root, names[:-1])
        try:
            # O_NONBLOCK: opening a FIFO swapped in since the listing must not hang.
            fd = os.open(names[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=folder)
        finally:
            os.close(folder)
    except OSError as exc:
        raise job.error(f"cannot be opened ({exc.strerror}); "
                        "did the folder change during the copy?", entry.raw) from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1 or info.st_size != entry.size:
        os.close(fd)
        raise job.error("changed while it was being copied (no longer the same plain file)",
                        entry.raw)
    return os.fdopen(fd, "rb", buffering=0)


def _copy_tree(job: _Job, root: int) -> tuple[list[Path], list[str]]:
    entries: list[_Entry] = [job.entry(member) for member in _walk_folder(job, root)]
    job.finish(entries)
    return job.write_entries(entries, lambda entry: _open_source(job, root, entry))
