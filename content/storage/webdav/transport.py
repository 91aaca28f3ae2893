"""HTTP for the WebDAV storage: one connection pool, the retry loop and the error mapping.

Every request of the package goes through ``Transport.request``, which applies the reliability
rules of the package docstring (401 never retried, backoff with jitter and ``Retry-After``,
no cookies) and maps statuses to our StorageError subclasses. GET, DELETE and MKCOL are sent
by webdavclient3's ``Client.execute_request`` on our session.
"""
from __future__ import annotations

import http.client
import http.cookiejar
import io
import json
import random
import re
import threading
import time
from email.utils import parsedate_to_datetime
from typing import BinaryIO, Callable
from urllib.parse import quote

import requests
import urllib3
from loguru import logger
from requests.adapters import HTTPAdapter
from webdav3.client import Client as Dav3Client
from webdav3.exceptions import WebDavException

from ..base import AlreadyExists, InsufficientStorage, NotFound, PreconditionFailed, StorageError
from .errors import AuthenticationFailed, ParentMissing, PermissionDenied, StorageUnavailable

MiB = 1024 * 1024

#: Retried for idempotent requests (rclone's list, less 425/509 which Nextcloud does not send).
RETRY_STATUSES = frozenset({423, 429, 500, 502, 503, 504})
#: Statuses that say the server did not act: safe to repeat even a MOVE.
NOT_APPLIED_STATUSES = frozenset({423, 429, 503})

# Errors that can happen while sending a request or reading its body.
TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


def parse_http_date(raw: str | None) -> float:
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


class Body:
    """A request body that can be sent again: bytes, or a slice of a seekable binary file.

    requests streams it (``__iter__``/``read``) with an exact Content-Length (``__len__``), so
    a large file never sits in memory.
    """

    BLOCK = MiB

    def __init__(self, stream: BinaryIO | io.BytesIO, start: int, size: int):
        self._stream, self._start, self._size = stream, start, size
        self._left = size

    @classmethod
    def of(cls, data: bytes) -> Body:
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


def json_or_none(resp: requests.Response):
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


class Transport:
    """The HTTP side of one WebDavStorage. Safe to share between threads.

    origin: ``scheme://host[:port]``. user / password: Basic auth. describe: the storage's
    description, for error messages. root_path: returns the unquoted URL path of the library
    root (it may ask the server for the user id, so it is called only when needed).
    concurrency: connections in the pool. timeout: ``(connect, read)`` seconds. retries, backoff,
    backoff_max, retry_after_max, verify: as on WebDavStorage.

    Counters: ``requests_made`` (every request sent, retries included) and
    ``bytes_downloaded`` (response bodies read).
    """

    def __init__(self, *, origin: str, user: str, password: str, describe: str,
                 root_path: Callable[[], str], concurrency: int, timeout: tuple[float, float],
                 retries: int, backoff: float, backoff_max: float, retry_after_max: float,
                 verify: bool | str):
        self.origin, self.user, self._password = origin, user, password
        self.describe = describe
        self.root_path = root_path
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.verify = verify
        self.session = self._make_session()
        self._tls = threading.local()
        self._dav3: Dav3Client | None = None
        self._dav3_lock = threading.Lock()
        self._auth_failed: AuthenticationFailed | None = None
        self._counter_lock = threading.Lock()
        self._requests = 0
        self._bytes = 0

    # --- counters ----------------------------------------------------------------------------

    @property
    def requests_made(self) -> int:
        with self._counter_lock:
            return self._requests

    @property
    def bytes_downloaded(self) -> int:
        with self._counter_lock:
            return self._bytes

    def counters(self) -> dict[str, int]:
        """``{"requests": int, "bytes_downloaded": int}``, read together."""
        with self._counter_lock:
            return {"requests": self._requests, "bytes_downloaded": self._bytes}

    def _count_request(self) -> None:
        with self._counter_lock:
            self._requests += 1

    def count_bytes(self, n: int) -> None:
        with self._counter_lock:
            self._bytes += n

    # --- webdavclient3 -----------------------------------------------------------------------

    def _dav3_client(self) -> Dav3Client:
        if self._dav3 is not None:
            return self._dav3
        root = self.root_path()  # may ask the server for the user id: outside the lock
        with self._dav3_lock:
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
            raise StorageError(f"invalid WebDAV connection options for {self.describe}")
        client.session = self.session  # our pool, cookie policy and Basic auth
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
            path = url[len(self.origin) + len(quote(self.root_path(), safe="/")):]
            try:
                return client.execute_request(
                    dav3, path or "/", headers_ext=[f"{k}: {v}" for k, v in headers.items()])
            except WebDavException:
                resp = getattr(self._tls, "last", None)
                if resp is None:
                    raise
                return resp
        return self.session.request(method, url, headers=headers, data=body, stream=stream,
                                    timeout=timeout or self.timeout, allow_redirects=False,
                                    verify=self.verify)

    def request(self, method: str, url: str, *, what: str, headers: dict | None = None,
                body: Body | None = None, stream: bool = True, idempotent: bool = True,
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
                            self.finish(resp)
                        logger.warning("{} {}: HTTP {}, retry {}/{} in {:.2f} s", method, what,
                                       status, attempt + 1, max_retries, delay)
                        time.sleep(delay)
                        attempt += 1
                        continue
                    error = self._error_for(method, status, resp, what, attempt)
                    self.finish(resp)
                    raise error
                if consume is None:
                    return resp
                try:
                    return consume(resp)
                finally:
                    self.finish(resp)
            except StorageError:
                raise
            except TRANSIENT as exc:
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
                    f"{self.describe}: {exc}") from exc

    def _delay(self, attempt: int, resp: requests.Response | None) -> float:
        backoff = min(self.backoff_max, self.backoff * (2 ** attempt)) * random.uniform(0.5, 1.0)
        raw = resp.headers.get("Retry-After") if resp is not None else None
        if raw:
            wait = None
            if raw.strip().isdigit():
                wait = float(raw.strip())
            else:
                when = parse_http_date(raw)
                wait = max(0.0, when - time.time()) if when else None
            if wait is not None:
                if wait > self.retry_after_max:
                    raise StorageUnavailable(
                        f"{self.describe} asked to retry after {wait:.0f} s (HTTP "
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
                f"{self.describe} refused the credentials (HTTP 401){suffix}. Check "
                f"NEXTCLOUD_USER and NEXTCLOUD_APP_PASSWORD (an app password from Personal "
                f"settings → Security). Not retried: repeated failures make Nextcloud's "
                f"brute-force protection throttle every client of this IP. Restart after fixing.")
            self._auth_failed = error
            return error
        if status == 404:
            if method in ("PUT", "MKCOL"):
                return ParentMissing(f"{what}: the parent folder does not exist{suffix}")
            return NotFound(f"{what}: not found on {self.describe}")
        if status == 409:
            return ParentMissing(f"{what}: the parent folder does not exist (HTTP 409){suffix}")
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
                f"{self.describe}{suffix}")
        return StorageError(f"{method} {what}: HTTP {status}{suffix}")

    def finish(self, resp: requests.Response, limit: int = 256 * 1024) -> None:
        """Close a response; a short unread rest is read first so that the connection goes
        back to the pool (urllib3 drops a connection whose body was not read to the end)."""
        try:
            left = limit
            while left > 0:
                chunk = resp.raw.read(min(left, 64 * 1024), decode_content=True)
                if not chunk:
                    break
                left -= len(chunk)
                self.count_bytes(len(chunk))
        except Exception:  # noqa: BLE001 — the connection is being given up anyway
            pass
        resp.close()

    def read_all(self, resp: requests.Response, limit: int | None = None) -> bytes:
        chunks, total = [], 0
        while chunk := resp.raw.read(256 * 1024, decode_content=True):
            chunks.append(chunk)
            total += len(chunk)
            self.count_bytes(len(chunk))
            if limit is not None and total >= limit:
                break
        return b"".join(chunks)
