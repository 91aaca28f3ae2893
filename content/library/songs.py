"""Reading one song from storage and recording what was read in the database.

Shared by sync_library, the importer and the rescan action, so a song is read and stored the
same way whichever path brought it in.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from content.formats.scan import FolderScan, scan_folder, scan_sng
from content.models import ChartTrack, Song, SongFile, SongIssue
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
        return scan_sng(lambda offset, length: storage.read_range(path, offset, length), entry.size)
    return scan_folder({e.name: e.size for e in files}, lambda name: storage.read(join(path, name)))


@transaction.atomic
def song_record(*, song: Song, scan: FolderScan, files: list[Entry], folder: Entry | None,
                is_sng: bool) -> Song:
    """Store a scan in ``song`` (new or existing) and replace its files, tracks and issues."""
    song.is_sng = is_sng
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
    song.chart_length_ms = round(chart.length_ms) if chart and chart.length_ms is not None else None
    song.tempo_count = chart.tempo_count if chart else 0
    song.time_signature_count = chart.time_signature_count if chart else 0
    song.star_power_count = chart.star_power_count if chart else 0
    song.sections = [[round(ms), name] for ms, name in chart.sections] if chart else []
    song.instruments = list(chart.instruments) if chart else []
    song.album_art = scan.album_art or ""
    song.audio_files = list(scan.audio)
    song.issue_count = len(scan.issues)
    song.scanned_at = timezone.now()
    song.removed_at = None
    song.save()

    song.files.all().delete()
    SongFile.objects.bulk_create(
        SongFile(song=song, name=e.name, size=e.size, mtime=e.mtime, etag=e.etag or "")
        for e in files)
    song.tracks.all().delete()
    if chart:
        ChartTrack.objects.bulk_create(
            ChartTrack(song=song, instrument=t.instrument, difficulty=t.difficulty,
                       note_count=t.note_count, max_nps=t.max_nps,
                       star_power_count=t.star_power_count, solo_count=t.solo_count,
                       has_forced=t.has_forced, has_tap=t.has_tap, has_open=t.has_open)
            for t in chart.tracks)
    song.issues.all().delete()
    SongIssue.objects.bulk_create(
        SongIssue(song=song, type=i.type, message=i.message, instrument=i.instrument or "",
                  difficulty=i.difficulty or "", time_ms=i.time_ms)
        for i in scan.issues)
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
