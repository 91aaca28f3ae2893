"""Faults while a job runs, with real processes: a ``db_worker`` killed (SIGKILL) in the middle
of an import to the Nextcloud-like server, and the PostgreSQL server restarted under a running
sync. Each ends with the job in a final state and the database matching the server's tree."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from content.library import jobs
from content.library.sync import library_sync
from content.models import Job, Song
from content.storage import library_storage
from content.storage.base import STAGING_FOLDER

from ..conftest import REPO

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see committed rows

AUDIO_BYTES = 96 * 1024


def worker_env(settings, database_url: str | None = None, **extra: str) -> dict:
    """A worker process's environment: the test database (or ``database_url``), the test
    server as the library, this test's scratch folder."""
    db = connection.settings_dict
    return os.environ | {
        "DATABASE_URL": database_url or f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "NEXTCLOUD_URL": settings.NEXTCLOUD_URL, "NEXTCLOUD_USER": settings.NEXTCLOUD_USER,
        "NEXTCLOUD_APP_PASSWORD": settings.NEXTCLOUD_APP_PASSWORD,
        "NEXTCLOUD_ROOT": settings.NEXTCLOUD_ROOT, "NEXTCLOUD_CONCURRENCY": "1",
        "NEXTCLOUD_TIMEOUT": "10", "SCRATCH_ROOT": str(settings.SCRATCH_ROOT),
        "TASKS_BACKEND": "db", "DEBUG": "True", **extra}


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "db_worker", "--no-startup-delay",
                             "--no-reload"], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(worker: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, sig)  # the whole group: the worker's parse processes too
    worker.wait(timeout=60)


def wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def song_pack(sample_songs, tmp_path: Path) -> Path:
    """One zip of the sample songs, each with a song.ogg, so publishing a song takes a few PUTs."""
    pack = tmp_path / "pack.zip"
    with zipfile.ZipFile(pack, "w", zipfile.ZIP_STORED) as archive:
        for name, folder in sample_songs:
            for file in sorted(folder.iterdir()):
                archive.write(file, f"{name}/{file.name}")
            archive.writestr(f"{name}/song.ogg", os.urandom(AUDIO_BYTES))
    return pack


def assert_library_whole(dav, sample_songs) -> None:
    """Every song folder on the server is complete, nothing is left in staging, and after a
    sync the database holds exactly the server's songs."""
    songs_root = dav.disk("CloneHero/Songs")
    folders = [p.parent for p in songs_root.rglob("song.ini")] if songs_root.exists() else []
    for folder in folders:
        names = {p.name for p in folder.iterdir()}
        assert {"song.ini", "notes.mid", "song.ogg"} <= names, f"half song on the server: {folder}"
        assert (folder / "song.ogg").stat().st_size == AUDIO_BYTES, folder
    staging = dav.disk(f"CloneHero/{STAGING_FOLDER}")
    assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())
    for song in Song.objects.present():
        assert (dav.disk("CloneHero") / song.path / "song.ogg").is_file(), song.path
    library_sync(storage=library_storage())
    assert Song.objects.present().count() == len(folders)


def test_a_worker_killed_mid_import_leaves_no_half_song(nc, nextcloud_settings, sample_songs,
                                                        tmp_path):
    settings = nextcloud_settings
    settings.SCRATCH_ROOT = tmp_path / "scratch"
    name = jobs.scratch_new("import")
    (jobs.scratch_path(name) / "1").mkdir()
    shutil.copy(song_pack(sample_songs, tmp_path), jobs.scratch_path(name) / "1" / "pack.zip")
    job = jobs.job_start(kind=Job.Kind.IMPORT, user=None, arguments={"scratch": name},
                         target="import:killed-worker-test")
    # Every upload answers late, so the import is still publishing when the worker is killed.
    nc.fail("slow", method="PUT", delay=0.15, times=-1)
    worker = start_worker(worker_env(settings))
    try:
        def third_song_half_uploaded() -> bool:
            seen = list(nc.seen)
            moves = [s for s in seen if s.method == "MOVE" and STAGING_FOLDER in s.path]
            staged = [s for s in seen if s.method == "PUT" and STAGING_FOLDER in s.path]
            return len(moves) >= 2 and len(staged) > 3 * len(moves)
        wait_for(third_song_half_uploaded, "the worker to publish two songs and start a third")
        assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING
        stop(worker, signal.SIGKILL)
    finally:
        stop(worker, signal.SIGKILL)
    nc.clear()

    job.refresh_from_db()
    assert job.state == Job.State.RUNNING  # nobody is left to say otherwise ...
    staging = nc.disk(f"CloneHero/{STAGING_FOLDER}")
    assert any(p.name.startswith(f"job{job.pk}-") for p in staging.iterdir())  # ... half a song
    # ... until its heartbeat is old enough for any worker's watchdog to notice.
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - jobs.STALE_AFTER * 2)
    assert jobs.jobs_fail_stale() == 1

    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "stopped without finishing" in job.error
    assert not list(Path(settings.SCRATCH_ROOT).glob(f"job{job.pk}-*"))  # extraction folders
    assert_library_whole(nc, sample_songs)
    imported_before = Song.objects.present().count()
    assert 2 <= imported_before < len(sample_songs)

    # The upload was kept for a retry, which imports the rest and skips the ones already in.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    retry = jobs.job_retry(job.pk, user=None)
    retry.refresh_from_db()
    assert retry.state == Job.State.DONE, retry.error
    counts = retry.result["counts"]
    assert counts["imported"] == len(sample_songs) - imported_before
    assert counts["duplicate"] == imported_before and counts["rejected"] == 0
    assert_library_whole(nc, sample_songs)
    assert Song.objects.present().count() == len(sample_songs)


# --- The database restarted while a job runs --------------------------------------------------

def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own on a free port (so restarting it disturbs no
    other test): yields ``(url, restart)``."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    home = Path(tempfile.mkdtemp(prefix="chm-pg-"))
    data = home / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(home, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def pg_ctl(*args: str) -> None:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60",
                        "-l", str(home / "log"), *args], check=True, capture_output=True)

    subprocess.run([*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl("-o", options, "start")
    url = f"postgres://postgres@127.0.0.1:{port}/postgres"
    try:
        yield url, lambda: pg_ctl("-o", options, "-m", "fast", "restart")
    finally:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _job_state(url: str, job_id: int) -> tuple[str, str]:
    try:
        with psycopg2.connect(url) as db, db.cursor() as cursor:
            cursor.execute("SELECT state, error FROM content_job WHERE id = %s", [job_id])
            return cursor.fetchone()
    except psycopg2.OperationalError:
        return "unknown", "the database is down"


def test_a_database_restart_during_a_sync_job_ends_the_job(nc, nextcloud_settings, sample_songs,
                                                           own_postgres, settings, tmp_path):
    url, restart = own_postgres
    settings.SCRATCH_ROOT = tmp_path / "scratch"
    for name, folder in sample_songs:
        nc.copy_tree(folder, f"CloneHero/Songs/{name}")
    env = worker_env(nextcloud_settings, database_url=url)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=300)
    enqueued = subprocess.run([*manage, "sync_library", "--enqueue"], cwd=REPO, env=env,
                              check=True, capture_output=True, text=True, timeout=120)
    job_id = int(re.search(r"job #(\d+)", enqueued.stdout).group(1))
    # Each chart download answers late, so the sync is mid-way when the database goes.
    nc.fail("slow", method="GET", delay=0.3, times=-1)
    worker = start_worker(env)
    try:
        wait_for(lambda: _job_state(url, job_id)[0] == "running", "the sync job to start")
        time.sleep(0.5)
        restart()
        wait_for(lambda: _job_state(url, job_id)[0] in ("done", "failed"),
                 "the job to end after the restart", timeout=180)
        state, error = _job_state(url, job_id)
        if state == "failed":
            assert "database" in error.lower(), error
    finally:
        stop(worker)
    nc.clear()

    # The database still matches the server: a sync run now brings it fully up to date.
    synced = subprocess.run([*manage, "sync_library"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
    assert synced.returncode == 0, synced.stderr[-3000:]
    with psycopg2.connect(url) as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM content_song WHERE removed_at IS NULL")
        assert cursor.fetchone()[0] == len(sample_songs)
