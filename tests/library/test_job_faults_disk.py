"""A full disk during an import, on a real tiny filesystem: a tmpfs mounted for the test (root
only; CI runs as root) and filled with a filler file until only a chosen number of bytes is
free. Both places an import writes to can fill: the library folder (LIBRARY_ROOT, local
storage) and the scratch folder the archives are unpacked into (SCRATCH_ROOT).

Every case checks the same promises: the import stops with an error naming the file and "No
space left on device"; the library holds no partial song folder and no staging leftovers; every
Song row's files are on disk whole; the songs already there are byte for byte untouched; the
import's work folders under SCRATCH_ROOT are gone (a failed job keeps only its uploaded input,
for a retry).

No RLIMIT_FSIZE fallback when mounting is not possible: it fails writes with EFBIG ("File too
large", one file over a size limit), not ENOSPC, so it would test another error than a full
disk. Such machines skip these tests and say why.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from content.library import jobs
from content.library.imports import songs_import
from content.models import Job, Song
from content.storage.base import STAGING_FOLDER
from content.storage.local import LocalStorage

from .test_imports import song_dirs, zip_folders
from .test_jobs import staged

NO_SPACE = "No space left on device"


class TinyDisk:
    """A tmpfs mounted at ``path``; ``leave(n)`` fills it until ``n`` bytes are free,
    ``leave_inodes(n)`` until only ``n`` more files or folders can be made."""

    def __init__(self, path: Path):
        self.path = path
        self.filler = path / "filler"

    def free(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def leave(self, free: int) -> None:
        extra = self.free() - free
        assert extra >= 0, f"the tiny disk has only {self.free()} bytes free, {free} asked for"
        with self.filler.open("ab") as out:
            out.write(b"\0" * extra)
        assert self.free() == free

    def leave_inodes(self, free: int) -> None:
        fillers = self.path / "fillers"
        fillers.mkdir()
        while os.statvfs(self.path).f_ffree > free:
            (fillers / str(os.statvfs(self.path).f_ffree)).touch()
        assert os.statvfs(self.path).f_ffree == free

    def make_room(self) -> None:
        self.filler.unlink()


@pytest.fixture
def tiny_disk(tmp_path):
    """A fresh 16 MiB tmpfs with at most 1000 files and folders, unmounted when the test
    ends. Skips where it cannot be mounted."""
    mount_point = tmp_path / "tiny-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a tmpfs mount, which needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,nr_inodes=1000,mode=0755",
                              "tmpfs", str(mount_point)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs to simulate a full disk: {mounted.stderr.strip()}")
    try:
        yield TinyDisk(mount_point)
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode:
            subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def footprint(folder: Path) -> int:
    """Bytes the files under ``folder`` take on a tmpfs: whole pages each (folders take none)."""
    page = os.sysconf("SC_PAGE_SIZE")
    return sum(math.ceil(f.stat().st_size / page) * page for f in folder.rglob("*") if f.is_file())


def contents(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path) with the sha256 of its bytes."""
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in root.rglob("*") if f.is_file()}


def assert_library_whole(root: Path) -> None:
    """No staging leftovers or half-written files; every Song row's files whole on disk."""
    staging = root / STAGING_FOLDER
    assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())
    assert not [p for p in root.rglob("*.part")]
    folders = {str(p.relative_to(root)) for p in root.glob("Songs/*/*")}
    assert folders == set(Song.objects.values_list("path", flat=True))
    for song in Song.objects.prefetch_related("files"):
        on_disk = {f.name: f.stat().st_size for f in (root / song.path).iterdir()}
        assert on_disk == {f.name: f.size for f in song.files.all()}, song.path


@pytest.fixture
def songs(library, tmp_path) -> tuple[list[Path], list[Path]]:
    """Sample song folders (the library's Songs/ emptied): two for the library to hold before
    the import under test, and three for that import, each bigger on disk than the one before."""
    source = tmp_path / "source"
    shutil.move(library.root / "Songs", source)
    folders = sorted(song_dirs(source), key=footprint)
    present, new = folders[:2], [folders[2], folders[6], folders[11]]
    sizes = [footprint(f) for f in new]
    assert sizes[0] < sizes[1] < sizes[2], sizes
    return present, new


def library_on(disk: TinyDisk, settings, present: list[Path]) -> LocalStorage:
    """LIBRARY_ROOT on ``disk``, holding the songs of ``present`` (imported)."""
    settings.LIBRARY_ROOT = disk.path / "library"
    (disk.path / "library" / "Songs").mkdir(parents=True)
    storage = LocalStorage(settings.LIBRARY_ROOT)
    report = songs_import(sources=present, storage=storage)
    assert report.count("imported") == len(present), report.results
    return storage


def pack(folders: list[Path], tmp_path: Path) -> Path:
    """A zip of ``folders`` under ``pack/``; unpacked and imported in the order given (names
    sort that way: the importer walks folders by name)."""
    ordered = tmp_path / "ordered"
    for number, folder in enumerate(folders):
        shutil.copytree(folder, ordered / f"{number} {folder.name}")
    return zip_folders(sorted(ordered.iterdir()), tmp_path / "pack.zip")


def half(size: int) -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    return max(page, size // 2 // page * page)


# --- Through the job runner (enqueued; run at once, or in a thread as a worker would) --------

@pytest.mark.django_db(transaction=True)
def test_the_library_fills_up_mid_import(songs, tiny_disk, settings, tmp_path, immediate_tasks):
    present, new = songs
    storage = library_on(tiny_disk, settings, present)
    archive = pack(new, tmp_path)
    before, rows_before = contents(storage.root), set(Song.objects.values_list("pk", flat=True))
    # Room for the first new song and half of the second.
    tiny_disk.leave(footprint(new[0]) + half(footprint(new[1])))

    job = jobs.job_start(kind=Job.Kind.IMPORT, user=None, arguments=staged(archive),
                         target="import:disk")
    job.refresh_from_db()

    assert job.state == Job.State.FAILED
    assert job.error.startswith("The import stopped, out of disk space: ")
    assert (f"out of disk space: pack.zip: pack/1 {new[1].name}: no space left in the "
            "library: cannot write Songs/") in job.error, job.error
    assert f"/notes.mid: cannot write it in local folder {storage.root}: {NO_SPACE}" in job.error
    assert "Songs imported before it (1) stay" in job.error
    # The first new song is in whole; nothing of the second, the third was not tried.
    added = Song.objects.exclude(pk__in=rows_before).get()
    assert (storage.root / added.path / "notes.mid").read_bytes() == \
        (new[0] / "notes.mid").read_bytes()
    assert_library_whole(storage.root)
    after = contents(storage.root)
    assert {path: after[path] for path in before} == before
    assert {path.rsplit("/", 1)[0] for path in after.keys() - before.keys()} == {added.path}
    # The unpacked archive is gone; only the uploaded input stays, for the retry.
    assert os.listdir(settings.SCRATCH_ROOT) == [job.arguments["scratch"]]

    tiny_disk.make_room()
    retry = jobs.job_retry(job.pk, user=None)
    retry.refresh_from_db()
    assert retry.state == Job.State.DONE, retry.error
    assert retry.result["counts"] == {"imported": 2, "duplicate": 1, "rejected": 0}
    assert_library_whole(storage.root)
    assert os.listdir(settings.SCRATCH_ROOT) == []


@pytest.mark.django_db(transaction=True)
def test_the_scratch_folder_fills_up_while_unpacking(songs, library, tiny_disk, settings,
                                                     tmp_path, thread_tasks):
    """Run in a thread of its own, as a worker would."""
    present, new = songs
    songs_import(sources=present, storage=library)
    settings.SCRATCH_ROOT = tiny_disk.path / "scratch"
    archive = pack(new, tmp_path)
    arguments = staged(archive)
    before, rows_before = contents(library.root), set(Song.objects.values_list("pk", flat=True))
    # Room for the first song's files and half of the second's; the upload is there already.
    tiny_disk.leave(footprint(new[0]) + half(footprint(new[1])))

    job = jobs.job_start(kind=Job.Kind.IMPORT, user=None, arguments=arguments,
                         target="import:disk")
    [worker] = thread_tasks
    worker.join(timeout=60)
    job.refresh_from_db()

    assert job.state == Job.State.FAILED
    assert (f"out of disk space: pack.zip: no space left in the scratch folder "
            f"{settings.SCRATCH_ROOT}: pack.zip: entry 'pack/1 {new[1].name}/") in job.error, \
        job.error
    assert f"could not be written to the staging folder ({NO_SPACE})" in job.error
    assert "Songs imported before it (0) stay" in job.error
    assert contents(library.root) == before
    assert set(Song.objects.values_list("pk", flat=True)) == rows_before
    assert_library_whole(library.root)
    assert os.listdir(settings.SCRATCH_ROOT) == [job.arguments["scratch"]]


# --- songs_import itself (the import_songs command, the generator) ----------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("full", ["library", "scratch"])
def test_songs_import_stops_at_the_song_that_does_not_fit(full, songs, library, tiny_disk,
                                                          settings):
    present, new = songs
    if full == "library":
        library = library_on(tiny_disk, settings, present)
        # Room for the first song and half of the second.
        room = footprint(new[0]) + half(footprint(new[1]))
    else:
        songs_import(sources=present, storage=library)
        settings.SCRATCH_ROOT = tiny_disk.path / "scratch"
        # Each folder is copied to scratch, imported and removed before the next one: the first
        # fits, the second is bigger.
        room = footprint(new[0])
    before, rows_before = contents(library.root), set(Song.objects.values_list("pk", flat=True))
    tiny_disk.leave(room)

    report = songs_import(sources=new, storage=library)

    assert [r.status for r in report.results] == ["imported", "rejected"]  # the third untried
    stopped = report.results[-1]
    assert stopped.source.startswith(new[1].name) and NO_SPACE in stopped.reason
    assert report.stopped == f"{stopped.source}: {stopped.reason}"
    where = ("no space left in the library: cannot write Songs/" if full == "library" else
             f"no space left in the scratch folder {settings.SCRATCH_ROOT}: {new[1].name}: entry ")
    assert stopped.reason.startswith(where), stopped.reason
    assert_library_whole(library.root)
    after = contents(library.root)
    assert {path: after[path] for path in before} == before
    assert Song.objects.exclude(pk__in=rows_before).get().pk == report.results[0].song_id
    assert os.listdir(settings.SCRATCH_ROOT) == []


@pytest.mark.django_db
def test_import_songs_says_it_stopped_for_a_full_disk(songs, tiny_disk, settings):
    _, new = songs
    library = library_on(tiny_disk, settings, [])
    tiny_disk.leave(half(footprint(new[0])))
    expected = (f"^stopped, out of disk space: {re.escape(new[0].name)}: no space left "
                f"in the library: .*{NO_SPACE}$")
    with pytest.raises(CommandError, match=expected):
        call_command("import_songs", *map(str, new))
    assert_library_whole(library.root)
    assert not Song.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("inodes", "failing"), [(0, "cannot create it"),
                                                 (2, "cannot write it")])
def test_a_library_out_of_inodes_stops_the_import_too(inodes, failing, songs, tiny_disk,
                                                      settings):
    """No room for one more file or folder: the staging folder (0 left) or a file in it (2
    left: the staging folder and the first file) cannot be made. Also ENOSPC, and from other
    calls (mkdir, mkstemp) than a full disk's write."""
    present, new = songs
    library = library_on(tiny_disk, settings, present)
    before = contents(library.root)
    tiny_disk.leave_inodes(inodes)

    report = songs_import(sources=new, storage=library)

    assert [r.status for r in report.results] == ["rejected"]
    assert report.stopped.startswith(f"{new[0].name}: no space left in the library: "
                                     "cannot write Songs/")
    assert f"{failing} in local folder {library.root}: {NO_SPACE}" in report.stopped
    assert_library_whole(library.root)
    assert contents(library.root) == before
    assert os.listdir(settings.SCRATCH_ROOT) == []


@pytest.mark.django_db(transaction=True)
def test_the_scratch_folder_fills_up_while_a_library_folder_is_downloaded(
        songs, library, tiny_disk, settings, immediate_tasks):
    """The file browser's "import this folder": the folder is copied to scratch first."""
    present, new = songs
    songs_import(sources=present, storage=library)
    for folder in new:
        shutil.copytree(folder, library.root / "Inbox" / folder.name)
    before, rows_before = contents(library.root), set(Song.objects.values_list("pk", flat=True))
    settings.SCRATCH_ROOT = tiny_disk.path / "scratch"
    os.mkdir(settings.SCRATCH_ROOT)
    tiny_disk.leave(footprint(new[0]) + half(footprint(new[1])))

    job = jobs.job_start(kind=Job.Kind.IMPORT, user=None,
                         arguments={"folder": "Inbox", "label": "Inbox"},
                         target="import:folder:Inbox")
    job.refresh_from_db()

    assert job.state == Job.State.FAILED
    assert re.fullmatch(f"Inbox was not imported: Inbox/[^:]+ could not be copied to the "
                        f"scratch folder {re.escape(str(settings.SCRATCH_ROOT))}: {NO_SPACE}",
                        job.error), job.error
    assert contents(library.root) == before
    assert set(Song.objects.values_list("pk", flat=True)) == rows_before
    assert_library_whole(library.root)
    assert os.listdir(settings.SCRATCH_ROOT) == []
