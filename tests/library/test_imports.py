"""import_songs on real songs and real (and hostile) archives built at test time."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import py7zr
import pytest
from django.core.management import CommandError, call_command

from content.formats.sng import write_sng
from content.library import imports
from content.library.imports import songs_import
from content.models import Song
from content.storage.base import StorageError

from ..conftest import FIXTURES

pytestmark = pytest.mark.django_db


def song_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("notes.*"))


def zip_folders(folders: list[Path], out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in folders:
            for file in folder.iterdir():
                archive.write(file, f"pack/{folder.name}/{file.name}")
    return out


def library_files(library) -> set[str]:
    return {str(p.relative_to(library.root)) for p in library.root.rglob("*") if p.is_file()}


@pytest.fixture
def empty_library(library):
    """The library fixture with its Songs/ emptied: imports start from nothing."""
    source = library.root.parent / "source"
    shutil.move(library.root / "Songs", source)
    (library.root / "Songs").mkdir()
    return library, source


def test_a_zip_of_songs_is_imported_under_artist_and_name(empty_library, tmp_path):
    library, source = empty_library
    folders = song_dirs(source)[:3]
    report = songs_import(sources=[zip_folders(folders, tmp_path / "pack.zip")], storage=library)
    assert [r.status for r in report.results] == ["imported"] * 3
    for result in report.results:
        song = Song.objects.get(pk=result.song_id)
        assert song.path == result.song_path
        assert song.path.startswith("Songs/") and song.path.count("/") == 2
        assert (library.root / song.path / "notes.mid").is_file()
        assert song.chart_md5 and song.files.filter(name="song.ini").exists()
    assert not any((tmp_path / "scratch").iterdir()) if (tmp_path / "scratch").exists() else True


def test_the_same_charts_again_are_duplicates(empty_library, tmp_path):
    library, source = empty_library
    pack = zip_folders(song_dirs(source)[:2], tmp_path / "pack.zip")
    songs_import(sources=[pack], storage=library)
    before = library_files(library)
    report = songs_import(sources=[pack], storage=library)
    assert [r.status for r in report.results] == ["duplicate", "duplicate"]
    assert "MD5" in report.results[0].reason
    assert library_files(library) == before and Song.objects.count() == 2


def test_a_different_song_with_the_same_name_gets_a_suffix(empty_library, tmp_path):
    library, source = empty_library
    first, second = song_dirs(source)[:2]
    twin = tmp_path / "twin"
    shutil.copytree(second, twin)
    shutil.copy(first / "song.ini", twin / "song.ini")  # same artist and name, other chart
    songs_import(sources=[first], storage=library)
    report = songs_import(sources=[twin], storage=library)
    assert report.results[0].status == "imported"
    assert report.results[0].song_path.endswith(" (2)")


def test_unsafe_names_are_made_safe(empty_library, tmp_path):
    library, source = empty_library
    song = tmp_path / "odd"
    shutil.copytree(song_dirs(source)[0], song)
    (song / "song.ini").write_text(
        "[song]\nname = What? <color=#f00>Now</color>.\nartist = AC/DC\n")
    report = songs_import(sources=[song], storage=library)
    assert report.results[0].song_path == "Songs/AC_DC/What_ Now"


def test_a_song_without_song_ini_is_named_after_its_folder_or_archive(empty_library, tmp_path):
    library, source = empty_library
    folder, packed = tmp_path / "crowded-sky", tmp_path / "deep roots"
    for target, song in ((folder, song_dirs(source)[0]), (packed, song_dirs(source)[1])):
        shutil.copytree(song, target)
        (target / "song.ini").unlink()
    with zipfile.ZipFile(tmp_path / "Deep Roots.zip", "w") as archive:
        for file in packed.iterdir():
            archive.write(file, file.name)
    report = songs_import(sources=[folder, tmp_path / "Deep Roots.zip"], storage=library)
    assert [r.song_path for r in report.results] == ["Songs/Unknown Artist/crowded-sky",
                                                      "Songs/Unknown Artist/Deep Roots"]


def test_a_7z_and_a_sng_are_imported(empty_library, tmp_path):
    library, source = empty_library
    first, second = song_dirs(source)[:2]
    seven = tmp_path / "song.7z"
    with py7zr.SevenZipFile(seven, "w") as archive:
        archive.writeall(first, first.name)
    sng = tmp_path / "second.sng"
    with sng.open("wb") as out:
        write_sng({"name": "From SNG", "artist": "Packer", "charter": "x"},
                  {"notes.mid": (second / "notes.mid").read_bytes()}, out)
    report = songs_import(sources=[seven, sng], storage=library)
    assert [r.status for r in report.results] == ["imported", "imported"], report.results
    song = Song.objects.get(pk=report.results[1].song_id)
    assert song.is_sng and song.path == "Songs/Packer/From SNG.sng" and song.name == "From SNG"
    assert song.tracks.exists()


def test_the_zip_bomb_is_rejected_and_leaves_nothing(empty_library, tmp_path):
    library, _ = empty_library
    report = songs_import(sources=[FIXTURES / "hostile" / "zbsm.zip"], storage=library)
    assert [r.status for r in report.results] == ["rejected"]
    assert "zbsm.zip" in report.results[0].reason
    assert library_files(library) == set() and Song.objects.count() == 0


def test_an_archive_with_a_traversal_entry_is_rejected_whole(empty_library, tmp_path):
    library, source = empty_library
    pack = zip_folders(song_dirs(source)[:1], tmp_path / "evil.zip")
    with zipfile.ZipFile(pack, "a") as archive:
        archive.writestr("../../outside.txt", "x")
    report = songs_import(sources=[pack], storage=library)
    assert report.results[0].status == "rejected" and "evil.zip" in report.results[0].reason
    assert library_files(library) == set() and Song.objects.count() == 0
    assert not (tmp_path / "outside.txt").exists()


def test_every_hostile_rar_is_rejected(empty_library):
    library, _ = empty_library
    hostile = sorted((FIXTURES / "hostile" / "rar").glob("rar5-*sym*.rar")) + [
        FIXTURES / "hostile" / "rar" / "rar5-psw.rar",
        FIXTURES / "hostile" / "rar" / "rar5-hlink.rar"]
    report = songs_import(sources=hostile, storage=library)
    assert [r.status for r in report.results] == ["rejected"] * len(hostile)
    assert library_files(library) == set()


def test_an_archive_without_songs_is_rejected_with_the_reason(empty_library, tmp_path):
    library, _ = empty_library
    report = songs_import(sources=[FIXTURES / "hostile" / "rar" / "rar5-subdirs.rar"],
                          storage=library)
    assert report.results[0].status == "rejected"
    assert "no song folder" in report.results[0].reason


def test_a_song_without_a_chart_is_rejected(empty_library, tmp_path):
    library, _ = empty_library
    song = tmp_path / "nochart"
    song.mkdir()
    (song / "song.ini").write_text("[song]\nname = x\n")
    (song / "song.ogg").write_bytes(b"\0" * 100)
    report = songs_import(sources=[song], storage=library)
    assert report.results[0].status == "rejected" and "chart" in report.results[0].reason.lower()
    assert library_files(library) == set()


def test_a_database_failure_takes_the_published_song_out_again(empty_library, tmp_path,
                                                               monkeypatch):
    library, source = empty_library

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(imports, "song_record", broken)
    with pytest.raises(RuntimeError):
        songs_import(sources=[song_dirs(source)[0]], storage=library)
    assert library_files(library) == set() and Song.objects.count() == 0


def test_a_storage_failure_mid_publish_leaves_nothing(empty_library, tmp_path, monkeypatch):
    library, source = empty_library
    real_write, calls = library.write, []

    def failing_write(path, data, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise StorageError(f"{path}: No space left on device")
        return real_write(path, data, **kwargs)

    monkeypatch.setattr(library, "write", failing_write)
    report = songs_import(sources=[song_dirs(source)[0]], storage=library)
    assert report.results[0].status == "rejected"
    assert "No space left" in report.results[0].reason
    assert library_files(library) == set() and Song.objects.count() == 0


def test_the_command_lists_each_song(empty_library, tmp_path, capsys):
    library, source = empty_library
    pack = zip_folders(song_dirs(source)[:2], tmp_path / "pack.zip")
    call_command("import_songs", str(pack))
    out = capsys.readouterr().out
    assert out.count("imported ") >= 2 and "imported 2, duplicates 0, rejected 0" in out
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_songs", str(FIXTURES / "hostile" / "zbsm.zip"))
