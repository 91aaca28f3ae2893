"""Import songs from archives (zip, 7z, rar), .sng files and plain folders into the library.

Each source is unpacked into its own scratch folder (archives.py: hostile input, listed and
checked before extraction, byte and entry caps), every song folder inside is found and
checked, then published to ``Songs/<artist>/<name>/`` through the storage's stage-then-move
rule and recorded in the database. A song that fails anywhere leaves nothing behind: its
published folder is removed again if the database write fails, and the scratch folder is
always deleted. A full disk (the scratch folder's or the library's) stops the whole import at
the song it hit, since every later one would fail the same way: ``ImportReport.stopped``.
"""
from __future__ import annotations

import errno
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from loguru import logger

from content.formats.scan import FolderScan, is_song_folder, scan_folder, scan_sng, skip_dir
from content.models import Song
from content.storage.base import (
    InsufficientStorage,
    Storage,
    StorageError,
    join,
    staging_name,
)

from . import archives
from .naming import safe_component, with_suffix
from .searchwords import search_words_refresh
from .songs import song_record

# A song with one of these cannot be played, so it is not imported.
FATAL_ISSUES = {"noChart", "badChart"}
# The disk (or the user's quota on it) is full.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ImportResult:
    """What happened to one song (or to a whole source that could not be read).

    status: "imported", "duplicate" or "rejected". source: the uploaded file or folder name,
    with the song's folder inside it after a colon where there is one.
    """

    source: str
    status: str
    reason: str = ""
    song_path: str | None = None
    song_id: int | None = None


@dataclass
class ImportReport:
    """results: one per song or refused source, in order. stopped: empty, or why the import
    stopped before its last source (a full disk; the last result is the song it hit, rejected,
    and the sources after it were not tried)."""

    results: list[ImportResult] = field(default_factory=list)
    stopped: str = ""

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def import_limits() -> archives.ArchiveLimits:
    return archives.ArchiveLimits(
        max_entries=settings.IMPORT_MAX_ENTRIES,
        max_total_bytes=settings.IMPORT_MAX_TOTAL_BYTES,
        max_entry_bytes=settings.IMPORT_MAX_ENTRY_BYTES,
    )


def songs_import(*, sources: list[Path], storage: Storage, label: str | None = None,
                 progress: Progress | None = None) -> ImportReport:
    """Import every song found in ``sources`` (archive files, .sng files or folders).

    label: the name to show for a single source instead of its path (an upload's file name).
    Never raises for bad input: each problem is an ImportResult with status "rejected" and a
    reason naming the file. Storage failures while publishing are reported the same way; when
    the scratch folder or the library is out of space, the import also stops there and says
    so in ``stopped`` (nothing of that song is left behind; the songs before it stay).
    """
    report = ImportReport()
    known_md5 = set(Song.objects.present().exclude(chart_md5="")
                    .values_list("chart_md5", flat=True))
    for number, source in enumerate(sources, start=1):
        name = label if label and len(sources) == 1 else source.name
        if progress:
            progress(number - 1, len(sources), f"unpacking {name}")
        scratch = Path(settings.SCRATCH_ROOT) / staging_name()
        full: ImportResult | None = None
        try:
            scratch.mkdir(parents=True)
            for song_dir, is_sng, where in _unpack(source, scratch, name):
                report.results.append(_import_one(song_dir, is_sng, where, storage, known_md5))
        except _LibraryFull as error:
            full = error.result
        except (archives.ArchiveError, OSError) as error:
            reason = (str(error) if isinstance(error, archives.ArchiveError)
                      else f"cannot unpack {name}: {error}")
            if _no_space(error):
                full = ImportResult(name, "rejected", f"no space left in the scratch folder "
                                    f"{settings.SCRATCH_ROOT}: {reason}")
            else:
                report.results.append(ImportResult(name, "rejected", reason))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if full:
            report.results.append(full)
            report.stopped = f"{full.source}: {full.reason}"
            logger.error("import stopped, out of disk space: {}", report.stopped)
            break
    if report.count("imported"):
        search_words_refresh()
    if progress:
        progress(len(sources), len(sources), "done")
    return report


def _unpack(source: Path, scratch: Path, name: str) -> Iterator[tuple[Path, bool, str]]:
    """Put ``source`` into ``scratch`` and yield each song in it as (path, is_sng, where):
    ``where`` names the song for messages, as ``name`` (an upload's original file name) and
    the song's folder inside the source (``pack.zip: Artist/Song``)."""
    # Named after the source: a song with no song.ini "name" takes its folder's name, which
    # for a song at the top of the source is this one (crowded-sky/, not unpacked/).
    root = scratch / safe_component(name if source.is_dir() else Path(name).stem, "unpacked")
    if source.is_dir():
        archives.copy_folder(source, root, import_limits(), name=name)
    else:
        kind = archives.detect_kind(source, name=name)
        if kind == "sng":
            target = scratch / source.name
            shutil.copyfile(source, target)
            yield target, True, name
            return
        archives.extract_archive(source, root, import_limits(), name=name)
    found = list(_find_songs(root))
    if not found:
        raise archives.ArchiveError(f"{name}: no song folder (notes.chart, notes.mid or "
                                    "audio) and no .sng file inside")
    for song, is_sng in found:
        yield song, is_sng, (name if song == root
                             else f"{name}: {song.relative_to(root).as_posix()}")


def _find_songs(folder: Path) -> Iterator[tuple[Path, bool]]:
    children = sorted(folder.iterdir())
    files = [c for c in children if c.is_file()]
    if is_song_folder([f.name for f in files]):
        yield folder, False
        return
    for item in files:
        if item.suffix.lower() == ".sng":
            yield item, True
    for item in children:
        if item.is_dir() and not skip_dir(item.name):
            yield from _find_songs(item)


def _scan_local(song: Path, is_sng: bool) -> FolderScan:
    if is_sng:
        with song.open("rb") as handle:
            def read_range(offset: int, length: int) -> bytes:
                handle.seek(offset)
                return handle.read(length)
            return scan_sng(read_range, song.stat().st_size)
    sizes = {f.name: f.stat().st_size for f in song.iterdir() if f.is_file()}
    return scan_folder(sizes, lambda name: (song / name).read_bytes())


def _import_one(song: Path, is_sng: bool, where: str, storage: Storage,
                known_md5: set[str]) -> ImportResult:
    scan = _scan_local(song, is_sng)
    fatal = [i for i in scan.issues if i.type in FATAL_ISSUES]
    if fatal:
        return ImportResult(where, "rejected", "; ".join(i.message for i in fatal))
    if scan.chart_md5 and scan.chart_md5 in known_md5:
        twin = Song.objects.present().filter(chart_md5=scan.chart_md5).first()
        return ImportResult(where, "duplicate",
                            f"same chart (MD5 {scan.chart_md5}) as "
                            f"{twin.path if twin else 'a song in this import'}",
                            song_path=twin.path if twin else None,
                            song_id=twin.pk if twin else None)
    ini = dict((k.lower(), v) for k, v in scan.ini.items()) if scan.ini else {}
    artist = safe_component(ini.get("artist", ""), "Unknown Artist")
    title = safe_component(ini.get("name", ""), safe_component(song.stem, "Unknown Name"))
    dest = _free_path(storage, join(settings.SONGS_FOLDER, artist), title,
                      ".sng" if is_sng else "")
    try:
        if is_sng:
            storage.publish_file(song, dest)
            entry = storage.stat(dest)
            files, folder = [entry], entry
        else:
            storage.publish_folder(song, dest)
            folder = storage.stat(dest)
            files = [e for e in storage.list(dest) if not e.is_dir]
    except StorageError as error:
        if _no_space(error):
            raise _LibraryFull(ImportResult(
                where, "rejected", f"no space left in the library: cannot write {dest}: {error}"))
        return ImportResult(where, "rejected", f"cannot write {dest} to the library: {error}")
    try:
        with transaction.atomic():
            record = song_record(song=Song(path=dest), scan=scan, files=files, folder=folder,
                                 is_sng=is_sng)
    except Exception:
        # The database refused the song: take it out of the library again, then report.
        logger.exception("recording {} failed; removing it from the library", dest)
        storage.delete(dest)
        raise
    if scan.chart_md5:
        known_md5.add(scan.chart_md5)
    logger.info("imported {} to {}", where, dest)
    return ImportResult(where, "imported", song_path=dest, song_id=record.pk)


class _LibraryFull(Exception):
    """The library storage is out of space; ``result``: the song that hit it, rejected."""

    def __init__(self, result: ImportResult):
        super().__init__(result.reason)
        self.result = result


def _no_space(error: BaseException | None) -> bool:
    """Whether ``error``, or an error it was raised from, says the disk or quota is full."""
    while error is not None:
        if isinstance(error, InsufficientStorage) or (
                isinstance(error, OSError) and error.errno in _NO_SPACE):
            return True
        error = error.__cause__
    return False


def _free_path(storage: Storage, parent: str, name: str, suffix: str) -> str:
    """``parent/name`` or, when a different song is there already, ``parent/name (2)``..."""
    taken = set(Song.objects.filter(path__startswith=f"{parent}/").values_list("path", flat=True))
    number = 1
    while True:
        candidate = join(parent, (name if number == 1 else with_suffix(name, number)) + suffix)
        if candidate not in taken and not storage.exists(candidate):
            return candidate
        number += 1
