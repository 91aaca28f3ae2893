"""An audio file's tags (ID3, Vorbis comments, FLAC, MP4 …, read by mutagen): the song's
names for song.ini, and its embedded cover picture for the folder's album art. A song folder
given as stems may carry its own song.ini, whose names come first (``read_song_ini``).

Only JPEG and PNG covers are kept: Clone Hero reads ``album.jpg`` / ``album.png`` (formats.md
§1.1, scan-chart ``file-names.ts``). The picture is written as stored; scan-chart's
``albumArtSize`` (not 500×500 or 512×512) is cosmetic, and scaling it is left to the player.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import mutagen
from mutagen.flac import Picture
from mutagen.id3 import ID3

from content.formats.scan import find_ini

FRONT_COVER = 3  # ID3v2 APIC / FLAC METADATA_BLOCK_PICTURE picture type "Cover (front)"
MAX_COVER_BYTES = 16 * 1024 * 1024  # a larger "cover" is no album art worth copying
_IMAGE_TYPES = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"))


@dataclass(frozen=True, slots=True)
class Tags:
    """Song metadata from tags; None where a tag is absent or empty.

    year: the first four-digit year of the date tag. album_track: the track number (from
    "3" or "3/12"). cover: (``"jpg"`` or ``"png"``, image bytes) of the front cover, else of
    the first picture.
    """

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    genre: str | None = None
    year: int | None = None
    album_track: int | None = None
    cover: tuple[str, bytes] | None = None

    def or_else(self, other: Tags) -> Tags:
        """These tags, with ``other``'s where these have none."""
        return replace(self, **{f.name: getattr(other, f.name) for f in fields(self)
                                if getattr(self, f.name) is None})


def read_tags(path: Path) -> Tags:
    """The tags of the audio file at ``path``; an empty ``Tags`` when it has none or mutagen
    cannot read them (the audio itself is checked by the decoder, not here)."""
    try:
        # easy=True gives the text tags one set of keys in every format, but hides ID3's
        # pictures: the pictures come from a second, plain read of the (small) tag block.
        easy = mutagen.File(path, easy=True)
        raw = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError):
        return Tags()
    if not easy or not easy.tags:
        return Tags(cover=_cover(raw))

    def first(key: str) -> str | None:
        values = easy.tags.get(key) or []
        text = str(values[0]).strip() if values else ""
        return text or None

    return Tags(title=first("title"), artist=first("artist"), album=first("album"),
                genre=first("genre"), year=_number(first("date"), r"\b(\d{4})\b"),
                album_track=_number(first("tracknumber"), r"^\s*(\d+)"), cover=_cover(raw))


def read_song_ini(folder: Path) -> Tags:
    """The names in the song.ini of the song folder ``folder``, the one the library scan reads
    (``scan.find_ini``): ``name``, ``artist``, ``album``, ``genre``, ``year`` (its first
    four-digit year, so the old ``", 2004"`` form reads too) and ``album_track`` (or its
    legacy alias ``track``); an empty ``Tags`` without one, or with one too large to be read.
    Values as scan-chart's ``getIniString`` reads them: empty, ``0`` and ``-1`` are absent,
    rich-text tags are kept. Never raises for malformed content (``SongIni.from_bytes``); an
    unreadable file raises OSError."""
    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    ini = find_ini(files, lambda name: (folder / name).read_bytes())
    if ini is None:
        return Tags()
    return Tags(title=ini.get_str("name"), artist=ini.get_str("artist"),
                album=ini.get_str("album"), genre=ini.get_str("genre"),
                year=_number(ini.get_str("year"), r"\b(\d{4})\b"),
                album_track=ini.get_int("album_track"))


def _number(text: str | None, pattern: str) -> int | None:
    match = re.search(pattern, text or "")
    return int(match.group(1)) if match else None


def _cover(audio: mutagen.FileType | None) -> tuple[str, bytes] | None:
    # The front cover first, then the others in the file's order (sorted is stable).
    pictures = sorted(_pictures(audio), key=lambda p: p[0] != FRONT_COVER)
    for _, data in pictures:
        kind = next((ext for magic, ext in _IMAGE_TYPES if data.startswith(magic)), None)
        if kind and len(data) <= MAX_COVER_BYTES:
            return kind, data
    return None


def _pictures(audio: mutagen.FileType | None) -> list[tuple[int, bytes]]:
    """(picture type, bytes) of every embedded picture, in the file's order."""
    if audio is None:
        return []
    if getattr(audio, "pictures", None):  # FLAC picture blocks
        return [(p.type, p.data) for p in audio.pictures]
    tags = audio.tags
    if tags is None:
        return []
    if isinstance(tags, ID3):  # mp3, and wav / aiff with an ID3 chunk
        return [(frame.type, frame.data) for frame in tags.getall("APIC")]
    if "covr" in tags:  # MP4 / m4a: covers carry no picture type
        return [(FRONT_COVER, bytes(cover)) for cover in tags["covr"]]
    pictures = []
    for encoded in tags.get("metadata_block_picture", []):  # Ogg Vorbis / Opus comments
        try:
            picture = Picture(base64.b64decode(encoded))
        except (binascii.Error, mutagen.MutagenError, ValueError):
            continue
        pictures.append((picture.type, picture.data))
    return pictures
