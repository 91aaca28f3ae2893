"""Fixtures for the WebDAV storage and sync tests: one Nextcloud-like wsgidav server per test
session (tests/davserver.py), a fresh tree per test, and storages pointed at it."""
from __future__ import annotations

import errno
import gc
import sys
import traceback

import pytest

from content.storage.webdav import WebDavStorage
from tests.davserver import DavServer

KiB = 1024


@pytest.fixture(scope="session")
def dav_server():
    previous = sys.unraisablehook

    def hook(unraisable):
        # cheroot, after a test client gave up on a slow answer (timeout tests), garbage-collects
        # a socket writer whose socket is already closed; that is not a failure.
        exc = unraisable.exc_value
        trace = unraisable.exc_traceback
        files = [frame.f_code.co_filename for frame, _ in traceback.walk_tb(trace)]
        if isinstance(exc, OSError) and exc.errno == errno.EBADF and \
                any("cheroot" in name for name in files):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    server = DavServer().start()
    yield server
    server.stop()
    gc.collect()
    sys.unraisablehook = previous


@pytest.fixture(params=["nc", "plain"])
def dav(request, dav_server, tmp_path) -> DavServer:
    """The server in each mode: Nextcloud-like ("nc") and stock wsgidav ("plain")."""
    return dav_server.reset(tmp_path / "dav", request.param)


@pytest.fixture
def nc(dav_server, tmp_path) -> DavServer:
    return dav_server.reset(tmp_path / "dav", "nc")


@pytest.fixture
def plain(dav_server, tmp_path) -> DavServer:
    return dav_server.reset(tmp_path / "dav", "plain")


def make_storage(server: DavServer, **overrides) -> WebDavStorage:
    """A storage on the test server with test-sized timeouts, backoff and chunking."""
    options = dict(url=server.url, user=server.login, app_password=server.password,
                   root="CloneHero", concurrency=4, timeout=5.0, retries=3, backoff=0.01,
                   backoff_max=0.05, chunk_threshold=256 * KiB, chunk_size=64 * KiB)
    options.update(overrides)
    return WebDavStorage(**options)


@pytest.fixture
def storage(dav) -> WebDavStorage:
    """A storage that has already read its user id (so request counts start at zero)."""
    storage = make_storage(dav)
    storage.user_id()
    dav.clear()
    return storage


@pytest.fixture
def nextcloud_settings(settings, dav_server):
    """Django settings pointing the library at the test server (whatever mode it was reset to
    by the test's server fixture, which must come first)."""
    settings.NEXTCLOUD_URL = dav_server.url
    settings.NEXTCLOUD_USER = dav_server.login
    settings.NEXTCLOUD_APP_PASSWORD = dav_server.password
    settings.NEXTCLOUD_ROOT = "CloneHero"
    settings.NEXTCLOUD_CONCURRENCY = 4
    settings.NEXTCLOUD_TIMEOUT = 5.0
    settings.NEXTCLOUD_RETRIES = 2
    return settings


@pytest.fixture(scope="session")
def sample_songs(tmp_path_factory):
    """12 real songs (song.ini + a human-charted notes.mid each) built once per session by
    ../shared/tools/build_sample_library.py: ``[(Artist/Title, folder), ...]``, read-only."""
    import subprocess

    from tests.conftest import FIXTURES

    out = tmp_path_factory.mktemp("webdav-sample") / "library"
    subprocess.run([sys.executable, str(FIXTURES.parent / "tools" / "build_sample_library.py"),
                    str(out), "--limit", "12"], check=True, capture_output=True)
    return sorted((p.parent.relative_to(out).as_posix(), p.parent) for p in out.rglob("song.ini"))
