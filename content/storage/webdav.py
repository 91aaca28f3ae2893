"""The library on Nextcloud (or any WebDAV server). This one module wraps all WebDAV access.

Layout: ``<NEXTCLOUD_URL>/remote.php/dav/files/<user id>/<NEXTCLOUD_ROOT>/`` is the storage root
and library paths are relative to it (``Songs/Artist/Name``), exactly as in the local folder.
The user id in that path is read once from the server (OCS ``/ocs/v2.php/cloud/user``), because
it is not always the login name (LDAP, OIDC and e-mail logins) [Nextcloud doc
``developer_manual/client_apis/WebDAV/basic.rst``; ``../shared/reference/nextcloud-webdav.md``
§1.1].

webdavclient3 (the design card's WebDAV package) and what is ours
-----------------------------------------------------------------
Used from webdavclient3 (``webdav3``):

- ``webdav3.client.Client`` holds and validates the connection options (``WebDAVSettings``:
  hostname, login, password, root path) and is the sender of the plain verbs whose semantics it
  gets right: ``Client.execute_request`` for **GET** (streamed: ``read``, ``read_range``,
  ``open``), **DELETE** and **MKCOL**. Our ``requests.Session`` (pool, no cookies, Basic auth)
  and our ``(connect, read)`` timeout are put into that client, so those requests share the one
  pool and go through the same retry loop and error mapping as ours.

Ours, and why (reference §2.3 lists the webdavclient3 3.14.7 code this is based on):

- PROPFIND: its ``list``/``info`` send a bodiless allprop request (no ``oc:fileid``/``oc:size``),
  use Depth 1 to describe one node, HEAD before each call and parse the whole body with
  ``fromstring``. Ours asks for exactly ``d:getetag d:getlastmodified d:getcontentlength
  d:resourcetype oc:fileid oc:size`` (and ``oc:data-fingerprint`` on Depth 0) with Depth 0/1
  (infinity only when the server is seen to honour it) and parses the multistatus with
  ``lxml.etree.iterparse``.
- PUT: its ``upload_*`` have no ``If-Match``, no ``X-OC-Mtime`` and no chunked upload;
  ``upload_directory`` deletes the remote directory first. Never call it.
- MOVE: ours sends ``Overwrite: F`` and maps 412 to AlreadyExists; its ``move`` HEADs first and
  turns 412 into a generic error.
- ``Client.mkdir`` prints to stdout and HEADs every parent, so we call ``execute_request``
  (``"mkdir"``) ourselves and create missing parents on 409.
- It has no retries, one timeout number and keeps cookies: the retry loop (backoff with jitter,
  ``Retry-After``), the timeouts and the cookie policy are ours.
- Chunked upload v2 [doc ``chunking.rst``] for files above ``NEXTCLOUD_CHUNK_THRESHOLD``.

Reliability rules (reference §1.2, §1.3): a 401 is never retried and makes the storage refuse
every later request in this process (Nextcloud's brute-force protection counts failures per
IP, then throttles every client behind it); 423, 429, 500, 502, 503, 504 and connection errors
are retried with exponential backoff and jitter, honouring ``Retry-After`` (non-idempotent MOVE
only on 423/429/503 and on connections that were never made); no cookies are kept (Nextcloud
answers ``401 CSRF check not passed`` when its session cookies come back with Basic auth).
"""
from __future__ import annotations

import http.client
import http.cookiejar
import io
import json
import os
import random
import re
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO, Callable
from urllib.parse import quote, unquote, urlsplit

import requests
import urllib3
from loguru import logger
from lxml import etree
from requests.adapters import HTTPAdapter
from webdav3.client import Client as Dav3Client
from webdav3.exceptions import WebDavException

from .base import AuthenticationFailed as BaseAuthenticationFailed
from .base import (
    STAGING_FOLDER,
    AlreadyExists,
    Entry,
    InsufficientStorage,
    NotFound,
    PreconditionFailed,
    Storage,
    StorageError,
    join,
    staging_name,
)

MiB = 1024 * 1024
DAV_NS = "DAV:"
OC_NS = "http://owncloud.org/ns"
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
    b"<d:resourcetype/><d:getetag/><d:getlastmodified/><d:getcontentlength/>"
    b"<oc:fileid/><oc:size/>"
    b"</d:prop></d:propfind>"
)
#: For ``stat`` (Depth 0): also the server's data fingerprint, which Nextcloud reports on every
#: node; asked only here so that listings do not repeat it for every child.
STAT_BODY = PROPFIND_BODY.replace(b"<oc:size/>", b"<oc:size/><oc:data-fingerprint/>")
PRINCIPAL_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>'
)
_T_RESPONSE = f"{{{DAV_NS}}}response"
_T_HREF = f"{{{DAV_NS}}}href"
_T_PROPSTAT = f"{{{DAV_NS}}}propstat"
_T_PROP = f"{{{DAV_NS}}}prop"
_T_STATUS = f"{{{DAV_NS}}}status"
_T_RESOURCETYPE = f"{{{DAV_NS}}}resourcetype"
_T_COLLECTION = f"{{{DAV_NS}}}collection"
_T_ETAG = f"{{{DAV_NS}}}getetag"
_T_MODIFIED = f"{{{DAV_NS}}}getlastmodified"
_T_LENGTH = f"{{{DAV_NS}}}getcontentlength"
_T_FILEID = f"{{{OC_NS}}}fileid"
_T_OCSIZE = f"{{{OC_NS}}}size"
_T_DATA_FINGERPRINT = f"{{{OC_NS}}}data-fingerprint"

#: Retried for idempotent requests (rclone's list, less 425/509 which Nextcloud does not send).
RETRY_STATUSES = frozenset({423, 429, 500, 502, 503, 504})
#: Statuses that say the server did not act: safe to repeat even a MOVE.
NOT_APPLIED_STATUSES = frozenset({423, 429, 503})

# Errors that can happen while sending a request or reading its body.
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


class AuthenticationFailed(BaseAuthenticationFailed):
    """The server answered 401: wrong or revoked NEXTCLOUD_USER / NEXTCLOUD_APP_PASSWORD.

    Never retried; after one, the storage refuses every further request in this process."""


class PermissionDenied(StorageError):
    """HTTP 403: the server refused the operation (permissions, a forbidden file name)."""


class StorageUnavailable(StorageError):
    """The server could not be reached or kept failing (5xx, 429, 423, timeouts) after the
    configured retries."""


class BadResponse(StorageError):
    """The server's answer could not be understood (malformed XML, unexpected status)."""


class _UploadExpired(StorageError):
    """The server removed a chunked upload's folder while we were uploading (Nextcloud
    expires them): the chunks are lost, the upload must start over."""


class _ParentMissing(NotFound):
    """PUT/MKCOL/MOVE answered 409 (or 404 on PUT): the parent collection does not exist."""


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


def clean_etag(raw: str | None) -> str | None:
    """An ETag without ``W/`` and quotes (servers differ: Nextcloud quotes, wsgidav does not)."""
    if raw is None:
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    return value or None


def _fileid_from_header(raw: str | None) -> str | None:
    # Nextcloud's OC-FileId header is the oc:id form ("%08d" % fileid + instance id, e.g.
    # "00000042oc1a2b3c4d"); listings give the bare oc:fileid, which is what Entry.fileid holds.
    if not raw:
        return None
    match = re.match(r"\s*(\d+)", raw)
    return str(int(match.group(1))) if match else None


def _parse_http_date(raw: str | None) -> float:
    if not raw:
        return 0.0
    try:
        return parsedate_to_datetime(raw.strip()).timestamp()
    except (TypeError, ValueError, IndexError):
        return 0.0


def _not_sent(exc: BaseException) -> bool:
    """True when the request never reached the server (refused or timed-out connect), so even a
    non-idempotent request may be sent again."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 6:
        if isinstance(cur, (requests.ConnectTimeout, urllib3.exceptions.NewConnectionError,
                            urllib3.exceptions.ConnectTimeoutError, ConnectionRefusedError)):
            return True
        reason = getattr(cur, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and cur.args and isinstance(cur.args[0], BaseException):
            nxt = cur.args[0]
        cur = nxt or cur.__cause__ or cur.__context__
        seen += 1
    return False


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)) or \
        "timed out" in str(exc).lower()


class _Body:
    """A request body that can be sent again: bytes, or a slice of a seekable binary file.

    requests streams it (``__iter__``/``read``) with an exact Content-Length (``__len__``), so
    a large file never sits in memory.
    """

    BLOCK = MiB

    def __init__(self, stream: BinaryIO | io.BytesIO, start: int, size: int):
        self._stream, self._start, self._size = stream, start, size
        self._left = size

    @classmethod
    def of(cls, data: bytes) -> _Body:
        return cls(io.BytesIO(data), 0, len(data))

    def __len__(self) -> int:
        return self._size

    def rewind(self) -> None:
        self._stream.seek(self._start)
        self._left = self._size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        chunk = self._stream.read(n)
        self._left -= len(chunk)
        return chunk

    def __iter__(self):
        while chunk := self.read(self.BLOCK):
            yield chunk


class _Source:
    """The data of a write as a seekable stream with a known size.

    bytes stay bytes; a seekable stream is used in place from its current position; anything
    else is spooled to a temporary file first (never whole in memory above 8 MiB).
    """

    def __init__(self, data: bytes | BinaryIO):
        self._spool = None
        if isinstance(data, (bytes, bytearray, memoryview)):
            raw = bytes(data)
            self.stream: BinaryIO = io.BytesIO(raw)
            self.start, self.size = 0, len(raw)
            return
        stream = data
        try:
            start = stream.tell()
            end = stream.seek(0, os.SEEK_END)
            stream.seek(start)
            self.stream, self.start, self.size = stream, start, end - start
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            self._spool = tempfile.SpooledTemporaryFile(max_size=8 * MiB)
            shutil.copyfileobj(stream, self._spool, MiB)
            self.size = self._spool.tell()
            self._spool.seek(0)
            self.stream, self.start = self._spool, 0

    def body(self, offset: int = 0, length: int | None = None) -> _Body:
        length = self.size - offset if length is None else length
        return _Body(self.stream, self.start + offset, length)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _CountingReader:
    """A file-like view of a urllib3 response body that counts the bytes it hands out."""

    def __init__(self, raw, count: Callable[[int], None]):
        self._raw, self._count = raw, count

    def read(self, n: int = -1) -> bytes:
        chunk = self._raw.read(n if n and n > 0 else 64 * 1024, decode_content=True)
        if chunk:
            self._count(len(chunk))
        return chunk


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
        self._password = app_password
        root_parts = [p for p in (root or "").replace("\\", "/").split("/") if p]
        if any(set(p) == {"."} for p in root_parts):
            raise StorageError(f"NEXTCLOUD_ROOT {root!r}: '.'-only folder names are not allowed")
        self.root = "/".join(root_parts)
        self.concurrency = max(1, int(concurrency))
        self.timeout = (min(10.0, float(timeout)), float(timeout))
        self.chunk_threshold = int(chunk_threshold)
        self.chunk_size = max(1, int(chunk_size))
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.backoff_max = float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self.verify = verify

        self._session = self._make_session()
        self._tls = threading.local()
        self._info: ServerInfo | None = None
        self._info_lock = threading.Lock()
        self._dav3: Dav3Client | None = None
        self._infinity: bool | None = None  # Depth: infinity honoured? None = not yet seen
        self._auth_failed: AuthenticationFailed | None = None
        self._counter_lock = threading.Lock()
        self._requests = 0
        self._bytes = 0

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
        with self._counter_lock:
            return self._requests

    @property
    def bytes_downloaded(self) -> int:
        """Response body bytes read so far (file downloads and PROPFIND listings)."""
        with self._counter_lock:
            return self._bytes

    def counters(self) -> dict[str, int]:
        """``{"requests": int, "bytes_downloaded": int}``, read together."""
        with self._counter_lock:
            return {"requests": self._requests, "bytes_downloaded": self._bytes}

    def _count_request(self) -> None:
        with self._counter_lock:
            self._requests += 1

    def _count_bytes(self, n: int) -> None:
        with self._counter_lock:
            self._bytes += n

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
            data = self._request("GET", url, what="OCS user", headers={
                "OCS-APIRequest": "true", "Accept": "application/json"}, consume=_json_or_none)
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
            href = self._request("PROPFIND", f"{self.base_url}/remote.php/dav/", what="principal",
                                 headers={"Depth": "0", "Content-Type": "application/xml"},
                                 body=_Body.of(PRINCIPAL_BODY), stream=True,
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
        try:
            tree = etree.fromstring(self._read_all(resp, limit=256 * 1024), parser=etree.XMLParser(
                resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return None
        return tree.findtext(f".//{{{DAV_NS}}}current-user-principal/{{{DAV_NS}}}href")

    # --- URLs and paths ----------------------------------------------------------------------

    def _rel(self, path: str) -> str:
        parts = [p for p in (path or "").replace("\\", "/").split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise StorageError(f"{path!r}: '.' and '..' are not allowed in library paths")
        return "/".join(parts)

    def _root_path(self) -> str:
        """The unquoted absolute URL path of the library root, without a trailing slash."""
        uid = self.user_id()
        return "/".join(p for p in (f"{self.base_path}/remote.php/dav/files/{uid}", self.root) if p)

    def _url(self, rel: str) -> str:
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

    def _dav3_client(self) -> Dav3Client:
        if self._dav3 is not None:
            return self._dav3
        root = self._root_path()  # may ask the server for the user id: outside the lock
        with self._info_lock:
            if self._dav3 is None:
                self._dav3 = self._new_dav3_client(root)
        return self._dav3

    def _new_dav3_client(self, root: str) -> Dav3Client:
        client = Dav3Client({
            "webdav_hostname": self.origin,
            "webdav_root": root,
            "webdav_login": self.user,
            "webdav_password": self._password,
            "webdav_timeout": self.timeout[1],
            "webdav_disable_check": True,
        })
        if not client.valid():
            raise StorageError(f"invalid WebDAV connection options for {self.describe()}")
        client.session = self._session  # our pool, cookie policy and Basic auth
        client.timeout = self.timeout  # (connect, read) instead of its single number
        client.verify = self.verify
        return client

    # --- the one request loop ----------------------------------------------------------------

    def _make_session(self) -> requests.Session:
        session = requests.Session()
        # Keep no cookies: Nextcloud answers "401 CSRF check not passed" when its session
        # cookies come back together with Basic auth (nextcloud/server#5060 and others).
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.auth = (self.user, self._password)
        session.headers["User-Agent"] = "chmanager (WebDAV)"
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.concurrency, max_retries=0,
                              pool_block=True)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.hooks["response"].append(self._remember_response)
        return session

    def _remember_response(self, resp, *args, **kwargs):
        # webdavclient3 raises its own exceptions without the response; keeping each thread's
        # last response lets the loop map it like ours and honour Retry-After.
        self._tls.last = resp
        return resp

    def _send(self, method: str, url: str, headers: dict, body, stream: bool, dav3: str | None,
              timeout) -> requests.Response:
        if dav3 is not None:
            self._tls.last = None
            client = self._dav3_client()
            path = url[len(self.origin) + len(quote(self._root_path(), safe="/")):]
            try:
                return client.execute_request(
                    dav3, path or "/", headers_ext=[f"{k}: {v}" for k, v in headers.items()])
            except WebDavException:
                resp = getattr(self._tls, "last", None)
                if resp is None:
                    raise
                return resp
        return self._session.request(method, url, headers=headers, data=body, stream=stream,
                                     timeout=timeout or self.timeout, allow_redirects=False,
                                     verify=self.verify)

    def _request(self, method: str, url: str, *, what: str, headers: dict | None = None,
                 body: _Body | None = None, stream: bool = True, idempotent: bool = True,
                 consume: Callable[[requests.Response], object] | None = None,
                 accept: tuple[int, ...] = (), dav3: str | None = None,
                 retries: int | None = None, timeout=None):
        """Send one request, retrying what may be retried; return ``consume(response)`` (run
        inside the retry scope, so a body cut off mid-read is fetched again) or, without
        ``consume``, the open streamed response (the caller closes it).

        ``what`` names the path in error messages. Statuses in ``accept`` are handed to
        ``consume`` instead of raising. Raises AuthenticationFailed, NotFound,
        PreconditionFailed, AlreadyExists, InsufficientStorage, PermissionDenied,
        StorageUnavailable, BadResponse or StorageError.
        """
        if self._auth_failed is not None:
            raise AuthenticationFailed(str(self._auth_failed))
        headers = dict(headers or {})
        max_retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            resp = None
            if body is not None:
                body.rewind()
            try:
                self._count_request()
                started = time.monotonic()
                resp = self._send(method, url, headers, body, stream, dav3, timeout)
                status = resp.status_code
                logger.debug("{} {} → {} ({:.0f} ms)", method, what, status,
                             1000 * (time.monotonic() - started))
                if status >= 400 and status not in accept:
                    if status in RETRY_STATUSES and attempt < max_retries and (
                            idempotent or status in NOT_APPLIED_STATUSES):
                        try:
                            delay = self._delay(attempt, resp)
                        finally:
                            self._finish(resp)
                        logger.warning("{} {}: HTTP {}, retry {}/{} in {:.2f} s", method, what,
                                       status, attempt + 1, max_retries, delay)
                        time.sleep(delay)
                        attempt += 1
                        continue
                    error = self._error_for(method, status, resp, what, attempt)
                    self._finish(resp)
                    raise error
                if consume is None:
                    return resp
                try:
                    return consume(resp)
                finally:
                    self._finish(resp)
            except StorageError:
                raise
            except _TRANSIENT as exc:
                if resp is not None:
                    resp.close()
                retryable = idempotent or _not_sent(exc)
                if retryable and attempt < max_retries:
                    delay = self._delay(attempt, None)
                    logger.warning("{} {}: {}, retry {}/{} in {:.2f} s", method, what,
                                   type(exc).__name__, attempt + 1, max_retries, delay)
                    time.sleep(delay)
                    attempt += 1
                    continue
                kind = "timed out" if _is_timeout(exc) else "connection failed"
                raise StorageUnavailable(
                    f"{method} {what}: {kind} after {attempt + 1} attempt(s) on "
                    f"{self.describe()}: {exc}") from exc

    def _delay(self, attempt: int, resp: requests.Response | None) -> float:
        backoff = min(self.backoff_max, self.backoff * (2 ** attempt)) * random.uniform(0.5, 1.0)
        raw = resp.headers.get("Retry-After") if resp is not None else None
        if raw:
            wait = None
            if raw.strip().isdigit():
                wait = float(raw.strip())
            else:
                when = _parse_http_date(raw)
                wait = max(0.0, when - time.time()) if when else None
            if wait is not None:
                if wait > self.retry_after_max:
                    raise StorageUnavailable(
                        f"{self.describe()} asked to retry after {wait:.0f} s (HTTP "
                        f"{resp.status_code}), longer than we wait ({self.retry_after_max:.0f} s)")
                # Honour it, plus a little jitter so parallel workers do not return together.
                return wait + random.uniform(0, min(1.0, self.backoff))
        return backoff

    def _error_for(self, method: str, status: int, resp: requests.Response, what: str,
                   attempt: int) -> StorageError:
        detail = _error_message(resp)
        suffix = f": {detail}" if detail else ""
        if status == 401:
            error = AuthenticationFailed(
                f"{self.describe()} refused the credentials (HTTP 401){suffix}. Check "
                f"NEXTCLOUD_USER and NEXTCLOUD_APP_PASSWORD (an app password from Personal "
                f"settings → Security). Not retried: repeated failures make Nextcloud's "
                f"brute-force protection throttle every client of this IP. Restart after fixing.")
            self._auth_failed = error
            return error
        if status == 404:
            if method in ("PUT", "MKCOL"):
                return _ParentMissing(f"{what}: the parent folder does not exist{suffix}")
            return NotFound(f"{what}: not found on {self.describe()}")
        if status == 409:
            return _ParentMissing(f"{what}: the parent folder does not exist (HTTP 409){suffix}")
        if status == 412:
            if method in ("MOVE", "COPY"):
                return AlreadyExists(f"{what}: the destination already exists{suffix}")
            return PreconditionFailed(
                f"{what}: changed on the server since it was read (HTTP 412); sync the "
                f"library first, nothing was overwritten")
        if status == 405:
            if method == "MKCOL":
                return AlreadyExists(f"{what}: already exists")
            return StorageError(f"{method} {what}: not allowed by the server (HTTP 405){suffix}")
        if status == 507:
            return InsufficientStorage(
                f"{method} {what}: the Nextcloud account or server is out of space (HTTP 507 "
                f"Insufficient Storage); free space or raise the quota, then try again")
        if status == 403:
            return PermissionDenied(f"{method} {what}: refused by the server (HTTP 403){suffix}")
        if status in (423, 429) or status >= 500:
            reason = {423: "locked", 429: "rate limited (too many requests or brute-force "
                      "protection)"}.get(status, "server error")
            return StorageUnavailable(
                f"{method} {what}: {reason} (HTTP {status}) after {attempt + 1} attempt(s) on "
                f"{self.describe()}{suffix}")
        return StorageError(f"{method} {what}: HTTP {status}{suffix}")

    def _finish(self, resp: requests.Response, limit: int = 256 * 1024) -> None:
        """Close a response; a short unread rest is read first so that the connection goes
        back to the pool (urllib3 drops a connection whose body was not read to the end)."""
        try:
            left = limit
            while left > 0:
                chunk = resp.raw.read(min(left, 64 * 1024), decode_content=True)
                if not chunk:
                    break
                left -= len(chunk)
                self._count_bytes(len(chunk))
        except Exception:  # noqa: BLE001 — the connection is being given up anyway
            pass
        resp.close()

    def _read_all(self, resp: requests.Response, limit: int | None = None) -> bytes:
        chunks, total = [], 0
        while chunk := resp.raw.read(256 * 1024, decode_content=True):
            chunks.append(chunk)
            total += len(chunk)
            self._count_bytes(len(chunk))
            if limit is not None and total >= limit:
                break
        return b"".join(chunks)

    # --- PROPFIND ------------------------------------------------------------------------------

    def _propfind(self, rel: str, depth: str, body: bytes = PROPFIND_BODY) -> list[Entry]:
        def consume(resp: requests.Response) -> list[Entry]:
            if resp.status_code != 207:
                raise BadResponse(f"PROPFIND {rel or '/'}: HTTP {resp.status_code}, expected 207")
            return self._parse_multistatus(resp, rel)

        return self._request("PROPFIND", self._url(rel), what=rel or "/", headers={
            "Depth": depth, "Content-Type": 'application/xml; charset="utf-8"'},
            body=_Body.of(body), consume=consume)

    def _parse_multistatus(self, resp: requests.Response, rel: str) -> list[Entry]:
        # iterparse, never fromstring: a Depth-infinity answer on a big library is megabytes.
        reader = _CountingReader(resp.raw, self._count_bytes)
        entries = []
        try:
            for _, el in etree.iterparse(reader, events=("end",), tag=_T_RESPONSE,
                                         resolve_entities=False, no_network=True, load_dtd=False):
                entry = self._entry_from(el)
                if entry is not None:
                    entries.append(entry)
                el.clear()
                while el.getprevious() is not None:
                    del el.getparent()[0]
        except etree.XMLSyntaxError as exc:
            raise BadResponse(f"PROPFIND {rel or '/'}: malformed XML from the server: {exc}") from exc
        return entries

    def _entry_from(self, el) -> Entry | None:
        href = el.findtext(_T_HREF)
        if not href:
            return None
        props = {}
        for propstat in el.iterfind(_T_PROPSTAT):
            status = (propstat.findtext(_T_STATUS) or "").split()
            if len(status) < 2 or status[1] != "200":
                continue  # 404 propstats: properties this server does not have (oc:* on plain)
            prop = propstat.find(_T_PROP)
            if prop is not None:
                for child in prop:
                    props[child.tag] = child
        if not props:
            return None
        rel = self._rel_from_href(href)
        rtype = props.get(_T_RESOURCETYPE)
        is_dir = rtype is not None and rtype.find(_T_COLLECTION) is not None
        mtime = _parse_http_date(_text(props.get(_T_MODIFIED)))
        if is_dir:
            size = _int(_text(props.get(_T_OCSIZE)))
        else:
            size = _int(_text(props.get(_T_LENGTH)) or _text(props.get(_T_OCSIZE)))
        etag = clean_etag(_text(props.get(_T_ETAG)))
        if etag is None:
            etag = f"{size:x}-{int(mtime):x}"  # no ETag from this server: derive one
        fileid = _text(props.get(_T_FILEID)) or None
        return Entry(path=rel, name=rel.rsplit("/", 1)[-1], is_dir=is_dir, size=size,
                     mtime=mtime, etag=etag, fileid=fileid,
                     data_fingerprint=_text(props.get(_T_DATA_FINGERPRINT)))

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
        return self._request("GET", self._url(rel), what=rel, dav3="download",
                             consume=self._read_all)

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        rel = self._rel(path)
        if length <= 0:
            return b""

        def consume(resp: requests.Response) -> bytes:
            if resp.status_code == 416:
                return b""  # offset at or past the end
            if resp.status_code == 206:
                return self._read_all(resp)[:length]
            # 200: the server ignored Range; read up to the window and drop the connection.
            data = self._read_all(resp, limit=offset + length)
            return data[offset:offset + length]

        return self._request("GET", self._url(rel), what=rel, dav3="download", headers={
            "Range": f"bytes={offset}-{offset + length - 1}"}, consume=consume, accept=(416,))

    def open(self, path: str) -> BinaryIO:
        """A buffered stream of the file. A connection cut mid-read resumes with a Range
        request (``If-Match`` the ETag first seen, so a file changed meanwhile raises instead of
        mixing versions), up to ``retries`` times. Raises NotFound at once."""
        raw = _RemoteFile(self, self._rel(path))
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
        with _Source(data) as source:
            if (if_match is None and source.size > self.chunk_threshold
                    and self.server_info().nextcloud):
                return self._chunked_upload(rel, source, stamp)
            return self._put(rel, source, if_match, stamp)

    def _put(self, rel: str, source: _Source, if_match: str | None, stamp: int) -> Entry:
        headers = {"X-OC-Mtime": str(stamp), "Content-Type": "application/octet-stream"}
        if if_match is not None:
            headers["If-Match"] = f'"{clean_etag(if_match)}"'

        def put():
            return self._request("PUT", self._url(rel), what=rel, headers=headers,
                                 body=source.body(), consume=lambda r: r.headers)
        try:
            answer = put()
        except _ParentMissing:
            if if_match is not None:
                raise PreconditionFailed(
                    f"{rel}: no longer exists on the server; sync the library first") from None
            self.mkdir(_parent(rel))
            answer = put()
        except NotFound:
            if if_match is not None:
                raise PreconditionFailed(
                    f"{rel}: no longer exists on the server; sync the library first") from None
            raise
        return self._written(rel, answer, source.size, stamp)

    def _written(self, rel: str, headers, size: int, stamp: int) -> Entry:
        etag = clean_etag(headers.get("OC-ETag") or headers.get("ETag"))
        if etag and headers.get("X-OC-MTime", "").lower() == "accepted":
            return Entry(path=rel, name=rel.rsplit("/", 1)[-1], is_dir=False, size=size,
                         mtime=float(stamp), etag=etag,
                         fileid=_fileid_from_header(headers.get("OC-FileId")))
        return self.stat(rel)  # a server that did not tell: ask

    def _chunked_upload(self, rel: str, source: _Source, stamp: int) -> Entry:
        """Nextcloud chunked upload v2 [doc ``chunking.rst``]: MKCOL an upload folder, PUT the
        chunks (``Destination`` and ``OC-Total-Length`` on each), MOVE ``.file`` onto the
        destination; on any failure DELETE the upload folder. A chunk whose PUT is retried
        (reply lost, connection dropped) goes to the same upload folder; if the server drops
        the folder itself (uploads expire), the upload starts once more in a new one."""
        try:
            return self._chunked_upload_attempt(rel, source, stamp)
        except _UploadExpired as expired:
            logger.warning("{}; starting the upload again with a new upload folder", expired)
            return self._chunked_upload_attempt(rel, source, stamp)

    def _chunked_upload_attempt(self, rel: str, source: _Source, stamp: int) -> Entry:
        uid = self.user_id()
        upload = f"{self.base_path}/remote.php/dav/uploads/{uid}/chmanager-{uuid.uuid4().hex}"
        up_url = self.origin + quote(upload, safe="/")
        dest = self._url(rel)
        total = str(source.size)
        try:
            try:
                self._request("MKCOL", up_url, what=f"{rel} (chunked upload)",
                              headers={"Destination": dest})
            except AlreadyExists:
                pass  # our own retry after a lost reply
            number = 0
            for offset in range(0, source.size, self.chunk_size):
                number += 1
                try:
                    self._request("PUT", f"{up_url}/{number:05d}", what=f"{rel} chunk {number}",
                                  headers={"Destination": dest, "OC-Total-Length": total},
                                  body=source.body(offset,
                                                   min(self.chunk_size, source.size - offset)),
                                  consume=lambda r: None)
                except NotFound as error:  # 404/409: our upload folder is gone
                    raise _UploadExpired(f"{rel}: the server dropped the chunked upload folder "
                                         f"before chunk {number} ({error})") from error
            final = {"Destination": dest, "OC-Total-Length": total, "X-OC-Mtime": str(stamp),
                     "Overwrite": "T"}

            def assemble():
                return self._request("MOVE", f"{up_url}/.file", what=rel, headers=final,
                                     idempotent=False, consume=lambda r: r.headers)
            try:
                answer = assemble()
            except _ParentMissing:
                self.mkdir(_parent(rel))
                answer = assemble()
            except NotFound as error:  # 404 on .file: the upload folder is gone
                raise _UploadExpired(f"{rel}: the server dropped the chunked upload folder "
                                     f"before it was assembled ({error})") from error
        except BaseException:
            try:
                self._request("DELETE", up_url, what=f"{rel} (abort chunked upload)",
                              consume=lambda r: None, retries=1)
            except StorageError as cleanup:
                logger.warning("could not remove upload folder {}: {}", upload, cleanup)
            raise
        return self._written(rel, answer, source.size, stamp)

    def mkdir(self, path: str) -> None:
        rel = self._rel(path)
        if not rel:
            return

        def mkcol():
            try:
                self._request("MKCOL", self._url(rel), what=rel, dav3="mkdir",
                              consume=lambda r: None)
            except AlreadyExists:
                pass  # 405: it exists (rclone answers 201 instead; both fine)
        try:
            mkcol()
        except _ParentMissing:
            self.mkdir(_parent(rel))
            mkcol()

    def move(self, src: str, dst: str) -> None:
        """MOVE with ``Overwrite: F``: raises AlreadyExists if ``dst`` exists, NotFound if
        ``src`` does not; creates ``dst``'s missing parents."""
        source, target = self._rel(src), self._rel(dst)
        if not source or not target:
            raise StorageError("cannot move the library root")
        headers = {"Destination": self._url(target), "Overwrite": "F"}

        def send():
            self._request("MOVE", self._url(source), what=f"{source} → {target}",
                          headers=headers, idempotent=False, consume=self._check_multistatus)
        try:
            send()
        except _ParentMissing:
            self.mkdir(_parent(target))
            send()

    def delete(self, path: str) -> None:
        rel = self._rel(path)
        if not rel:
            raise StorageError(f"refusing to delete the library root of {self.describe()}")
        try:
            self._request("DELETE", self._url(rel), what=rel, dav3="clean",
                          consume=self._check_multistatus)
        except NotFound:
            pass

    def _check_multistatus(self, resp: requests.Response) -> None:
        # MOVE/DELETE answer 207 when part of a collection failed (RFC 4918 §9.6.1, §9.9.4).
        if resp.status_code != 207:
            return
        body = self._read_all(resp, limit=1024 * 1024)
        failures = re.findall(rb"HTTP/1\.[01] (\d{3})", body)
        bad = sorted({int(code) for code in failures if not code.startswith(b"2")})
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
            self.mkdir(_parent(target))
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


class _RemoteFile(io.RawIOBase):
    """A seekable, resuming reader of one remote file (see WebDavStorage.open)."""

    def __init__(self, storage: WebDavStorage, rel: str):
        self._storage, self._rel = storage, rel
        self._pos = 0
        self._size: int | None = None
        self._etag: str | None = None
        self._resp: requests.Response | None = None
        self._resumes = 0

    def connect(self) -> None:
        headers = {}
        if self._pos:
            headers["Range"] = f"bytes={self._pos}-"
            if self._etag:
                headers["If-Match"] = f'"{self._etag}"'
        resp = self._storage._request("GET", self._storage._url(self._rel), what=self._rel,
                                      dav3="download", headers=headers, accept=(416,))
        if resp.status_code == 416:
            self._storage._finish(resp)
            self._resp = None
            return
        if self._etag is None:
            self._etag = clean_etag(resp.headers.get("ETag"))
        if resp.status_code == 200:
            length = resp.headers.get("Content-Length")
            if self._size is None and length is not None:
                self._size = int(length)
            if self._pos:  # Range ignored: skip to where we were
                skip = self._pos
                while skip > 0:
                    chunk = resp.raw.read(min(skip, MiB), decode_content=True)
                    if not chunk:
                        break
                    skip -= len(chunk)
        elif resp.status_code == 206 and self._size is None:
            total = resp.headers.get("Content-Range", "").rpartition("/")[2]
            self._size = int(total) if total.isdigit() else None
        self._resp = resp

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            if self._size is None:
                raise io.UnsupportedOperation("size unknown")
            pos = self._size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos != self._pos:
            self._drop()
            self._pos = max(0, pos)
        return self._pos

    def readinto(self, buffer) -> int:
        if self._size is not None and self._pos >= self._size:
            return 0
        while True:
            if self._resp is None:
                self.connect()
                if self._resp is None:
                    return 0
            try:
                chunk = self._resp.raw.read(len(buffer), decode_content=True)
            except _TRANSIENT as exc:
                self._resume(exc)
                continue
            if not chunk and self._size is not None and self._pos < self._size:
                self._resume(EOFError("connection closed early"))
                continue
            n = len(chunk)
            buffer[:n] = chunk
            self._pos += n
            self._storage._count_bytes(n)
            return n

    def _resume(self, exc: BaseException) -> None:
        self._drop()
        if self._resumes >= self._storage.retries:
            raise StorageUnavailable(f"GET {self._rel}: connection lost at byte {self._pos} "
                                     f"after {self._resumes} resume(s): {exc}") from exc
        self._resumes += 1
        logger.warning("GET {}: {} at byte {}, resuming ({}/{})", self._rel, type(exc).__name__,
                       self._pos, self._resumes, self._storage.retries)

    def _drop(self) -> None:
        if self._resp is not None:
            if self._size is not None and self._pos >= self._size:
                self._storage._finish(self._resp)  # read to the end: keep the connection
            else:
                self._resp.close()
            self._resp = None

    def close(self) -> None:
        self._drop()
        super().close()


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _text(el) -> str | None:
    if el is None:
        return None
    return (el.text or "").strip() or None


def _int(raw: str | None) -> int:
    try:
        return int(float(raw)) if raw else 0
    except ValueError:
        return 0


def _json_or_none(resp: requests.Response):
    if resp.status_code != 200 or "json" not in resp.headers.get("Content-Type", ""):
        return None
    try:
        return json.loads(resp.content)
    except ValueError:
        return None


def _error_message(resp: requests.Response) -> str:
    """The server's short explanation (sabre's ``<s:message>``), if the body has one."""
    try:
        body = resp.raw.read(8192, decode_content=True) if resp.raw is not None else b""
    except Exception:  # noqa: BLE001 — best effort on an error path
        return ""
    match = re.search(rb"<(?:\w+:)?message[^>]*>(.*?)</(?:\w+:)?message>", body or b"", re.S)
    text = match.group(1) if match else b""
    return text.decode("utf-8", "replace").strip()[:300]


# --- status for the dashboard and /health --------------------------------------------------

_STATUS_CACHE: dict[str, tuple[float, dict]] = {}
_STATUS_LOCK = threading.Lock()
STATUS_TTL = 15.0


def nextcloud_status(storage: WebDavStorage | None = None, *, fresh: bool = False) -> dict:
    """Whether Nextcloud is reachable, for the dashboard and ``/health``. Never raises.

    Returns ``{"configured": bool, "reachable": bool, "ok": bool, "url": str, "user": str,
    "user_id": str | None, "version": str | None, "maintenance": bool | None,
    "root_exists": bool | None, "error": str | None, "seconds": float}``. Costs at most
    ``GET /status.php`` (no credentials) and one ``PROPFIND Depth: 0`` of the library root (plus
    the one-off user-id lookup), with short timeouts and no retries; cached for STATUS_TTL
    seconds so a polling health check cannot hammer the server or, with a wrong password, trip
    brute-force protection (a 401 also makes the storage refuse further requests).
    """
    from django.conf import settings

    url = getattr(settings, "NEXTCLOUD_URL", "") or ""
    result = {"configured": bool(url), "reachable": False, "ok": False, "url": url,
              "user": getattr(settings, "NEXTCLOUD_USER", ""), "user_id": None, "version": None,
              "maintenance": None, "root_exists": None, "error": None, "seconds": 0.0}
    if not url:
        return result
    with _STATUS_LOCK:
        cached = _STATUS_CACHE.get(url)
        if cached and not fresh and time.monotonic() - cached[0] < STATUS_TTL:
            return dict(cached[1])
    started = time.monotonic()
    try:
        if storage is None:
            from . import library_storage

            current = library_storage()
            storage = current if isinstance(current, WebDavStorage) else \
                WebDavStorage.from_settings()
        quick = (min(3.0, storage.timeout[0]), min(5.0, storage.timeout[1]))
        try:
            info = storage._request("GET", f"{storage.base_url}/status.php", what="status.php",
                                    retries=0, timeout=quick, consume=_json_or_none)
        except NotFound:
            info = None  # a plain WebDAV server: reachability is told by the PROPFIND below
        result["reachable"] = True
        if isinstance(info, dict):
            result["version"] = info.get("versionstring") or info.get("version")
            result["maintenance"] = bool(info.get("maintenance"))
        result["user_id"] = storage.user_id()
        try:
            storage._request("PROPFIND", storage._url(""), what="/", retries=0, timeout=quick,
                             headers={"Depth": "0", "Content-Type": "application/xml"},
                             body=_Body.of(PROPFIND_BODY), consume=lambda r: None)
            result["root_exists"] = True
        except NotFound:
            result["root_exists"] = False
            result["error"] = f"the folder {storage.root!r} does not exist on the server"
        result["ok"] = bool(result["root_exists"]) and not result["maintenance"]
    except StorageError as exc:
        result["error"] = str(exc)
        if isinstance(exc, (AuthenticationFailed, PermissionDenied)):
            result["reachable"] = True
    except Exception as exc:  # noqa: BLE001 — a status probe must never break the page
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["seconds"] = round(time.monotonic() - started, 3)
    with _STATUS_LOCK:
        _STATUS_CACHE[url] = (time.monotonic(), dict(result))
    return result
