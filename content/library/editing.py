"""song.ini edits: written back to the library storage first, then to the database.

The file is the source of truth, so the order is: read it, change only the edited keys
(``SongIni`` keeps every other byte), write it with the ETag seen by the last sync as a
precondition, and only then update the song's rows. A file changed on disk since the last sync
is never overwritten: the user is told to sync first.
"""
from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from content.formats.songini import SongIni, is_valid_key
from content.models import COLUMN_KEYS, Song, SongFile
from content.storage.base import NotFound, PreconditionFailed, Storage, StorageError, join

from .searchwords import search_words_add
from .songs import song_rescan

SONG_INI = "song.ini"

# Keys that change how the chart plays (scan-chart folds them into chartHash), so an edit
# changes gameplay and the song's identity on leaderboards, not just its label.
GAMEPLAY_KEYS = ("hopo_frequency", "eighthnote_hopo", "multiplier_note",
                 "sustain_cutoff_threshold", "chord_snap_threshold", "five_lane_drums",
                 "pro_drums")


class SongEditError(Exception):
    """An edit was refused; the message says why and what to do, for the user."""


class SngNotEditable(SongEditError):
    """The song is a .sng container, whose metadata this editor cannot rewrite."""


class SongChangedOnDisk(SongEditError):
    """song.ini changed in the library since the last sync; nothing was written."""


def song_ini_read(*, song: Song, storage: Storage) -> SongIni:
    """The song's current song.ini from storage; for a folder that has none (a ``.chart``
    whose ``[Song]`` section carries the metadata), a new one holding that metadata.

    Raises SngNotEditable for a .sng song, SongChangedOnDisk if the song.ini the last sync saw
    is gone, StorageError if the storage cannot be read.
    """
    if song.is_sng:
        raise SngNotEditable(
            f"{song.display_name} is a .sng file: its metadata lives inside the container and "
            "cannot be edited here. Unpack it to a folder to edit its song.ini.")
    if not song.ini_name:
        # Clone Hero writes a song.ini from the chart's [Song] section when there is none; do
        # the same from what the last scan read, so the new file does not lose the title.
        return SongIni.from_mapping(_current_metadata(song), source_name=SONG_INI)
    try:
        data = storage.read(join(song.path, song.ini_name))
    except NotFound:
        raise SongChangedOnDisk(_sync_first(song)) from None
    return SongIni.from_bytes(data, source_name=song.ini_name)


def song_ini_update(*, song: Song, changes: Mapping[str, str | None],
                    storage: Storage) -> list[str]:
    """Apply ``changes`` to the song's song.ini in storage, then to its database rows (the
    song is rescanned in one transaction, so issues and chart hash follow the edit).

    changes: ``{key: new raw value}``; ``None`` deletes the key. Keys not named keep their
    lines byte for byte, and absent keys are never written with defaults. A song without a
    song.ini gets a new one: its current metadata (read from the chart) plus the changes.

    Returns warnings for the user (a gameplay key changed). Raises SngNotEditable for a .sng
    song, SongChangedOnDisk when the file changed since the last sync (nothing is written),
    ValueError for a key or value song.ini cannot hold, StorageError when the write fails.
    """
    ini = song_ini_read(song=song, storage=storage)
    warnings = []
    for key, value in changes.items():
        before = ini.get(key)
        if value is None:
            ini.delete(key)
        else:
            ini.set(key, value)
        if key.lower() in GAMEPLAY_KEYS and before != value:
            warnings.append(
                f"{key} changes how the chart plays (HOPOs, star power, sustains or drum "
                f"lanes): it was {before if before is not None else 'not set'} and is now "
                f"{value if value is not None else 'not set'}. Scores set before no longer "
                "compare.")
    if not changes:
        return warnings

    ini_name = song.ini_name or SONG_INI
    path = join(song.path, ini_name)
    if not song.ini_name and storage.exists(path):
        # A song.ini appeared since the last sync; writing ours would replace it unread.
        raise SongChangedOnDisk(_sync_first(song))
    try:
        entry = storage.write(path, ini.to_bytes(),
                              if_match=song.ini_etag if song.ini_name else None)
    except PreconditionFailed:
        raise SongChangedOnDisk(_sync_first(song)) from None

    try:
        # Read the song again: gameplay keys change the chart hash and issues (multiplier_note,
        # missing values), and the new fingerprint lets the next sync skip the song.
        song_rescan(song=song, storage=storage)
    except StorageError:
        # The file is written; record at least what we wrote, and let the next sync do the rest.
        with transaction.atomic():
            song.apply_ini(ini.items())
            song.ini_name = ini_name
            song.ini_etag = entry.etag or ""
            song.save()
            SongFile.objects.update_or_create(
                song=song, name=ini_name,
                defaults={"size": entry.size, "mtime": entry.mtime, "etag": entry.etag or ""})
    search_words_add(song.search_text)
    return warnings


def _current_metadata(song: Song) -> list[tuple[str, str]]:
    pairs = []
    for key in COLUMN_KEYS:
        value = getattr(song, key)
        if value not in (None, ""):
            pairs.append((key, str(value)))
    pairs += [(key, value) for key, value in song.ini_extra if is_valid_key(key)]
    return pairs


def _sync_first(song: Song) -> str:
    return (f"The song.ini of {song.display_name} was changed in the library since the last "
            "sync, so your edit was not saved (nothing was overwritten). Run a sync (or rescan "
            "the song in the admin), then make your edit again.")
