"""WebDavStorage against the Nextcloud-like and the plain wsgidav server: the Storage contract,
hostile names, Nextcloud specifics (ids, ETags, chunked upload, cookies, user id) and every
injected fault ending in the right number of attempts or the right clear error."""
from __future__ import annotations

import io
import os
import shutil
import time

import pytest
import requests

from content.storage.base import (
    STAGING_FOLDER,
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    staging_owner,
)
from content.storage.webdav import (
    AuthenticationFailed,
    BadResponse,
    InsufficientStorage,
    StorageUnavailable,
    WebDavStorage,
    clean_etag,
)

from .conftest import KiB, make_storage

HOSTILE = ["Ünïcödé – 日本語 ♫", "AC#DC", "100% Pure", "with  two  spaces",
           "[Brackets] (and) {braces}", "what?&=+;,'", "trailing.dots...", "-leading dash"]


def put(dav, rel: str, data: bytes = b"x") -> None:
    dav.write_file(f"CloneHero/{rel}", data)


# --- the Storage contract, both servers ------------------------------------------------------

def test_it_lists_children_with_sizes_dates_and_kinds(dav, storage):
    put(dav, "Songs/Artist/Song/song.ini", b"[song]\nname = A\n")
    put(dav, "Songs/Artist/Song/notes.chart", b"c" * 300)

    songs = storage.list("Songs/Artist/Song")

    assert [(e.name, e.is_dir, e.size) for e in songs] == [("notes.chart", False, 300),
                                                           ("song.ini", False, 16)]
    assert all(e.path == f"Songs/Artist/Song/{e.name}" for e in songs)
    assert all(abs(e.mtime - time.time()) < 120 and e.etag for e in songs)
    folder = storage.stat("Songs/Artist")
    assert folder.is_dir and folder.name == "Artist" and folder.path == "Songs/Artist"
    assert storage.stat("").is_dir and storage.stat("").path == ""


def test_missing_paths_raise_not_found(dav, storage):
    put(dav, "Songs/a.txt")
    with pytest.raises(NotFound):
        storage.stat("Songs/nope")
    with pytest.raises(NotFound):
        storage.list("Songs/nope")
    with pytest.raises(NotFound):
        storage.read("Songs/nope.ini")
    with pytest.raises(NotFound):
        storage.open("Songs/nope.ogg")
    with pytest.raises(NotFound):
        storage.list("Songs/a.txt")  # a file is not a folder
    assert storage.exists("Songs/a.txt") and not storage.exists("Songs/b.txt")


def test_reads_whole_files_ranges_and_streams(dav, storage):
    data = bytes(range(256)) * 64
    put(dav, "Songs/S/song.ogg", data)

    assert storage.read("Songs/S/song.ogg") == data
    assert storage.read_range("Songs/S/song.ogg", 100, 50) == data[100:150]
    assert storage.read_range("Songs/S/song.ogg", len(data) - 10, 50) == data[-10:]
    assert storage.read_range("Songs/S/song.ogg", len(data) + 5, 10) == b""
    assert storage.read_range("Songs/S/song.ogg", 0, 0) == b""
    with storage.open("Songs/S/song.ogg") as stream:
        assert stream.read(10) == data[:10]
        stream.seek(5000)
        assert stream.read(20) == data[5000:5020]
        stream.seek(0)
        assert stream.read() == data


def test_write_creates_parents_and_returns_the_new_entry(dav, storage):
    entry = storage.write("Songs/New Artist/New Song/song.ini", b"[song]\n", mtime=1_600_000_000)

    assert dav.disk("CloneHero/Songs/New Artist/New Song/song.ini").read_bytes() == b"[song]\n"
    assert entry == storage.stat("Songs/New Artist/New Song/song.ini")
    assert entry.size == 7 and not entry.is_dir
    if dav.mode == "nc":  # X-OC-Mtime honoured, ids from the PUT answer
        assert entry.mtime == 1_600_000_000
        assert entry.fileid == dav.fileid("CloneHero/Songs/New Artist/New Song/song.ini")


def test_write_streams_a_file_from_disk(dav, storage, tmp_path):
    source = tmp_path / "big.ogg"
    source.write_bytes(os.urandom(200 * KiB))  # below the test chunk threshold: one PUT
    with source.open("rb") as stream:
        entry = storage.write("Songs/S/big.ogg", stream)
    assert entry.size == 200 * KiB
    assert dav.disk("CloneHero/Songs/S/big.ogg").read_bytes() == source.read_bytes()
    # A non-seekable stream is spooled, then sent the same way.
    pipe = io.BufferedReader(io.BytesIO(b"abc" * 1000))
    pipe.seekable = lambda: False  # type: ignore[method-assign]
    storage.write("Songs/S/pipe.bin", pipe)
    assert dav.disk("CloneHero/Songs/S/pipe.bin").read_bytes() == b"abc" * 1000


def test_write_with_if_match_refuses_a_file_changed_behind_our_back(dav, storage):
    put(dav, "Songs/S/song.ini", b"[song]\nname = Old\n")
    seen = storage.stat("Songs/S/song.ini").etag

    updated = storage.write("Songs/S/song.ini", b"[song]\nname = Ours\n", if_match=seen)
    assert updated.etag != seen
    # Someone edits it on the server (a different size, so even plain wsgidav's ETag moves).
    time.sleep(0.01)
    put(dav, "Songs/S/song.ini", b"[song]\nname = Someone else's\n")

    with pytest.raises(PreconditionFailed, match="sync"):
        storage.write("Songs/S/song.ini", b"[song]\nname = Stale\n", if_match=updated.etag)
    assert dav.disk("CloneHero/Songs/S/song.ini").read_bytes() == (
        b"[song]\nname = Someone else's\n")


def test_if_match_on_a_vanished_file_is_a_precondition_failure(dav, storage):
    with pytest.raises(PreconditionFailed):
        storage.write("Songs/Gone/song.ini", b"x", if_match="abc")
    assert not dav.disk("CloneHero/Songs/Gone").exists()


def test_move_never_overwrites(dav, storage):
    put(dav, "Songs/A/song.ini", b"A")
    put(dav, "Songs/B/song.ini", b"B")

    with pytest.raises(AlreadyExists):
        storage.move("Songs/A", "Songs/B")
    assert dav.disk("CloneHero/Songs/A/song.ini").read_bytes() == b"A"
    assert dav.disk("CloneHero/Songs/B/song.ini").read_bytes() == b"B"
    with pytest.raises(NotFound):
        storage.move("Songs/Nope", "Songs/C")

    storage.move("Songs/A", "Songs/New Parent/A")  # a missing parent is created
    assert dav.tree("CloneHero/Songs") == ["B/", "B/song.ini", "New Parent/", "New Parent/A/",
                                           "New Parent/A/song.ini"]


def test_delete_files_and_folders_and_tolerate_missing(dav, storage):
    put(dav, "Songs/A/song.ini")
    put(dav, "Songs/A/sub/deep.txt")
    put(dav, "Songs/B.txt")

    storage.delete("Songs/B.txt")
    storage.delete("Songs/A")
    storage.delete("Songs/never-was")
    assert dav.tree("CloneHero/Songs") == []
    with pytest.raises(Exception, match="root"):
        storage.delete("")


def test_mkdir_makes_parents_and_accepts_existing(dav, storage):
    storage.mkdir("Backgrounds/deep/er")
    storage.mkdir("Backgrounds/deep/er")
    storage.mkdir("")
    assert dav.disk("CloneHero/Backgrounds/deep/er").is_dir()


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_round_trip(dav, storage, name):
    folder = f"Songs/{name}/{name}"
    storage.write(f"{folder}/song.ini", name.encode())

    assert [e.name for e in storage.list(f"Songs/{name}")] == [name]
    assert storage.read(f"{folder}/song.ini") == name.encode()
    assert storage.stat(folder).path == folder
    storage.move(folder, f"Songs/{name}/moved {name}")
    assert [e.path for e in storage.walk_files("Songs")] == [f"Songs/{name}/moved {name}/song.ini"]
    storage.delete(f"Songs/{name}")
    assert storage.list("Songs") == []


def test_href_encoding_case_does_not_matter(nc):
    storage = make_storage(nc)
    root = storage._root_path()
    assert storage._rel_from_href(f"{root}/Songs/%c3%a9t%c3%a9") == "Songs/été"
    assert storage._rel_from_href(f"{root}/Songs/%C3%A9T%C3%A9/") == "Songs/éTé"
    assert storage._rel_from_href(f"http://elsewhere{root}/Songs/a%23b%25c") == "Songs/a#b%c"
    with pytest.raises(BadResponse):
        storage._rel_from_href("/remote.php/dav/files/mallory/x")


def test_etags_are_cleaned():
    assert clean_etag('W/"abc"') == "abc"
    assert clean_etag('"abc"') == "abc"
    assert clean_etag("abc") == "abc"
    assert clean_etag(None) is None


def test_dot_segments_are_refused(dav, storage):
    with pytest.raises(Exception, match=r"'\.' and '\.\.'"):
        storage.read("Songs/../../etc/passwd")


# --- publishing a song folder ----------------------------------------------------------------

def _song_folder(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "song.ini").write_bytes(b"[song]\nname = Published\n")
    (src / "notes.chart").write_bytes(b"[Song]\n{\n}\n")
    (src / "song.ogg").write_bytes(os.urandom(50 * KiB))
    (src / "sub" / "extra.txt").write_bytes(b"extra")
    os.utime(src / "song.ini", (1_500_000_000, 1_500_000_000))
    return src


def test_publish_folder_appears_whole_via_one_move(dav, storage, tmp_path):
    src = _song_folder(tmp_path)

    storage.publish_folder(src, "Songs/Artist/Published")

    assert dav.tree("CloneHero/Songs") == ["Artist/", "Artist/Published/",
                                           "Artist/Published/notes.chart",
                                           "Artist/Published/song.ini",
                                           "Artist/Published/song.ogg",
                                           "Artist/Published/sub/",
                                           "Artist/Published/sub/extra.txt"]
    moves = [s for s in dav.seen if s.method == "MOVE"]
    assert len(moves) == 1 and moves[0].headers["Overwrite"] == "F"
    assert moves[0].path.startswith(f"/CloneHero/{STAGING_FOLDER}/")
    assert dav.tree(f"CloneHero/{STAGING_FOLDER}") == []
    if dav.mode == "nc":
        assert storage.stat("Songs/Artist/Published/song.ini").mtime == 1_500_000_000


def test_publish_folder_refuses_an_existing_destination_before_uploading(dav, storage, tmp_path):
    put(dav, "Songs/Artist/Published/song.ini", b"theirs")
    with pytest.raises(AlreadyExists):
        storage.publish_folder(_song_folder(tmp_path), "Songs/Artist/Published")
    assert dav.count("PUT") == 0
    assert dav.disk("CloneHero/Songs/Artist/Published/song.ini").read_bytes() == b"theirs"


def test_a_failure_mid_upload_leaves_no_half_song_and_no_staging(dav, storage, tmp_path):
    dav.fail(status=507, method="PUT", path="song.ogg")

    with pytest.raises(InsufficientStorage, match="507"):
        storage.publish_folder(_song_folder(tmp_path), "Songs/Artist/Published")

    assert dav.tree("CloneHero/Songs") == []
    assert dav.tree(f"CloneHero/{STAGING_FOLDER}") == []
    assert dav.count("PUT", path="song.ogg") == 1  # 507 is not retried


def test_a_failed_final_move_removes_the_staging_folder(dav, storage, tmp_path):
    dav.fail(status=502, method="MOVE")  # not retried: a MOVE is not idempotent
    with pytest.raises(StorageUnavailable):
        storage.publish_folder(_song_folder(tmp_path), "Songs/Artist/Published")
    assert dav.count("MOVE") == 1
    assert not dav.disk("CloneHero/Songs/Artist/Published").exists()
    assert dav.tree(f"CloneHero/{STAGING_FOLDER}") == []


def test_staging_remove_deletes_only_the_owners_leftovers(dav, storage, tmp_path):
    put(dav, f"{STAGING_FOLDER}/job7-0a1b/song.ini")
    put(dav, f"{STAGING_FOLDER}/job71-0c1d/song.ini")  # job 71, not job 7
    put(dav, f"{STAGING_FOLDER}/0e1f/song.ini")  # staged outside any job
    assert storage.staging_remove("job7-") == 1
    assert dav.tree(f"CloneHero/{STAGING_FOLDER}") == [
        "0e1f/", "0e1f/song.ini", "job71-0c1d/", "job71-0c1d/song.ini"]
    with pytest.raises(ValueError):
        storage.staging_remove("")


def test_staging_is_named_after_its_owner(dav, storage, tmp_path):
    token = staging_owner.set("job9-")
    try:
        storage.publish_folder(_song_folder(tmp_path), "Songs/Artist/Owned")
    finally:
        staging_owner.reset(token)
    staged = [s.path for s in dav.seen if s.method == "MKCOL" and STAGING_FOLDER + "/" in s.path]
    assert staged and all(f"{STAGING_FOLDER}/job9-" in path for path in staged)


# --- listing a whole tree ----------------------------------------------------------------------

def test_list_tree_uses_one_depth_infinity_request_when_honoured(dav, storage):
    put(dav, "Songs/A/S1/song.ini")
    put(dav, "Songs/B/S2/notes.mid")
    dav.clear()

    tree = storage.list_tree("Songs")

    assert sorted(e.path for e in tree) == ["Songs/A", "Songs/A/S1", "Songs/A/S1/song.ini",
                                            "Songs/B", "Songs/B/S2", "Songs/B/S2/notes.mid"]
    assert dav.count() == 1 and dav.count("PROPFIND", depth="infinity") == 1


def test_list_tree_detects_a_server_that_clamps_infinity_to_depth_1(nc):
    nc.clamp_infinity = True
    storage = make_storage(nc)
    put(nc, "Songs/A/S1/song.ini")
    assert storage.list_tree("Songs") is None
    assert storage.list_tree("Songs") is None  # remembered: no second probe
    assert nc.count("PROPFIND", depth="infinity") == 1


def test_list_tree_falls_back_when_infinity_is_refused(nc):
    storage = make_storage(nc)
    nc.fail(status=403, method="PROPFIND", depth="infinity")
    assert storage.list_tree("Songs") is None
    assert storage.list_tree("Songs") is None
    assert nc.count("PROPFIND", depth="infinity") == 1


# --- Nextcloud specifics -------------------------------------------------------------------

def test_nextcloud_is_detected_and_plain_webdav_is_not(dav, storage):
    assert storage.propagates_folder_etags is (dav.mode == "nc")
    assert storage.user_id() == "alice"


def test_folder_etags_propagate_and_fileids_survive_moves(nc):
    storage = make_storage(nc)
    put(nc, "Songs/Artist/Song/song.ini", b"one")
    root, songs, artist, song = (storage.stat(p) for p in
                                 ("", "Songs", "Songs/Artist", "Songs/Artist/Song"))
    assert song.size == 3 and artist.size == 3 and song.fileid

    storage.write("Songs/Artist/Song/song.ini", b"two!")
    after = [storage.stat(p) for p in ("", "Songs", "Songs/Artist", "Songs/Artist/Song")]
    assert all(a.etag != b.etag for a, b in zip(after, (root, songs, artist, song)))
    assert after[3].size == 4

    storage.move("Songs/Artist/Song", "Songs/Other/Renamed")
    moved = storage.stat("Songs/Other/Renamed")
    assert moved.fileid == song.fileid
    assert storage.stat("Songs/Other/Renamed/song.ini").fileid == \
        nc.fileid("CloneHero/Songs/Other/Renamed/song.ini")


def test_the_user_id_is_read_from_the_server_when_it_differs_from_the_login(dav_server, tmp_path):
    dav_server.reset(tmp_path / "dav", "nc", login="alice@example.com", user_id="alice")
    storage = make_storage(dav_server)
    storage.write("Songs/S/song.ini", b"x")
    assert storage.user_id() == "alice"
    assert dav_server.disk("CloneHero/Songs/S/song.ini").exists()
    assert dav_server.count("GET", path="/ocs/v2.php/cloud/user") == 1


def test_no_cookies_are_kept_so_nextcloud_csrf_never_bites(nc):
    storage = make_storage(nc)
    for i in range(5):
        storage.write(f"Songs/S/{i}.txt", b"x")
        storage.list("Songs/S")
    assert not any("Cookie" in s.headers for s in nc.seen)
    # A client that keeps cookies fails the second request, as on Nextcloud.
    session = requests.Session()
    session.auth = (nc.login, nc.password)
    url = f"{nc.url}{nc.files_prefix}/CloneHero/"
    assert session.request("PROPFIND", url, headers={"Depth": "0"}).status_code == 207
    assert session.request("PROPFIND", url, headers={"Depth": "0"}).status_code == 401


def test_a_write_costs_one_put_on_nextcloud(nc):
    storage = make_storage(nc)
    storage.mkdir("Songs/S")
    storage.user_id()
    nc.clear()
    entry = storage.write("Songs/S/song.ini", b"x", mtime=1_700_000_000)
    assert nc.count() == 1 and entry.mtime == 1_700_000_000 and entry.fileid


def test_large_files_use_chunked_upload_v2_on_nextcloud(nc, tmp_path):
    storage = make_storage(nc)
    source = tmp_path / "video.webm"
    source.write_bytes(os.urandom(300 * KiB))  # threshold 256 KiB, chunks 64 KiB → 5 chunks
    storage.mkdir("Songs/S")
    with source.open("rb") as stream:
        entry = storage.write("Songs/S/video.webm", stream, mtime=1_650_000_000)

    assert nc.disk("CloneHero/Songs/S/video.webm").read_bytes() == source.read_bytes()
    assert nc.count("PUT", path="/remote.php/dav/uploads/alice/") == 5
    assert nc.count("MOVE", path="/.file") == 1
    assert nc.count("PUT", path="/CloneHero/") == 0
    assert entry == storage.stat("Songs/S/video.webm")
    assert entry.mtime == 1_650_000_000
    assert list((nc.root / "uploads").iterdir()) == []

    with source.open("rb") as stream:  # overwriting keeps the fileid, as on Nextcloud
        again = storage.write("Songs/S/video.webm", stream)
    assert again.fileid == entry.fileid and again.etag != entry.etag


def test_large_files_go_in_one_put_on_plain_webdav(plain, tmp_path):
    storage = make_storage(plain)
    data = os.urandom(300 * KiB)
    storage.write("Songs/S/video.webm", data)
    assert plain.count("PUT") == 2 and plain.count("MKCOL") == 1  # 409, MKCOL, PUT
    assert plain.disk("CloneHero/Songs/S/video.webm").read_bytes() == data


def test_a_failed_chunked_upload_is_aborted_and_leaves_nothing(nc):
    storage = make_storage(nc)
    storage.mkdir("Songs/S")
    nc.fail(status=507, method="PUT", path="/00003")
    with pytest.raises(InsufficientStorage):
        storage.write("Songs/S/video.webm", os.urandom(300 * KiB))
    assert not nc.disk("CloneHero/Songs/S/video.webm").exists()
    assert list((nc.root / "uploads").iterdir()) == []
    assert nc.count("DELETE", path="/remote.php/dav/uploads/") == 1


def test_a_chunk_whose_reply_was_lost_is_sent_again_to_the_same_upload(nc):
    """S9, resumable: the server stored chunk 3 but the reply was lost; the chunk goes again
    into the same upload folder (same chunk id), and the upload completes from there."""
    storage = make_storage(nc)
    storage.mkdir("Songs/S")
    data = os.urandom(300 * KiB)
    nc.fail(action="lost_reply", status=504, method="PUT", path="/00003")

    storage.write("Songs/S/video.webm", data)

    assert nc.disk("CloneHero/Songs/S/video.webm").read_bytes() == data
    assert nc.count("MKCOL", path="/remote.php/dav/uploads/") == 1  # one upload folder
    chunk_puts = [s.path for s in nc.seen if s.method == "PUT" and "/uploads/" in s.path]
    assert len(chunk_puts) == 6 and chunk_puts.count(next(p for p in chunk_puts
                                                          if p.endswith("/00003"))) == 2
    assert list((nc.root / "uploads").iterdir()) == []


class ExpiringStream(io.BytesIO):
    """A source that, when the upload comes to byte ``at`` (the storage seeks to each chunk's
    start before sending it), first removes every upload folder on the server, as Nextcloud
    does when an upload expires between two chunks."""

    def __init__(self, data: bytes, server, at: int):
        super().__init__(data)
        self.server, self.at, self.expired = server, at, False

    def seek(self, offset, whence=io.SEEK_SET):
        if not self.expired and whence == io.SEEK_SET and offset == self.at:
            self.expired = True
            for folder in (self.server.root / "uploads").iterdir():
                shutil.rmtree(folder)
        return super().seek(offset, whence)


def test_s12_an_upload_folder_dropped_by_the_server_restarts_with_a_new_one(nc):
    storage = make_storage(nc)
    storage.mkdir("Songs/S")
    data = os.urandom(300 * KiB)

    entry = storage.write("Songs/S/video.webm", ExpiringStream(data, nc, at=128 * KiB))

    assert nc.disk("CloneHero/Songs/S/video.webm").read_bytes() == data
    assert entry == storage.stat("Songs/S/video.webm")
    folders = {s.path for s in nc.seen if s.method == "MKCOL" and "/uploads/" in s.path}
    assert len(folders) == 2  # a new upload id, not the dead one
    assert [s.status for s in nc.seen if s.method == "PUT"].count(404) == 1
    assert list((nc.root / "uploads").iterdir()) == []


# --- faults --------------------------------------------------------------------------------

def test_429_waits_for_retry_after_then_succeeds(dav, storage):
    storage.stat("")  # discovery out of the way
    dav.clear()
    dav.fail(status=429, method="PROPFIND", headers={"Retry-After": "1"})
    started = time.monotonic()
    assert storage.list("Songs") == []
    assert time.monotonic() - started >= 1.0
    assert dav.count("PROPFIND") == 2


def test_a_503_burst_is_retried_with_backoff(dav, storage):
    dav.fail(status=503, method="PROPFIND", times=3)
    assert storage.stat("Songs").is_dir
    assert dav.count("PROPFIND") == 4


def test_a_503_storm_ends_in_a_clear_error_after_the_retries(dav, storage):
    dav.fail(status=503, method="GET", path="song.ini", times=-1)
    with pytest.raises(StorageUnavailable, match=r"HTTP 503\) after 4 attempt"):
        storage.read("Songs/S/song.ini")
    assert dav.count("GET", path="song.ini") == 4


def test_423_locked_is_retried(dav, storage):
    put(dav, "Songs/S/song.ini", b"x")
    dav.fail(status=423, method="PUT", times=2)
    storage.write("Songs/S/song.ini", b"y")
    assert dav.count("PUT") == 3 and dav.disk("CloneHero/Songs/S/song.ini").read_bytes() == b"y"


def test_a_retry_after_longer_than_we_wait_fails_at_once(dav):
    storage = make_storage(dav, retry_after_max=5)
    dav.fail(status=429, method="PROPFIND", headers={"Retry-After": "3600"}, times=-1)
    with pytest.raises(StorageUnavailable, match="3600"):
        storage.stat("Songs")
    assert dav.count("PROPFIND") == 1


def test_401_is_never_retried_and_names_the_settings(dav, storage):
    dav.fail(status=401, times=-1)
    with pytest.raises(AuthenticationFailed, match="NEXTCLOUD_USER.*NEXTCLOUD_APP_PASSWORD"):
        storage.stat("Songs")
    assert dav.count() == 1
    with pytest.raises(AuthenticationFailed):
        storage.list("Songs")  # refused without asking the server again
    assert dav.count() == 1


def test_a_wrong_app_password_is_one_request(dav):
    storage = make_storage(dav, app_password="wrong")
    with pytest.raises(AuthenticationFailed):
        storage.list("Songs")
    with pytest.raises(AuthenticationFailed):
        storage.read("Songs/x")
    assert dav.count() == 1


def test_a_connection_dropped_mid_download_is_fetched_again(dav, storage):
    data = os.urandom(64 * KiB)
    put(dav, "Songs/S/notes.mid", data)
    dav.fail("truncate", method="GET", path="notes.mid")
    assert storage.read("Songs/S/notes.mid") == data
    assert dav.count("GET", path="notes.mid") == 2


def test_a_stream_cut_mid_file_resumes_with_a_range_request(dav, storage):
    data = os.urandom(512 * KiB)
    put(dav, "Songs/S/song.ogg", data)
    dav.fail("truncate", method="GET", path="song.ogg")
    with storage.open("Songs/S/song.ogg") as stream:
        assert stream.read() == data
    gets = [s for s in dav.seen if s.method == "GET"]
    assert len(gets) == 2 and gets[1].headers["Range"].startswith("bytes=")
    assert gets[1].headers["Range"] != "bytes=0-"


def test_a_dropped_connection_every_time_ends_in_a_clear_error(dav, storage):
    put(dav, "Songs/S/notes.mid", os.urandom(64 * KiB))
    dav.fail("truncate", method="GET", times=-1)
    with pytest.raises(StorageUnavailable, match="after 4 attempt"):
        storage.read("Songs/S/notes.mid")


def test_a_slow_server_hits_the_timeout_and_is_retried(dav):
    storage = make_storage(dav, timeout=0.2, retries=1)
    storage.stat("")
    dav.fail("slow", method="PROPFIND", delay=0.5)
    assert storage.stat("Songs").is_dir  # first attempt timed out, second answered
    dav.fail("slow", method="PROPFIND", delay=0.5, times=2)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="timed out after 2 attempt"):
        storage.stat("Songs")
    assert time.monotonic() - started < 1.0


def test_malformed_xml_is_a_clear_error(dav, storage):
    dav.fail("malformed", method="PROPFIND")
    with pytest.raises(BadResponse, match="malformed XML"):
        storage.list("Songs")
    assert storage.list("Songs") == []  # the next call is fine


def test_507_on_upload_is_not_retried(dav, storage):
    dav.fail(status=507, method="PUT", times=-1)
    with pytest.raises(InsufficientStorage, match="out of space"):
        storage.write("Songs/song.ini", b"x")
    assert dav.count("PUT") == 1


def test_a_put_whose_reply_is_lost_is_sent_again(dav, storage):
    storage.mkdir("Songs/S")
    dav.fail("lost_reply", status=504, method="PUT")
    storage.write("Songs/S/song.ini", b"[song]\n")
    assert dav.count("PUT") == 2
    assert dav.disk("CloneHero/Songs/S/song.ini").read_bytes() == b"[song]\n"


def test_a_move_is_retried_only_when_the_server_did_not_act(dav, storage):
    put(dav, "Songs/A/song.ini")
    dav.fail(status=503, method="MOVE", times=1)
    storage.move("Songs/A", "Songs/B")
    assert dav.count("MOVE") == 2
    dav.fail(status=500, method="MOVE", times=1)
    with pytest.raises(StorageUnavailable):
        storage.move("Songs/B", "Songs/C")
    assert dav.count("MOVE") == 3


def test_an_unreachable_server_is_a_clear_error():
    storage = WebDavStorage("http://127.0.0.1:9", "alice", "pw", retries=1, backoff=0.01,
                            timeout=2)
    with pytest.raises(StorageUnavailable, match="connection failed after 2 attempt"):
        storage.stat("")
    assert storage.requests_made == 2


def test_counters_add_up_requests_and_bytes(dav, storage):
    put(dav, "Songs/S/song.ini", b"x" * 1000)
    storage.stat("")
    before = storage.counters()
    storage.read("Songs/S/song.ini")
    after = storage.counters()
    assert after["requests"] - before["requests"] == 1
    assert after["bytes_downloaded"] - before["bytes_downloaded"] == 1000


def test_stat_reports_the_data_fingerprint_in_its_one_request(dav, storage):
    if dav.mode == "nc":
        dav.restore_backup("fingerprint-1")
    entry = storage.stat("")
    assert dav.count() == 1
    assert entry.data_fingerprint == ("fingerprint-1" if dav.mode == "nc" else None)
    assert all(e.data_fingerprint is None for e in storage.list(""))  # not asked per child
