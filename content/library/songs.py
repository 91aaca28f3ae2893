"""Reading one song from storage and recording what was read in the database.

Shared by sync_library, the importer and the rescan action, so a song is read and stored the
same way whichever path brought it in.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from content.formats.scan import FolderScan, scan_folder, scan_sng
from content.models import DIFF_KEYS, INT_KEYS, TEXT_KEYS, ChartTrack, Song, SongFile, SongIssue
from content.storage.base import Entry, Storage, join


def fingerprint(files: Iterable[Entry]) -> str:
    """A hash of a song's listing data (name, size, ETag or mtime of each file): equal
    fingerprints mean nothing in the song changed, so it need not be read again."""
    digest = hashlib.sha256()
    for entry in sorted(files, key=lambda e: e.name):
        digest.update(f"{entry.name}\0{entry.size}\0{entry.etag or entry.mtime}\n".encode())
    return digest.hexdigest()[:32]


def song_read(*, storage: Storage, path: str, files: list[Entry], is_sng: bool) -> FolderScan:
    """Scan the song at ``path``: for a folder, ``files`` is its listing (song.ini and the chart
    are downloaded, never audio or video); for a ``.sng``, ``files`` is the one file entry and
    only its header, metadata, index and chart are read by range."""
    if is_sng:
        entry = files[0]
        return scan_sng(lambda offset, length: storage.read_range(path, offset, length),
                        entry.size)
    return scan_folder({e.name: e.size for e in files},
                       lambda name: storage.read(join(path, name)))


@dataclass
class SongRecord:
    """One scan to store: ``song`` (new, or an existing row) and what the storage listed."""

    song: Song
    scan: FolderScan
    files: list[Entry]
    folder: Entry | None
    is_sng: bool


#: The Song columns a scan sets (bulk_update needs them named; ``updated_at`` is set by hand
#: there, since only save() applies auto_now).
SCANNED_FIELDS = (
    ["path", "is_sng", "fingerprint", "etag", "fileid", "ini_name", "ini_etag", "size_bytes",
     *TEXT_KEYS, *INT_KEYS, *DIFF_KEYS, "year_number", "ini_extra", "search_text",
     "chart_name", "chart_md5", "chart_hash", "resolution", "chart_length_ms", "tempo_count",
     "time_signature_count", "star_power_count", "sections", "instruments", "album_art",
     "audio_files", "issue_count", "scanned_at", "removed_at", "updated_at"])


def _apply_scan(record: SongRecord, now) -> None:
    song, scan, files, folder = record.song, record.scan, record.files, record.folder
    song.is_sng = record.is_sng
    song.fingerprint = fingerprint(files)
    if folder is not None:
        song.etag = folder.etag or ""
        song.fileid = folder.fileid or ""
    song.apply_ini(scan.ini.items() if scan.ini is not None else [])
    ini_entry = next((e for e in files if scan.ini_name and e.name == scan.ini_name), None)
    song.ini_name = ini_entry.name if ini_entry else ""
    song.ini_etag = (ini_entry.etag or "") if ini_entry else ""
    song.size_bytes = sum(e.size for e in files)
    chart = scan.chart
    song.chart_name = scan.chart_name or ""
    song.chart_md5 = scan.chart_md5 or ""
    song.chart_hash = chart.chart_hash if chart else ""
    song.resolution = chart.resolution if chart else None
    song.chart_length_ms = (round(chart.length_ms) if chart and chart.length_ms is not None
                            else None)
    song.tempo_count = chart.tempo_count if chart else 0
    song.time_signature_count = chart.time_signature_count if chart else 0
    song.star_power_count = chart.star_power_count if chart else 0
    song.sections = [[round(ms), name] for ms, name in chart.sections] if chart else []
    song.instruments = list(chart.instruments) if chart else []
    song.album_art = scan.album_art or ""
    song.audio_files = list(scan.audio)
    song.issue_count = len(scan.issues)
    song.scanned_at = now
    song.updated_at = now
    song.removed_at = None


def _children(record: SongRecord) -> tuple[list[SongFile], list[ChartTrack], list[SongIssue]]:
    song, chart = record.song, record.scan.chart
    files = [SongFile(song=song, name=e.name, size=e.size, mtime=e.mtime, etag=e.etag or "")
             for e in record.files]
    tracks = [ChartTrack(song=song, instrument=t.instrument, difficulty=t.difficulty,
                         note_count=t.note_count, max_nps=t.max_nps,
                         star_power_count=t.star_power_count, solo_count=t.solo_count,
                         has_forced=t.has_forced, has_tap=t.has_tap, has_open=t.has_open)
              for t in (chart.tracks if chart else [])]
    issues = [SongIssue(song=song, type=i.type, message=i.message, instrument=i.instrument or "",
                        difficulty=i.difficulty or "", time_ms=i.time_ms)
              for i in record.scan.issues]
    return files, tracks, issues


@transaction.atomic
def song_records(records: list[SongRecord]) -> None:
    """Store many scans in one transaction with a fixed number of queries: new songs are
    inserted, existing ones updated, and each song's files, tracks and issues replaced.
    Raises IntegrityError (nothing stored) if a path is taken by another row."""
    now = timezone.now()
    for record in records:
        _apply_scan(record, now)
    new = [r.song for r in records if r.song.pk is None]
    old = [r.song for r in records if r.song.pk is not None]
    if old:
        Song.objects.bulk_update(old, SCANNED_FIELDS)
        pks = [song.pk for song in old]
        for model in (SongFile, ChartTrack, SongIssue):
            model.objects.filter(song_id__in=pks).delete()
    Song.objects.bulk_create(new)  # PostgreSQL and SQLite return the new primary keys
    children = [_children(r) for r in records]
    for kind, model in enumerate((SongFile, ChartTrack, SongIssue)):
        model.objects.bulk_create(row for rows in children for row in rows[kind])


def song_record(*, song: Song, scan: FolderScan, files: list[Entry], folder: Entry | None,
                is_sng: bool) -> Song:
    """Store a scan in ``song`` (new or existing) and replace its files, tracks and issues."""
    song_records([SongRecord(song, scan, files, folder, is_sng)])
    return song


def song_rescan(*, song: Song, storage: Storage) -> Song:
    """Read ``song`` again from storage and update its rows (admin's "rescan" action).
    Raises storage.NotFound if the song is gone."""
    if song.is_sng:
        entry = storage.stat(song.path)
        files, folder = [entry], entry
    else:
        folder = storage.stat(song.path)
        files = [e for e in storage.list(song.path) if not e.is_dir]
    scan = song_read(storage=storage, path=song.path, files=files, is_sng=song.is_sng)
    return song_record(song=song, scan=scan, files=files, folder=folder, is_sng=song.is_sng)
