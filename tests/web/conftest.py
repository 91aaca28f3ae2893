"""A small real library for the web tests, synced into the test database.

Songs are built at run time from ../shared/fixtures (never copied into the repo): real
charts with song.ini files written here, plus one song.ini taken byte for byte from chorus
(cp1252-safe ASCII, CRLF, trailing comments) for the round-trip tests. Audio and album art
are generated (a short WAV and a tiny PNG), since the fixtures hold none.
"""
from __future__ import annotations

import math
import shutil
import struct
import wave
import zlib
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from content.library.sync import library_sync
from content.storage import library_storage

from ..conftest import FIXTURES

CHARTS = FIXTURES / "charts"
ONYX = FIXTURES / "onyx"

# folder under Songs/ -> (chart source, chart name, song.ini text or None)
SONGS = {
    "Return to Forever/Majestic Dance": (
        ONYX / "return-to-forever/majestic-dance/notes.mid", "notes.mid",
        "[song]\nname = Majestic Dance\nartist = Return to Forever\nalbum = Romantic Warrior\n"
        "genre = fusion\nyear = 1976\ncharter = Onyxite\nsong_length = 4000\n"
        "preview_start_time = 1500\ndiff_drums = 4\n"),
    "Bonobo/Kong": (
        ONYX / "bonobo/kong/notes.mid", "notes.mid",
        "[song]\nname = Kong\nartist = Bonobo\nalbum = Black Sands\ngenre = electronic\n"
        "year = 2010\ncharter = Onyxite\n"),
    "Snarky Puppy/Shofukan": (
        ONYX / "snarky-puppy/shofukan/notes.mid", "notes.mid",
        "[song]\nname = Shofukan\nartist = Snarky Puppy\nalbum = We Like It Here\n"
        "genre = fusion\nyear = 2014\ncharter = Onyxite\n"),
    "Hiromi/XYG": (
        ONYX / "hiromi-uehara/xyg/notes.mid", "notes.mid",
        "[song]\nname = XYG\nartist = Hiromi's Sonicbloom\nalbum = Beyond Standard\n"
        "genre = jazz\nyear = 2008\ncharter = Onyxite\n"),
    "Tagged/Crimson Tide": (
        CHARTS / "chorus/charts/drums-9-notes-mixed-star-power.chart", "notes.chart",
        "[song]\nname = <color=#FF0000>Crimson</color> Tide\nartist = <b>Tagged</b> Band\n"
        "album = Palette\ngenre = jazz\nyear = 1975\ncharter = Chorus\n"),
    "Ella Henderson/Ghost": (
        CHARTS / "chorus/charts/easy-expert-9-notes-simple.chart", "notes.chart", None),
    "Chart Only/Song Name": (
        CHARTS / "chartparse/test.chart", "notes.chart", None),
}
C3_INI = CHARTS / "chorus/ini/c3.ini"


def tiny_png() -> bytes:
    """A valid 2×2 orange PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\xfb\x92\x3c" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> None:
    """A quiet 440 Hz tone: enough for the player and for Range requests."""
    frames = b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * n / rate)))
                      for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def build_song(folder: Path, chart: Path, chart_name: str, ini: str | None) -> None:
    folder.mkdir(parents=True)
    shutil.copyfile(chart, folder / chart_name)
    if ini is not None:
        (folder / "song.ini").write_text(ini, encoding="utf-8")


@pytest.fixture(scope="session")
def web_library_source(tmp_path_factory) -> Path:
    """The library built once per session; tests get a copy (``web_library``)."""
    root = tmp_path_factory.mktemp("web") / "library"
    for name, (chart, chart_name, ini) in SONGS.items():
        build_song(root / "Songs" / name, chart, chart_name, ini)
    ghost = root / "Songs/Ella Henderson/Ghost"
    shutil.copyfile(C3_INI, ghost / "song.ini")
    majestic = root / "Songs/Return to Forever/Majestic Dance"
    (majestic / "album.png").write_bytes(tiny_png())
    write_wav(majestic / "song.wav")
    return root


@pytest.fixture
def web_library(tmp_path, web_library_source, settings) -> Path:
    """A writable copy of the library, set as LIBRARY_ROOT (SCRATCH_ROOT beside it)."""
    root = tmp_path / "library"
    shutil.copytree(web_library_source, root)
    settings.LIBRARY_ROOT = root
    settings.SCRATCH_ROOT = tmp_path / "scratch"
    return root


@pytest.fixture
def synced(web_library, db):
    """The library synced into the database; returns the SyncRun."""
    run = library_sync(storage=library_storage())
    assert run.errors == 0, run.error
    return run


@pytest.fixture
def viewer(db) -> User:
    return User.objects.create_user("viewer", password="pw-viewer-123")


@pytest.fixture
def editor(db) -> User:
    user = User.objects.create_user("editor", password="pw-editor-123")
    user.user_permissions.add(Permission.objects.get(codename="change_song",
                                                     content_type__app_label="content"))
    return user


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client
