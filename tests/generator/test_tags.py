"""Song names and album art from audio tags, on files ffmpeg encodes and mutagen tags at
test time, and from a song folder's own song.ini."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from content.generator.tags import FRONT_COVER, Tags, read_song_ini, read_tags
from tests.synthaudio import click_track, image, tagged_audio, write_audio

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg binary")
BACK_COVER = 4


@pytest.fixture(scope="module")
def samples():
    return click_track(seconds=3.0)[0]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("pictures")
    return {kind: image(folder / f"cover.{kind}") for kind in ("jpg", "png")}


@pytest.mark.parametrize("ext", ["mp3", "ogg", "opus", "flac"])
def test_names_album_and_front_cover_come_from_the_tags(tmp_path: Path, ext: str, samples,
                                                         pictures) -> None:
    # The back cover comes first in the file; the front cover is the album art.
    path = tagged_audio(tmp_path / f"song.{ext}", samples,
                        [(BACK_COVER, pictures["png"]), (FRONT_COVER, pictures["jpg"])])
    assert read_tags(path) == Tags(title="Tagged Song", artist="Tag Band", album="Tag Album",
                                   genre="Rock", year=2004, album_track=3,
                                   cover=("jpg", pictures["jpg"]))


def test_without_a_front_cover_the_first_picture_is_used(tmp_path: Path, samples,
                                                        pictures) -> None:
    path = tagged_audio(tmp_path / "song.flac", samples,
                        [(BACK_COVER, pictures["png"]), (BACK_COVER + 1, pictures["jpg"])])
    assert read_tags(path).cover == ("png", pictures["png"])


def test_a_picture_that_is_no_jpeg_or_png_is_no_album_art(tmp_path: Path, samples) -> None:
    path = tagged_audio(tmp_path / "song.mp3", samples, [(FRONT_COVER, b"GIF89a" + bytes(64))])
    tags = read_tags(path)
    assert tags.cover is None and tags.title == "Tagged Song"


def test_untagged_and_unreadable_files_have_no_tags(tmp_path: Path, samples) -> None:
    assert read_tags(write_audio(tmp_path / "plain.wav", samples)) == Tags()
    fake = tmp_path / "fake.mp3"
    fake.write_text("not audio")
    assert read_tags(fake) == Tags()


def test_a_song_folders_own_song_ini_names_it(tmp_path: Path) -> None:
    # As Clone Hero spells it, with the legacy "track" key, an old ", 2004" year, a "0" value
    # (absent to scan-chart) and a line that is no key at all.
    (tmp_path / "Song.INI").write_bytes(
        "\ufeff[Song]\r\nname = Ünïcode Song\r\nartist = The <b>Band</b>\r\ngenre = 0\r\n"
        "year = , 2004\r\ntrack = 7\r\nnot a key\r\n".encode())
    assert read_song_ini(tmp_path) == Tags(title="Ünïcode Song", artist="The <b>Band</b>",
                                           year=2004, album_track=7)
    assert read_song_ini(tmp_path / "..") == Tags()  # no song.ini
    (tmp_path / "Song.INI").write_bytes(b"[song]\nname = Huge\n" + b"; " * 2 ** 19)
    assert read_song_ini(tmp_path) == Tags()  # too large to be one, as the library scan says


def test_tags_fill_what_the_song_ini_leaves_out() -> None:
    own = Tags(title="Own", year=1999)
    audio = Tags(title="Tagged", artist="Band", year=2004, cover=("png", b"x"))
    assert own.or_else(audio) == Tags(title="Own", artist="Band", year=1999,
                                      cover=("png", b"x"))
