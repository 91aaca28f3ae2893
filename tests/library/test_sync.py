"""sync_library on a local library of real songs."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from content.library import songreader
from content.library.locks import LockBusy, exclusive_lock
from content.library.sync import SyncAborted, library_sync
from content.models import ChartTrack, Song, SongIssue, SyncRun
from content.storage.local import LocalStorage

pytestmark = pytest.mark.django_db


class CountingStorage(LocalStorage):
    """The local storage, counting file reads: a sync of an unchanged library reads nothing."""

    def __init__(self, root):
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, path):
        self.reads.append(path)
        return super().read(path)

    def read_range(self, path, offset, length):
        self.reads.append(path)
        return super().read_range(path, offset, length)


def song_folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("notes.*"))


def test_it_adds_every_song_folder_on_the_first_run(library):
    run = library_sync(storage=library)
    folders = song_folders(library.root)
    assert run.added == len(folders) == Song.objects.count()
    assert {s.path for s in Song.objects.all()} == {
        str(f.relative_to(library.root)) for f in folders}
    song = Song.objects.exclude(chart_md5="").first()
    assert song.name and song.artist and song.resolution in (480, 960)
    assert ChartTrack.objects.filter(song=song).exists() or song.issue_count


def test_it_reads_nothing_on_an_unchanged_library(library):
    library_sync(storage=library)
    counting = CountingStorage(library.root)
    run = library_sync(storage=counting)
    assert counting.reads == []
    assert (run.added, run.updated, run.removed) == (0, 0, 0)
    assert run.unchanged == Song.objects.count()


def test_it_updates_only_the_song_whose_ini_changed(library):
    library_sync(storage=library)
    folder = song_folders(library.root)[0]
    ini = folder / "song.ini"
    ini.write_text(ini.read_text().replace("[song]", "[song]\nname = Renamed <b>Song</b>", 1))
    counting = CountingStorage(library.root)
    run = library_sync(storage=counting)
    assert run.updated == 1 and run.added == 0
    rel = str(folder.relative_to(library.root))
    assert sorted(counting.reads) == sorted({f"{rel}/song.ini", f"{rel}/notes.mid"})
    song = Song.objects.get(path=rel)
    assert song.name == "Renamed <b>Song</b>"
    assert "renamed song" in song.search_text


def test_a_deleted_song_is_marked_removed_and_kept(library):
    library_sync(storage=library)
    folder = song_folders(library.root)[0]
    shutil.rmtree(folder)
    run = library_sync(storage=library)
    assert run.removed == 1
    song = Song.objects.get(path=str(folder.relative_to(library.root)))
    assert song.removed_at is not None
    assert Song.objects.present().count() == Song.objects.count() - 1


def test_a_song_that_comes_back_is_present_again(library, tmp_path):
    library_sync(storage=library)
    folder = song_folders(library.root)[0]
    shutil.move(folder, tmp_path / "aside")
    library_sync(storage=library)
    shutil.move(tmp_path / "aside", folder)
    run = library_sync(storage=library)
    assert run.updated == 1
    assert Song.objects.get(path=str(folder.relative_to(library.root))).removed_at is None


def test_a_vanished_library_is_not_marked_removed(library):
    library_sync(storage=library)
    shutil.rmtree(library.root / "Songs")
    (library.root / "Songs").mkdir()
    with pytest.raises(SyncAborted, match="confirm-removals"):
        library_sync(storage=library)
    assert Song.objects.present().count() == Song.objects.count()
    run = library_sync(storage=library, confirm_removals=True)
    assert run.removed == Song.objects.count()


def test_dry_run_writes_nothing(library):
    run = library_sync(storage=library, dry_run=True)
    assert run.added == len(song_folders(library.root))
    assert Song.objects.count() == 0


def test_full_rereads_every_song(library):
    library_sync(storage=library)
    counting = CountingStorage(library.root)
    run = library_sync(storage=counting, full=True)
    assert run.updated == Song.objects.count()
    assert len(counting.reads) >= Song.objects.count()


def _stored() -> dict[str, tuple]:
    """Every song's scanned columns with its tracks and issues, by path."""
    return {
        song.path: (song.name, song.chart_md5, song.chart_hash, song.chart_length_ms,
                    song.sections, song.instruments, song.issue_count, song.fingerprint,
                    sorted(song.tracks.values_list("instrument", "difficulty", "note_count",
                                                   "max_nps", "star_power_count")),
                    sorted(song.issues.values_list("type", "message", "time_ms")),
                    sorted(song.files.values_list("name", "size")))
        for song in Song.objects.all()}


def test_worker_processes_store_what_the_sync_process_stores(library, settings, monkeypatch):
    settings.SYNC_WORKERS = 1
    library_sync(storage=library)
    alone = _stored()
    submitted = []

    class CountingPool(songreader.ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(songreader, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(songreader, "MIN_SONGS_FOR_WORKERS", 2)
    settings.SYNC_WORKERS = 2
    run = library_sync(storage=library, full=True)
    assert run.updated == len(alone) == len(submitted) > 2
    assert _stored() == alone


def test_songs_are_written_in_batches(library, monkeypatch):
    from content.library import sync

    monkeypatch.setattr(sync, "RECORD_BATCH", 5)
    run = library_sync(storage=library)
    stored = _stored()
    assert run.added == len(stored) > 10  # three batches, the last one partial
    assert all(row[8] or row[6] for row in stored.values())  # tracks or issues for each
    run = library_sync(storage=library, full=True)
    assert run.updated == len(stored) and _stored() == stored


def test_issues_are_stored_with_their_track_and_time(library):
    library_sync(storage=library)
    issue = SongIssue.objects.exclude(instrument="").exclude(time_ms=None).first()
    if issue is None:  # the sample has at least one track-level issue on real charts
        pytest.fail("expected a track issue with a time among 12 real songs")
    assert issue.difficulty and issue.message


def test_nothing_below_a_song_folder_is_a_song(library):
    folder = song_folders(library.root)[0]
    nested = folder / "extra" / "inner"
    shutil.copytree(song_folders(library.root)[1], nested)
    library_sync(storage=library)
    assert not Song.objects.filter(path__contains="/extra/").exists()


def test_dot_and_macosx_folders_are_skipped(library):
    source = song_folders(library.root)[0]
    shutil.copytree(source, library.root / "__MACOSX" / "x")
    shutil.copytree(source, library.root / ".hidden" / "x")
    library_sync(storage=library)
    assert not Song.objects.filter(path__startswith="__MACOSX").exists()
    assert not Song.objects.filter(path__startswith=".hidden").exists()


def test_a_broken_chart_is_an_issue_not_a_crash(library):
    folder = song_folders(library.root)[0]
    (folder / "notes.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    run = library_sync(storage=library)
    assert run.errors == 0
    song = Song.objects.get(path=str(folder.relative_to(library.root)))
    assert song.issue_count >= 1
    assert any("notes.mid" in i.message for i in song.issues.all())


@pytest.mark.django_db(transaction=True)
def test_a_second_sync_exits_at_once_while_one_runs(library):
    held, release = threading.Event(), threading.Event()

    def hold():
        from django.db import connection
        with exclusive_lock("sync_library"):
            held.set()
            release.wait(10)
        connection.close()

    other = threading.Thread(target=hold)
    other.start()
    try:
        assert held.wait(10)
        with pytest.raises(LockBusy):
            library_sync(storage=library)
        with pytest.raises(CommandError, match="already running"):
            call_command("sync_library")
    finally:
        release.set()
        other.join()
    assert library_sync(storage=library).added > 0


def test_the_command_prints_a_summary(library, capsys):
    call_command("sync_library")
    out = capsys.readouterr().out
    count = len(song_folders(library.root))
    assert f"added {count}," in out and "unchanged 0" in out and " s" in out
    call_command("sync_library")
    assert f"unchanged {count}" in capsys.readouterr().out
    assert SyncRun.objects.count() == 2
