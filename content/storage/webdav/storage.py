"""WebDavStorage: the Storage interface (base.py) on a Nextcloud or plain WebDAV server.

It ties the package's parts together: HTTP through ``transport.Transport``, listings parsed by
``multistatus``, writes by ``uploads``, streamed reads by ``remote_file.RemoteFile``; here are
the server discovery (user id, Nextcloud or not), the mapping of library paths to URLs,
folders, moves, deletes and publishing through a staging folder.
"""
from __future__ import annotations

import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

import requests
from loguru import logger

from ..base import (
    STAGING_FOLDER,
    AlreadyExists,
    Entry,
    NotFound,
    Storage,
    StorageError,
    join,
    parent,
    staging_name,
)
from .errors import AuthenticationFailed, BadResponse, ParentMissing, StorageUnavailable
from .multistatus import (PRINCIPAL_BODY, PROPFIND_BODY, STAT_BODY, failed_statuses,
                          parse_multistatus, principal_href)
from .remote_file import RemoteFile
from .transport import MiB, Body, Transport, json_or_none
from .uploads import Source, chunked_upload, put


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the server told us about itself, read once per storage instance.

    user_id: the id used in ``/remote.php/dav/files/<user_id>/``. nextcloud: True when the OCS
    user endpoint answered (Nextcloud or ownCloud): folder ETags propagate and chunked upload
    v2 exists. source: where user_id came from (``ocs``, ``principal`` or ``login``).
    """

    user_id: str
    nextcloud: bool
    source: str
    display_name: str | None = None


class WebDavStorage(Storage):
    """A library folder on a Nextcloud (or plain WebDAV) server. Safe to share between threads.

    url: the server's base URL (``https://cloud.example.com`` or ``…/nextcloud``). user and
    app_password: the Basic-auth login and an app password. root: the library folder inside the
    user's files (``CloneHero``). concurrency: connections in the one pool (requests beyond it
    wait for a free connection). timeout: read timeout in seconds (connect timeout
    ``min(10, timeout)``). chunk_threshold / chunk_size: bytes; files above the threshold use
    chunked upload v2 on Nextcloud (chunks must be 5 MiB–5 GiB there, except the last).
    retries: extra attempts after the first for retryable failures; backoff / backoff_max:
    seconds (exponential, with jitter); retry_after_max: the longest ``Retry-After`` we wait.

    Counters for the sync summary: ``requests_made`` (every HTTP request sent, retries included)
    and ``bytes_downloaded`` (response bodies read: files and listings).
    """

    def __init__(self, url: str, user: str, app_password: str, root: str = "CloneHero", *,
                 concurrency: int = 8, timeout: float = 60.0, chunk_threshold: int = 50 * MiB,
                 chunk_size: int = 10 * MiB, retries: int = 5, backoff: float = 0.5,
                 backoff_max: float = 30.0, retry_after_max: float = 120.0,
                 verify: bool | str = True):
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StorageError(f"NEXTCLOUD_URL {url!r} is not an http(s) URL")
        if not user:
            raise StorageError("NEXTCLOUD_USER is empty: set it to the Nextcloud login name")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.base_path = parts.path.rstrip("/")
        self.base_url = self.origin + self.base_path
        self.user = user
        root_parts = [p for p in (root or "").replace("\\", "/").split("/") if p]
        if any(set(p) == {"."} for p in root_parts):
            raise StorageError(f"NEXTCLOUD_ROOT {root!r}: '.'-only folder names are not allowed")
        self.root = "/".join(root_parts)
        self.concurrency = max(1, int(concurrency))
        self.timeout = (min(10.0, float(timeout)), float(timeout))
        self.chunk_threshold = int(chunk_threshold)
        self.chunk_size = max(1, int(chunk_size))
        self.retries = max(0, int(retries))
        self.http = Transport(
            origin=self.origin, user=user, password=app_password, describe=self.describe(),
            root_path=self._root_path, concurrency=self.concurrency, timeout=self.timeout,
            retries=self.retries, backoff=float(backoff), backoff_max=float(backoff_max),
            retry_after_max=float(retry_after_max), verify=verify)
        self._info: ServerInfo | None = None
        self._info_lock = threading.Lock()
        self._infinity: bool | None = None  # Depth: infinity honoured? None = not yet seen

    @classmethod
    def from_settings(cls, **overrides) -> WebDavStorage:
        """Built from the NEXTCLOUD_* settings (keyword arguments override them)."""
        from django.conf import settings

        options = dict(
            url=settings.NEXTCLOUD_URL,
            user=settings.NEXTCLOUD_USER,
            app_password=settings.NEXTCLOUD_APP_PASSWORD,
            root=settings.NEXTCLOUD_ROOT,
            concurrency=settings.NEXTCLOUD_CONCURRENCY,
            timeout=settings.NEXTCLOUD_TIMEOUT,
            chunk_threshold=settings.NEXTCLOUD_CHUNK_THRESHOLD,
            chunk_size=getattr(settings, "NEXTCLOUD_CHUNK_SIZE", 10 * MiB),
            retries=settings.NEXTCLOUD_RETRIES,
        )
        options.update(overrides)
        return cls(**options)

    # --- identity and counters ---------------------------------------------------------------

    def describe(self) -> str:
        return f"Nextcloud {self.base_url} (user {self.user}, folder {self.root or '/'})"

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far by this storage (retries included)."""
        return self.http.requests_made

    @property
    def bytes_downloaded(self) -> int:
        """Response body bytes read so far (file downloads and PROPFIND listings)."""
        return self.http.bytes_downloaded

    def counters(self) -> dict[str, int]:
        """``{"requests": int, "bytes_downloaded": int}``, read together."""
        return self.http.counters()

    @property
    def propagates_folder_etags(self) -> bool:  # type: ignore[override]
        """True on Nextcloud (the OCS user endpoint answered), where a folder's ETag changes
        whenever anything below it changes. Plain WebDAV servers: False (the sync walks fully).
        The first access asks the server (one request, shared with ``user_id()``)."""
        return self.server_info().nextcloud

    def user_id(self) -> str:
        """The user id in ``/remote.php/dav/files/<id>/``, read once from the server: OCS
        ``GET /ocs/v2.php/cloud/user?format=json`` (``ocs.data.id``), else the
        ``d:current-user-principal`` of ``/remote.php/dav/``, else the login name."""
        return self.server_info().user_id

    def server_info(self) -> ServerInfo:
        """The user id and server kind, read once per instance (see ServerInfo)."""
        if self._info is None:
            with self._info_lock:
                if self._info is None:
                    self._info = self._discover()
        return self._info

    def _discover(self) -> ServerInfo:
        url = f"{self.base_url}/ocs/v2.php/cloud/user?format=json"
        try:
            data = self.http.request("GET", url, what="OCS user", headers={
                "OCS-APIRequest": "true", "Accept": "application/json"}, consume=json_or_none)
        except (AuthenticationFailed, StorageUnavailable):
            raise  # unreachable or refused: the caller fails; the next call asks again
        except StorageError as exc:  # 404, 403, 405…: not Nextcloud
            logger.debug("OCS user endpoint unavailable on {}: {}", self.base_url, exc)
            data = None
        if isinstance(data, dict):
            user = (data.get("ocs") or {}).get("data") or {}
            if user.get("id"):
                info = ServerInfo(str(user["id"]), True, "ocs", user.get("display-name"))
                logger.info("{}: Nextcloud user id {!r}", self.describe(), info.user_id)
                return info
        try:
            href = self.http.request("PROPFIND", f"{self.base_url}/remote.php/dav/",
                                     what="principal",
                                     headers={"Depth": "0", "Content-Type": "application/xml"},
                                     body=Body.of(PRINCIPAL_BODY), stream=True,
                                     consume=self._principal_href)
        except (AuthenticationFailed, StorageUnavailable):
            raise
        except StorageError as exc:
            logger.debug("no current-user-principal on {}: {}", self.base_url, exc)
            href = None
        if href:
            segment = unquote(urlsplit(href).path).rstrip("/").rsplit("/", 1)[-1]
            if segment:
                return ServerInfo(segment, False, "principal")
        return ServerInfo(self.user, False, "login")

    def _principal_href(self, resp: requests.Response) -> str | None:
        if resp.status_code != 207:
            return None
        return principal_href(self.http.read_all(resp, limit=256 * 1024))

    # --- URLs and paths ----------------------------------------------------------------------

    def _rel(self, path: str) -> str:
        parts = [p for p in (path or "").replace("\\", "/").split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise StorageError(f"{path!r}: '.' and '..' are not allowed in library paths")
        return "/".join(parts)

    def _root_path(self) -> str:
        """The unquoted absolute URL path of the library root, without a trailing slash."""
        uid = self.user_id()
        return "/".join(p for p in (f"{self.base_path}/remote.php/dav/files/{uid}", self.root)
                        if p)

    def url(self, rel: str) -> str:
        """The quoted absolute URL of the library-relative path ``rel``."""
        path = self._root_path() + (f"/{rel}" if rel else "")
        return self.origin + quote(path, safe="/")

    def _rel_from_href(self, href: str) -> str:
        # Servers percent-encode differently (sabre lower-case, wsgidav upper-case), some send
        # absolute URLs: compare decoded paths only.
        path = unquote(urlsplit(href.strip()).path).rstrip("/")
        root = self._root_path()
        if path == root:
            return ""
        if path.startswith(root + "/"):
            return path[len(root) + 1:]
        raise BadResponse(f"the server listed {href!r}, which is outside {root!r}")

    # --- PROPFIND ------------------------------------------------------------------------------

    def _propfind(self, rel: str, depth: str, body: bytes = PROPFIND_BODY) -> list[Entry]:
        def consume(resp: requests.Response) -> list[Entry]:
            if resp.status_code != 207:
                raise BadResponse(f"PROPFIND {rel or '/'}: HTTP {resp.status_code}, expected 207")
            return parse_multistatus(resp.raw, self.http.count_bytes, self._rel_from_href,
                                     rel or "/")

        return self.http.request("PROPFIND", self.url(rel), what=rel or "/", headers={
            "Depth": depth, "Content-Type": 'application/xml; charset="utf-8"'},
            body=Body.of(body), consume=consume)

    # --- reading -------------------------------------------------------------------------------

    def stat(self, path: str) -> Entry:
        """The entry at ``path`` with the server's ``data_fingerprint``, from one ``PROPFIND
        Depth: 0``. Raises NotFound."""
        rel = self._rel(path)
        for entry in self._propfind(rel, "0", STAT_BODY):
            if entry.path == rel:
                return entry
        raise BadResponse(f"PROPFIND {rel or '/'}: the answer does not describe {rel or '/'}")

    def list(self, path: str) -> list[Entry]:
        rel = self._rel(path)
        entries = self._propfind(rel, "1")
        for entry in entries:
            if entry.path == rel and not entry.is_dir:
                raise NotFound(f"{rel}: is a file, not a folder, on {self.describe()}")
        return sorted((e for e in entries if e.path != rel), key=lambda e: e.name)

    def list_tree(self, path: str = "") -> list[Entry] | None:
        """Every entry below ``path`` (not ``path`` itself) from one ``PROPFIND Depth:
        infinity``, or None when the server does not honour infinity (then walk with
        ``list``). Probed, not trusted: sabre/dav silently answers Depth 1 instead, and Apache
        and nginx refuse; a Depth-1-looking answer is checked by listing a child folder once.
        """
        rel = self._rel(path)
        if self._infinity is False:
            return None
        try:
            entries = self._propfind(rel, "infinity")
        except (AuthenticationFailed, NotFound, StorageUnavailable):
            raise
        except StorageError as exc:  # 403 (Apache, nginx, wsgidav when disabled), 400, 501
            logger.info("{}: Depth: infinity refused ({}); walking instead", self.describe(), exc)
            self._infinity = False
            return None
        base = rel.count("/") + 1 if rel else 0
        below = [e for e in entries if e.path != rel]
        if self._infinity is None:
            if any(e.path.count("/") > base for e in below):
                self._infinity = True
            else:
                # Only children came back: either the tree is that flat or the server clamped
                # infinity to 1. A child folder that has children settles it.
                for child in [e for e in below if e.is_dir][:3]:
                    if self.list(child.path):
                        logger.info("{}: Depth: infinity answered as Depth 1; walking instead",
                                    self.describe())
                        self._infinity = False
                        return None
        return below

    def read(self, path: str) -> bytes:
        rel = self._rel(path)
        return self.http.request("GET", self.url(rel), what=rel, dav3="download",
                                 consume=self.http.read_all)

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        rel = self._rel(path)
        if length <= 0:
            return b""

        def consume(resp: requests.Response) -> bytes:
            if resp.status_code == 416:
                return b""  # offset at or past the end
            if resp.status_code == 206:
                return self.http.read_all(resp)[:length]
            # 200: the server ignored Range; read up to the window and drop the connection.
            data = self.http.read_all(resp, limit=offset + length)
            return data[offset:offset + length]

        return self.http.request("GET", self.url(rel), what=rel, dav3="download", headers={
            "Range": f"bytes={offset}-{offset + length - 1}"}, consume=consume, accept=(416,))

    def open(self, path: str) -> BinaryIO:
        """A buffered stream of the file. A connection cut mid-read resumes with a Range
        request (``If-Match`` the ETag first seen, so a file changed meanwhile raises instead of
        mixing versions), up to ``retries`` times. Raises NotFound at once."""
        raw = RemoteFile(self, self._rel(path))
        raw.connect()
        return io.BufferedReader(raw, buffer_size=256 * 1024)

    # --- writing -------------------------------------------------------------------------------

    def write(self, path: str, data: bytes | BinaryIO, *, if_match: str | None = None,
              mtime: float | None = None) -> Entry:
        """PUT the file (``X-OC-Mtime``, ``If-Match`` when given), creating missing parent
        folders; files above ``chunk_threshold`` use chunked upload v2 on Nextcloud. Streams
        from ``data`` (bytes or a binary stream). Raises PreconditionFailed when ``if_match`` no
        longer matches, InsufficientStorage on 507."""
        rel = self._rel(path)
        if not rel:
            raise StorageError("cannot write to the library root itself")
        # Always send a time: Nextcloud then says "X-OC-MTime: accepted" and the entry we
        # return is exact without another PROPFIND.
        stamp = int(time.time() if mtime is None else mtime)
        with Source(data) as source:
            if (if_match is None and source.size > self.chunk_threshold
                    and self.server_info().nextcloud):
                return chunked_upload(self, rel, source, stamp)
            return put(self, rel, source, if_match, stamp)

    def mkdir(self, path: str) -> None:
        rel = self._rel(path)
        if not rel:
            return

        def mkcol():
            try:
                self.http.request("MKCOL", self.url(rel), what=rel, dav3="mkdir",
                                  consume=lambda r: None)
            except AlreadyExists:
                pass  # 405: it exists (rclone answers 201 instead; both fine)
        try:
            mkcol()
        except ParentMissing:
            self.mkdir(parent(rel))
            mkcol()

    def move(self, src: str, dst: str) -> None:
        """MOVE with ``Overwrite: F``: raises AlreadyExists if ``dst`` exists, NotFound if
        ``src`` does not; creates ``dst``'s missing parents."""
        source, target = self._rel(src), self._rel(dst)
        if not source or not target:
            raise StorageError("cannot move the library root")
        headers = {"Destination": self.url(target), "Overwrite": "F"}

        def send():
            self.http.request("MOVE", self.url(source), what=f"{source} → {target}",
                              headers=headers, idempotent=False, consume=self._check_multistatus)
        try:
            send()
        except ParentMissing:
            self.mkdir(parent(target))
            send()

    def delete(self, path: str) -> None:
        rel = self._rel(path)
        if not rel:
            raise StorageError(f"refusing to delete the library root of {self.describe()}")
        try:
            self.http.request("DELETE", self.url(rel), what=rel, dav3="clean",
                              consume=self._check_multistatus)
        except NotFound:
            pass

    def _check_multistatus(self, resp: requests.Response) -> None:
        # MOVE/DELETE answer 207 when part of a collection failed (RFC 4918 §9.6.1, §9.9.4).
        if resp.status_code != 207:
            return
        bad = failed_statuses(self.http.read_all(resp, limit=1024 * 1024))
        if bad:
            raise StorageError(f"{resp.request.method} {unquote(urlsplit(resp.url).path)}: "
                               f"partly failed on the server (HTTP {', '.join(map(str, bad))})")
    # --- publishing ----------------------------------------------------------------------------

    def publish_folder(self, source: Path, dest: str) -> None:
        """Upload the local folder ``source`` to ``<root>/.chmanager-staging/<uuid>/``, then one
        MOVE (``Overwrite: F``) puts it at ``dest``: the song appears whole or not at all. On
        any failure the staging folder is deleted. Raises AlreadyExists if ``dest`` exists
        (checked before uploading anything), InsufficientStorage, StorageError."""
        target = self._rel(dest)
        if self.exists(target):
            raise AlreadyExists(f"{target}: already exists on {self.describe()}")
        staging = join(STAGING_FOLDER, staging_name())
        try:
            self._upload_tree(Path(source), staging)
            self.mkdir(parent(target))
            self.move(staging, target)
        except BaseException as exc:
            logger.warning("publishing {} to {} failed ({}); removing staging {}", source, target,
                           exc, staging)
            try:
                self.delete(staging)
            except StorageError as cleanup:
                logger.error("could not remove staging folder {}: {} (a job's clean-up removes "
                             "it later: staging_remove)", staging, cleanup)
            raise

    def publish_file(self, source: Path, dest: str) -> None:
        """Like publish_folder for one file (a ``.sng``): checked first, so a large upload is
        not wasted on a destination that exists. Raises AlreadyExists, StorageError."""
        if self.exists(self._rel(dest)):
            raise AlreadyExists(f"{self._rel(dest)}: already exists on {self.describe()}")
        super().publish_file(source, dest)

    def _upload_tree(self, source: Path, dest: str) -> None:
        folders, files = [dest], []
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            rel = Path(dirpath).relative_to(source).as_posix()
            base = join(dest, "" if rel == "." else rel)
            folders.extend(join(base, d) for d in dirnames)
            files.extend((Path(dirpath) / name, join(base, name)) for name in sorted(filenames))
        for folder in folders:  # parents first, in walk order
            self.mkdir(folder)

        def upload(item: tuple[Path, str]) -> None:
            local, remote = item
            with local.open("rb") as stream:
                self.write(remote, stream, mtime=local.stat().st_mtime)

        workers = min(self.concurrency, 4, max(1, len(files)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webdav-up") as pool:
            futures = [pool.submit(upload, item) for item in files]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
