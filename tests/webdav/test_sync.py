"""sync_library against the Nextcloud-like server and plain wsgidav, on real songs.

The scenarios are ../shared/reference/reliability.md §2.3 (S1–S20) where they apply to a
server-side library; each ends with the database matching the server tree.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from content.formats.scan import is_song_folder
from content.library.editing import SongChangedOnDisk, song_ini_update
from content.library.imports import songs_import
from content.library.sync import SyncAborted, library_sync
from content.models import LibraryFolder, Song
from content.storage.base import STAGING_FOLDER
from tests.conftest import FIXTURES

from .conftest import make_storage

pytestmark = pytest.mark.django_db
NC_ONLY = pytest.mark.parametrize("dav", ["nc"], indirect=True)
PLAIN_ONLY = pytest.mark.parametrize("dav", ["plain"], indirect=True)

CHARTS = FIXTURES / "charts" / "chorus" / "charts"
CHART = CHARTS / "expert-9-notes-simple.chart"
HOSTILE = "Ünï – #1 at 100% [Live] (Take 2)"


def chart_song(dav, rel: str, *, name: str = "Nine Notes", artist: str = "Chorus",
               chart: Path = CHART, propagate: bool = True) -> None:
    """A song folder written as a Nextcloud user would: song.ini, notes.chart and audio (or
    straight on disk with ``propagate=False``: no ancestor ETag changes)."""
    dav.write_file(f"CloneHero/{rel}/notes.chart", chart.read_bytes(), propagate=propagate)
    dav.write_file(f"CloneHero/{rel}/song.ini",
                   f"[song]\nname = {name}\nartist = {artist}\ncharter = tests\n".encode(),
                   propagate=propagate)
    dav.write_file(f"CloneHero/{rel}/song.ogg", b"OggS" + os.urandom(4000), propagate=propagate)


def server_songs(dav) -> dict[str, str]:
    """Song folders on the server (path below CloneHero → song.ini name)."""
    base = dav.disk("CloneHero")
    found = {}
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if Path(root) != base and is_song_folder(files):
            ini = (Path(root) / "song.ini").read_text("utf-8", "replace") \
                if "song.ini" in files else ""
            match = re.search(r"^\s*name\s*=\s*(.*?)\s*$", ini, re.M | re.I)
            found[Path(root).relative_to(base).as_posix()] = match.group(1) if match else ""
            dirs[:] = []
    return found


def assert_db_matches(dav) -> None:
    """The invariant after every scenario: the present songs are exactly the server's."""
    db = {s.path: s.name for s in Song.objects.present()}
    assert db == server_songs(dav)


@pytest.fixture
def library(dav, sample_songs, settings, tmp_path):
    """Six real songs and one .chart song with a hostile name under CloneHero/Songs."""
    settings.SCRATCH_ROOT = tmp_path / "scratch"
    for rel, folder in sample_songs[:6]:
        dav.copy_tree(folder, f"CloneHero/Songs/{rel}")
    chart_song(dav, f"Songs/Hostile/{HOSTILE}")
    return dav


@pytest.fixture
def synced(library, storage):
    """The library after a first sync, with the server's request log cleared."""
    library_sync(storage=storage)
    library.clear()
    return storage


def dav_files(dav, names: tuple[str, ...]) -> list[Path]:
    return [p for p in dav.disk("CloneHero").rglob("*") if p.name in names]


def song_gets(dav) -> list[str]:
    return [s.path.rsplit("/", 1)[-1] for s in dav.seen if s.method == "GET"]


# --- add, change, move, delete ---------------------------------------------------------------

def test_a_first_sync_adds_every_song_and_downloads_only_ini_and_chart(library, storage):
    run = library_sync(storage=storage)

    assert run.added == 7 and run.errors == 0
    assert_db_matches(library)
    assert set(song_gets(library)) <= {"song.ini", "notes.mid", "notes.chart"}
    assert len(song_gets(library)) == 14  # two per song, never audio
    hostile = Song.objects.get(path=f"Songs/Hostile/{HOSTILE}")
    assert hostile.name == "Nine Notes" and hostile.chart_name == "notes.chart"
    assert hostile.audio_files == ["song.ogg"]
    if library.mode == "nc":
        assert hostile.fileid == library.fileid(f"CloneHero/Songs/Hostile/{HOSTILE}")
        assert LibraryFolder.objects.get(path="").etag == library.etag("CloneHero")
    assert run.requests == len(library.seen)  # the summary counts every request sent
    assert run.bytes_downloaded > sum(p.stat().st_size for p in
                                      dav_files(library, ("song.ini", "notes.mid", "notes.chart")))


def test_a_first_sync_lists_the_whole_tree_with_one_deep_propfind(library, storage):
    library_sync(storage=storage)

    assert library.count("PROPFIND", depth="infinity") == 1
    assert library.count("PROPFIND", depth="1") == 0
    assert library.count("PROPFIND") == 2  # plus the Depth 0 of the sync folder
    assert_db_matches(library)


@NC_ONLY
def test_a_server_that_clamps_infinity_is_walked_folder_by_folder(library):
    library.clamp_infinity = True
    storage = make_storage(library)
    run = library_sync(storage=storage)

    assert run.added == 7 and run.errors == 0
    assert library.count("PROPFIND", depth="1") > 1
    assert_db_matches(library)


@NC_ONLY
def test_s1_an_unchanged_nextcloud_library_costs_one_propfind_depth_0(dav, library, synced):
    run = library_sync(storage=synced)

    assert dav.count() == 1 and dav.count("PROPFIND", depth="0") == 1
    assert run.requests == 1 and run.unchanged == 7
    assert (run.added, run.updated, run.moved, run.removed) == (0, 0, 0, 0)
    assert_db_matches(dav)


@PLAIN_ONLY
def test_an_unchanged_plain_library_is_walked_but_nothing_is_downloaded(dav, library, synced):
    run = library_sync(storage=synced)
    assert dav.count("GET") == 0 and dav.count("PROPFIND") > 1  # a full walk: no ETags
    assert run.unchanged == 7 and (run.added, run.updated, run.removed) == (0, 0, 0)
    assert_db_matches(dav)


def test_s2_an_edited_song_ini_is_read_again_and_only_its_branch_is_walked(dav, library, synced):
    path = f"Songs/Hostile/{HOSTILE}"
    dav.write_file(f"CloneHero/{path}/song.ini", b"[song]\nname = Renamed Title\nartist = X\n")

    run = library_sync(storage=synced)

    assert run.updated == 1 and (run.added, run.removed) == (0, 0)
    assert Song.objects.get(path=path).name == "Renamed Title"
    assert_db_matches(dav)
    if dav.mode == "plain":
        assert run.unchanged == 6
    if dav.mode == "nc":
        # Depth 0 of the root, then one listing per level down to the song (root, Songs,
        # Hostile, the song), then song.ini and the chart: the other branches are skipped.
        listed = sorted(s.path for s in dav.seen if s.method == "PROPFIND" and s.depth == "1")
        assert listed == ["/CloneHero", "/CloneHero/Songs", "/CloneHero/Songs/Hostile",
                          f"/CloneHero/{path}"]
        assert run.requests == 7 == len(path.split("/")) + 4


def test_added_and_deleted_songs(dav, library, synced):
    chart_song(dav, "Songs/New Artist/New Song", name="Fresh")
    gone = next(iter(sorted(server_songs(dav))))
    dav.remove(f"CloneHero/{gone}")

    run = library_sync(storage=synced)

    assert (run.added, run.removed) == (1, 1)
    assert Song.objects.get(path=gone).removed_at is not None
    assert_db_matches(dav)


def test_s3_a_renamed_or_moved_song_keeps_its_row(dav, library, synced):
    old = f"Songs/Hostile/{HOSTILE}"
    before = Song.objects.get(path=old)
    dav.move(f"CloneHero/{old}", "CloneHero/Songs/Elsewhere/Moved [x] #2")

    run = library_sync(storage=synced)

    after = Song.objects.get(path="Songs/Elsewhere/Moved [x] #2")
    assert_db_matches(dav)
    if dav.mode == "nc":  # keyed by oc:fileid: the same row, nothing downloaded
        assert after.pk == before.pk and run.moved == 1 and run.added == 0
        assert song_gets(dav) == []
        assert not Song.objects.filter(path=old).exists()
    else:  # a plain server has no ids: a rename is a removal and an addition
        assert (run.added, run.removed) == (1, 1)
        assert Song.objects.get(path=old).removed_at is not None


@NC_ONLY
def test_s3_a_moved_artist_folder_keeps_all_its_rows(dav, library, synced):
    artist = sorted(server_songs(dav))[0].rsplit("/", 1)[0]
    rows = {s.pk for s in Song.objects.filter(path__startswith=artist + "/")}
    dav.move(f"CloneHero/{artist}", "CloneHero/Songs/Renamed Artist")

    run = library_sync(storage=synced)

    assert {s.pk for s in Song.objects.filter(path__startswith="Songs/Renamed Artist/")} == rows
    assert run.moved == len(rows) and run.removed == 0 and run.added == 0
    assert_db_matches(dav)


@NC_ONLY
def test_s4_a_case_only_rename_is_a_rename(dav, library, synced):
    old = f"Songs/Hostile/{HOSTILE}"
    pk = Song.objects.get(path=old).pk
    dav.move(f"CloneHero/{old}", f"CloneHero/Songs/Hostile/{HOSTILE.upper()}")
    run = library_sync(storage=synced)
    assert Song.objects.get(path=f"Songs/Hostile/{HOSTILE.upper()}").pk == pk
    assert run.moved == 1 and Song.objects.count() == 7
    assert_db_matches(dav)


# --- S7: a backup restored on the server --------------------------------------------------------

@NC_ONLY
def test_s7_a_restored_backup_is_read_again_whole_without_trusting_etags(dav, library, synced):
    # The restored server: older contents under the very ETags stored at the last sync, a song
    # made after the backup gone, one deleted after the backup back; no ancestor ETag changed.
    kept = f"Songs/Hostile/{HOSTILE}"
    kept_pk = Song.objects.get(path=kept).pk
    ini = dav.disk(f"CloneHero/{kept}/song.ini")
    ini.write_bytes(b"[song]\nname = From the backup\nartist = Chorus\n")
    gone = sorted(server_songs(dav))[0]
    shutil.rmtree(dav.disk(f"CloneHero/{gone}"))
    chart_song(dav, "Songs/Hostile/Back From Backup", name="Back", propagate=False)
    assert dav.etag("CloneHero") == LibraryFolder.objects.get(path="").etag

    run = library_sync(storage=synced)  # same fingerprint: the ETags say nothing changed
    assert run.requests == 1 and Song.objects.get(pk=kept_pk).name == "Nine Notes"

    dav.restore_backup("restored-1")
    dav.clear()
    run = library_sync(storage=synced)

    assert run.full and run.errors == 0
    assert (run.added, run.updated, run.removed, run.moved) == (1, 6, 1, 0)
    assert len(song_gets(dav)) == 14  # song.ini and chart of every song, ETags or not
    assert Song.objects.get(pk=kept_pk).name == "From the backup"
    assert Song.objects.get(path=gone).removed_at is not None
    assert LibraryFolder.objects.get(path="").data_fingerprint == "restored-1"
    assert_db_matches(dav)
    dav.clear()
    run = library_sync(storage=synced)  # trusted again: the warm sync is one request
    assert run.requests == 1 and not run.full
    assert_db_matches(dav)


@NC_ONLY
def test_s7_after_a_restore_rows_are_matched_by_path_not_by_reused_file_ids(dav, library,
                                                                            synced):
    victim = Song.objects.get(path=sorted(server_songs(dav))[0])
    shutil.rmtree(dav.disk(f"CloneHero/{victim.path}"))  # made after the backup
    # The restored database hands the ids it never saw out again, to new uploads.
    new = "Songs/Other/Uploaded After The Restore"
    chart_song(dav, new, name="New")
    dav.set_fileid(f"CloneHero/{new}", victim.fileid)
    dav.restore_backup("restored-2")

    run = library_sync(storage=synced)

    assert (run.added, run.removed, run.moved) == (1, 1, 0)
    victim.refresh_from_db()
    assert victim.removed_at is not None and victim.name != "New"
    assert Song.objects.get(path=new).pk != victim.pk
    assert_db_matches(dav)


@NC_ONLY
def test_s7_a_restore_sync_that_fails_part_way_is_full_again_next_time(dav, library, synced):
    dav.restore_backup("restored-3")
    dav.fail(method="PROPFIND", depth="infinity", times=-1)
    dav.fail(method="PROPFIND", path="/Songs/Hostile", depth="1", times=-1)

    run = library_sync(storage=synced)
    assert run.full and run.errors == 1
    assert LibraryFolder.objects.get(path="").data_fingerprint == ""

    dav.clear()
    run = library_sync(storage=synced)
    assert run.full and run.errors == 0
    run = library_sync(storage=synced)
    assert not run.full and run.requests == 1
    assert_db_matches(dav)


# --- failures ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    dict(action="status", status=503, times=-1),
    dict(action="malformed", times=-1),
    dict(action="slow", delay=0.5, times=-1),
])
def test_s5_a_failing_subfolder_keeps_its_rows_and_the_next_run_recovers(dav, library, fault):
    storage = make_storage(dav, retries=1, timeout=0.2 if fault["action"] == "slow" else 5.0)
    library_sync(storage=storage)
    chart_song(dav, "Songs/Hostile/Second Song", name="Second")
    chart_song(dav, "Songs/Other/Third Song", name="Third")
    dav.remove(f"CloneHero/Songs/Hostile/{HOSTILE}")
    dav.fail(method="PROPFIND", path="/Songs/Hostile", depth="1", **fault)
    # Plain servers are synced from one deep listing: it fails alike, and the sync falls back
    # to listing folder by folder (Nextcloud's incremental sync lists by level anyway).
    dav.fail(method="PROPFIND", depth="infinity", **fault)

    run = library_sync(storage=storage)

    assert run.errors == 1
    assert Song.objects.get(path=f"Songs/Hostile/{HOSTILE}").removed_at is None  # kept
    assert Song.objects.filter(path="Songs/Other/Third Song").exists()  # the rest synced
    assert not Song.objects.filter(path="Songs/Hostile/Second Song").exists()

    dav.clear()
    run = library_sync(storage=storage)
    assert run.errors == 0
    assert_db_matches(dav)


def test_s5_a_song_that_cannot_be_read_is_kept_and_read_next_time(dav, library, synced):
    path = f"Songs/Hostile/{HOSTILE}"
    dav.write_file(f"CloneHero/{path}/song.ini", b"[song]\nname = Changed\n")
    dav.fail(status=500, method="GET", path=f"{HOSTILE}/song.ini", times=-1)

    run = library_sync(storage=synced)
    assert run.errors == 1 and Song.objects.get(path=path).name == "Nine Notes"

    dav.clear()
    run = library_sync(storage=synced)
    assert run.errors == 0 and run.updated == 1
    assert_db_matches(dav)


def test_s6_a_mass_vanish_marks_nothing_without_confirmation(dav, library, storage):
    for number in range(8):
        chart_song(dav, f"Songs/Many/Song {number}", name=f"Song {number}")
    library_sync(storage=storage)
    assert Song.objects.present().count() == 15
    dav.move("CloneHero/Songs", "Backup of Songs")  # out of the library: they vanish
    dav.disk("CloneHero/Songs").mkdir()

    with pytest.raises(SyncAborted, match="confirm-removals"):
        library_sync(storage=storage)
    assert Song.objects.present().count() == 15

    run = library_sync(storage=storage, confirm_removals=True)
    assert run.removed == 15
    assert_db_matches(dav)


def test_s8_a_401_stops_the_command_at_once_naming_the_settings(dav, library, nextcloud_settings):
    call_command("sync_library")
    present = Song.objects.present().count()
    dav.clear()
    dav.fail(status=401, times=-1)

    with pytest.raises(CommandError, match="NEXTCLOUD_USER and NEXTCLOUD_APP_PASSWORD"):
        call_command("sync_library")
    assert dav.count() == 1  # never retried
    assert Song.objects.present().count() == present


def test_s8_a_401_mid_scan_is_never_retried_and_removes_nothing(dav, library, storage):
    library_sync(storage=storage)
    chart_song(dav, "Songs/Hostile/Another", name="Another")
    dav.remove(f"CloneHero/Songs/Hostile/{HOSTILE}")
    dav.clear()
    dav.fail(status=401, method="PROPFIND", path="/Songs/Hostile", depth="1", times=-1)
    dav.fail(status=401, method="PROPFIND", depth="infinity", times=-1)  # plain: deep listing

    try:
        library_sync(storage=storage)
    except Exception as error:  # noqa: BLE001 — stopping at once is the better outcome
        assert "NEXTCLOUD_APP_PASSWORD" in str(error)
    # Every matching request is refused: one 401 means no retry against brute-force limits.
    assert len([s for s in dav.seen if s.status == 401]) == 1
    assert Song.objects.filter(removed_at__isnull=False).count() == 0
    assert not Song.objects.filter(path="Songs/Hostile/Another").exists()


def test_s8_a_401_mid_scan_stops_the_command_naming_the_settings(dav, library,
                                                                  nextcloud_settings):
    call_command("sync_library")
    # A change below Songs/Hostile makes the sync descend there, into the 401.
    dav.write_file("CloneHero/Songs/Hostile/touched.txt", b"x")
    dav.fail(status=401, method="PROPFIND", path="/Songs/Hostile", depth="1", times=-1)
    dav.fail(status=401, method="PROPFIND", depth="infinity", times=-1)  # plain: deep listing
    with pytest.raises(CommandError, match="NEXTCLOUD_APP_PASSWORD"):
        call_command("sync_library")


def test_s15_a_song_ini_changed_during_the_scan_is_read_again_by_the_next_run(
        dav, library, synced, monkeypatch):
    path = f"Songs/Hostile/{HOSTILE}"
    ini = f"CloneHero/{path}/song.ini"
    dav.write_file(ini, b"[song]\nname = First edit\nartist = Chorus\n")
    real_read = synced.read

    def read_after_a_second_edit(rel):
        # The user saves again between our listing and our download of that file.
        if rel == f"{path}/song.ini" and b"Second" not in dav.disk(ini).read_bytes():
            dav.write_file(ini, b"[song]\nname = Second edit, longer\nartist = Chorus\n")
        return real_read(rel)

    monkeypatch.setattr(synced, "read", read_after_a_second_edit)
    run = library_sync(storage=synced)
    song = Song.objects.get(path=path)
    assert run.updated == 1 and song.name == "Second edit, longer"
    # The stored ETag is the listed one, older than the file: an edit now is refused...
    with pytest.raises(SongChangedOnDisk, match="sync"):
        song_ini_update(song=song, changes={"name": "Mine"}, storage=synced)

    monkeypatch.undo()
    run = library_sync(storage=synced)  # ...and the next run sees the change and reads again
    song.refresh_from_db()
    assert run.updated == 1 and song.name == "Second edit, longer"
    assert song.ini_etag == synced.stat(f"{path}/song.ini").etag
    song_ini_update(song=song, changes={"name": "Mine"}, storage=synced)
    assert b"name = Mine" in dav.disk(ini).read_bytes()
    assert_db_matches(dav)


def test_s14_an_edit_is_refused_when_song_ini_changed_on_the_server(dav, library, synced):
    path = f"Songs/Hostile/{HOSTILE}"
    song = Song.objects.get(path=path)
    dav.write_file(f"CloneHero/{path}/song.ini",
                   b"[song]\nname = Edited on Nextcloud meanwhile\nartist = Chorus\n")

    with pytest.raises(SongChangedOnDisk, match="sync"):
        song_ini_update(song=song, changes={"name": "Mine"}, storage=synced)
    assert b"meanwhile" in dav.disk(f"CloneHero/{path}/song.ini").read_bytes()
    assert any(s.method == "PUT" and s.status == 412 and s.headers.get("If-Match")
               for s in dav.seen) or dav.mode == "plain"

    library_sync(storage=synced)
    song.refresh_from_db()
    song_ini_update(song=song, changes={"name": "Mine"}, storage=synced)
    assert b"name = Mine" in dav.disk(f"CloneHero/{path}/song.ini").read_bytes()
    library_sync(storage=synced)
    assert_db_matches(dav)


def test_s11_s16_an_import_whose_move_reply_was_lost_is_found_by_the_next_sync(
        dav, library, synced, tmp_path):
    source = tmp_path / "upload" / "Lost Reply"
    source.mkdir(parents=True)
    (source / "notes.chart").write_bytes((CHARTS / "hard-9-notes-simple.chart").read_bytes())
    (source / "song.ini").write_text("[song]\nname = Lost Reply\nartist = Proxy\n")
    dav.fail("lost_reply", status=504, method="MOVE")  # applied, but we never hear back

    report = songs_import(sources=[source], storage=synced)

    assert report.count("rejected") == 1
    assert not Song.objects.filter(name="Lost Reply").exists()
    assert dav.tree(f"CloneHero/{STAGING_FOLDER}") == []
    library_sync(storage=synced)  # the song is there whole: the next sync records it once
    assert Song.objects.filter(name="Lost Reply").count() == 1
    assert_db_matches(dav)


def test_s18_an_import_that_hits_507_leaves_no_half_song(dav, library, synced, tmp_path):
    source = tmp_path / "upload" / "Too Big"
    source.mkdir(parents=True)
    (source / "notes.chart").write_bytes((CHARTS / "medium-9-notes-simple.chart").read_bytes())
    (source / "song.ini").write_text("[song]\nname = Too Big\nartist = Quota\n")
    (source / "song.ogg").write_bytes(os.urandom(20_000))
    later = tmp_path / "upload" / "Later"
    later.mkdir()
    (later / "notes.chart").write_bytes((CHARTS / "easy-9-notes-simple.chart").read_bytes())
    (later / "song.ini").write_text("[song]\nname = Later\nartist = Quota\n")
    dav.fail(status=507, method="PUT", path="song.ogg", times=-1)

    report = songs_import(sources=[source, later], storage=synced)

    # A full Nextcloud stops the import like a full disk: the later song is not tried.
    assert len(report.results) == 1 and report.count("rejected") == 1
    assert "507" in report.results[0].reason and "no space left" in report.stopped
    assert not dav.disk("CloneHero/Songs/Quota").exists()
    assert dav.tree(f"CloneHero/{STAGING_FOLDER}") == []
    assert not Song.objects.filter(name="Too Big").exists()
    dav.clear()
    library_sync(storage=synced)
    assert_db_matches(dav)


def test_an_import_publishes_through_staging_and_the_next_sync_agrees(dav, library, synced,
                                                                      tmp_path):
    source = tmp_path / "upload" / "Fine"
    source.mkdir(parents=True)
    (source / "notes.chart").write_bytes((CHARTS / "easy-9-notes-simple.chart").read_bytes())
    (source / "song.ini").write_text("[song]\nname = Imported Fine\nartist = Importer\n")

    report = songs_import(sources=[source], storage=synced)
    assert report.count("imported") == 1
    song = Song.objects.get(name="Imported Fine")
    assert dav.disk(f"CloneHero/{song.path}/notes.chart").exists()

    run = library_sync(storage=synced)
    assert run.added == 0 and Song.objects.filter(name="Imported Fine").count() == 1
    assert_db_matches(dav)


def test_s16_a_dead_workers_staging_folder_is_ignored_and_removed(dav, library, synced):
    chart_song(dav, f"{STAGING_FOLDER}/job7-0123abcd", name="Half uploaded")
    chart_song(dav, f"{STAGING_FOLDER}/job8-4567ef01", name="Another job's")
    run = library_sync(storage=synced)
    assert run.added == 0 and not Song.objects.filter(name__in=["Half uploaded",
                                                                "Another job's"]).exists()
    assert synced.staging_remove("job7-") == 1  # the dead job's clean-up, and only its own
    assert {p.split("/")[0] for p in dav.tree(f"CloneHero/{STAGING_FOLDER}")} == {
        "job8-4567ef01"}
    assert_db_matches(dav)


def test_s20_hostile_names_from_the_server_are_stored_as_they_are(dav, library, synced):
    names = ["dots...", "trailing space ", "%2e%2e", "semi;colon?query=1", "tab\tname"]
    for name in names:
        chart_song(dav, f"Songs/Odd/{name}", name=f"odd {names.index(name)}")
    run = library_sync(storage=synced)
    assert run.added == len(names) and run.errors == 0
    assert {s.path for s in Song.objects.filter(path__startswith="Songs/Odd/")} == {
        f"Songs/Odd/{n}" for n in names}
    assert_db_matches(dav)


@NC_ONLY
def test_the_command_prints_the_summary_with_requests_and_bytes(dav, library, nextcloud_settings,
                                                                capsys):
    call_command("sync_library")
    out = capsys.readouterr().out
    assert "added 7" in out and "requests" in out and "downloaded" in out
    call_command("sync_library")
    out = capsys.readouterr().out
    assert "unchanged 7" in out and re.search(r"requests [12],", out)
