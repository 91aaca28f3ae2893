"""A Nextcloud-like WebDAV server for tests and the benchmark: wsgidav on a loopback port.

``DavServer`` runs one cheroot server for a whole test session; ``reset()`` points it at a fresh
tree (a test's tmp_path) in one of two modes:

- ``"nc"`` — behaves like Nextcloud where the sync depends on it (see
  ``../shared/reference/nextcloud-webdav.md`` §1.5, §1.6, §3.3): every node has an ``oc:fileid``
  that survives MOVE and is never reused (kept in an xattr, so it moves with the inode and dies
  with it) and an ETag that changes on every write and **propagates to every ancestor folder**
  (the Propagator), ``oc:size`` (recursive for folders), quoted ETags in PROPFIND, ``X-OC-Mtime``
  honoured and answered ``X-OC-MTime: accepted``, ``OC-ETag``/``OC-FileId`` headers on PUT,
  ``/status.php``, the OCS user endpoint, ``d:current-user-principal``, ``oc:data-fingerprint``
  on every node (empty, as on a server where no admin ran ``occ maintenance:data-fingerprint``;
  set ``data_fingerprint`` to simulate a restored backup), a minimal chunked upload
  v2 (``/remote.php/dav/uploads/<user>/<id>/<n>``, final MOVE of ``.file``), session cookies set
  on every answer and "401 CSRF check not passed" when a client sends them back with Basic
  auth.
- ``"plain"`` — stock wsgidav ``FilesystemProvider``: no folder ETags, no ``oc:`` properties,
  ``X-OC-Mtime`` ignored, no OCS, no chunking. Proves the client's fallbacks.

Both serve the user's files at ``/remote.php/dav/files/<user_id>/`` behind Basic auth with a
login and an app password (the login may differ from the user id, as on Nextcloud).

Fault injection (``fail()``), applied before everything else to matching requests:
``status`` (with ``Retry-After`` or any header), ``truncate`` (send the real headers, half the
body, then drop the connection), ``slow`` (sleep, then answer normally: a client timeout),
``malformed`` (207 with broken XML), ``lost_reply`` (apply the request, then answer 504 as a
proxy losing the reply would). Every request is recorded (method, path, depth, status) so tests
can assert e.g. exactly one ``PROPFIND Depth: 0``.

Changes made straight on disk (``write_file`` etc. with ``propagate=False``) are invisible to
ETags, as changes outside Nextcloud are until ``occ files:scan``.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import ParseResult, quote, unquote, urlsplit

import wsgidav.request_server
from cheroot import wsgi
from wsgidav.error_printer import ErrorPrinter
from wsgidav.fs_dav_provider import FileResource, FilesystemProvider, FolderResource
from wsgidav.http_authenticator import HTTPAuthenticator
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

def _urlparse_keeping_question_marks(url, scheme="", allow_fragments=True):
    # wsgidav unquotes the Destination header *before* parsing it, so a "?" (or ";") in a file
    # name, both allowed on Nextcloud, would cut the destination short. Parse it as a path
    # that may contain them.
    # urlparse would also split ";params" off the last segment: use urlsplit's path.
    parts = urlsplit(url.replace("?", "\x00"), scheme, allow_fragments)
    return ParseResult(parts.scheme, parts.netloc, parts.path.replace("\x00", "?"), "",
                       parts.query, parts.fragment)


wsgidav.request_server.urlparse = _urlparse_keeping_question_marks

OC = "{http://owncloud.org/ns}"
INSTANCE_ID = "ocfake0001"
XA_FILEID = "user.nc.fileid"
XA_ETAG = "user.nc.etag"


class NcMeta:
    """Nextcloud's file cache, reduced to what sync needs: fileid and ETag per node, kept in
    xattrs (they follow the inode through a rename and vanish with it), ETag propagation to
    ancestors, recursive folder sizes cached per (fileid, ETag)."""

    _ids = itertools.count(1001)  # unique for the whole process: ids are never reused
    _seq = itertools.count(1)

    def __init__(self, home: Path):
        self.home = os.path.abspath(home)
        self.lock = threading.RLock()
        self._sizes: dict[tuple[int, str], int] = {}
        #: The server-wide ``oc:data-fingerprint`` (Nextcloud's system value ``data-fingerprint``).
        self.data_fingerprint = ""

    @staticmethod
    def _get(fp: str, key: str) -> str | None:
        try:
            return os.getxattr(fp, key, follow_symlinks=False).decode()
        except OSError:
            return None

    def new_etag(self) -> str:
        # Like PHP's uniqid(): time-based, unique, opaque.
        return f"{time.time_ns() // 1000:x}{next(self._seq):05x}"

    def fileid(self, fp: str) -> int:
        value = self._get(fp, XA_FILEID)
        if value is None:
            with self.lock:
                value = self._get(fp, XA_FILEID)
                if value is None:
                    value = str(next(self._ids))
                    os.setxattr(fp, XA_FILEID, value.encode(), follow_symlinks=False)
        return int(value)

    def etag(self, fp: str) -> str:
        value = self._get(fp, XA_ETAG)
        if value is None:
            with self.lock:
                value = self._get(fp, XA_ETAG)
                if value is None:
                    value = self.new_etag()
                    os.setxattr(fp, XA_ETAG, value.encode(), follow_symlinks=False)
        return value

    def bump(self, fp: str) -> None:
        """New ETag for ``fp`` (if it exists) and every ancestor up to the user's home."""
        with self.lock:
            path = os.path.abspath(fp)
            while True:
                if os.path.lexists(path):
                    self.fileid(path)
                    os.setxattr(path, XA_ETAG, self.new_etag().encode(), follow_symlinks=False)
                if path == self.home or not path.startswith(self.home):
                    break
                path = os.path.dirname(path)

    def forget(self, fp: str) -> None:
        """Drop ids below ``fp`` (a COPY: copy2/copystat copied the xattrs too)."""
        for root, dirs, files in os.walk(fp):
            for name in [root] + [os.path.join(root, f) for f in files]:
                for key in (XA_FILEID, XA_ETAG):
                    try:
                        os.removexattr(name, key, follow_symlinks=False)
                    except OSError:
                        pass
        if os.path.isfile(fp):
            for key in (XA_FILEID, XA_ETAG):
                try:
                    os.removexattr(fp, key, follow_symlinks=False)
                except OSError:
                    pass

    def size(self, fp: str) -> int:
        if not os.path.isdir(fp):
            return os.path.getsize(fp)
        key = (self.fileid(fp), self.etag(fp))
        cached = self._sizes.get(key)
        if cached is None:
            cached = 0
            for root, dirs, files in os.walk(fp):
                for name in files:
                    try:
                        cached += os.path.getsize(os.path.join(root, name))
                    except OSError:
                        pass
            self._sizes[key] = cached
        return cached


class _NcMixin:
    """Nextcloud-like live properties and propagation for both resource kinds."""

    def get_etag(self):
        return self.provider.meta.etag(self._file_path)

    def get_property_value(self, name):
        meta: NcMeta = self.provider.meta
        if name == "{DAV:}getetag":
            return f'"{meta.etag(self._file_path)}"'  # Nextcloud quotes them
        if name == OC + "fileid":
            return str(meta.fileid(self._file_path))
        if name == OC + "id":
            return f"{meta.fileid(self._file_path):08d}{INSTANCE_ID}"
        if name == OC + "size":
            return str(meta.size(self._file_path))
        if name == OC + "data-fingerprint":
            return meta.data_fingerprint
        return super().get_property_value(name)

    def delete(self):
        parent = os.path.dirname(self._file_path)
        super().delete()
        self.provider.meta.bump(parent)

    def move_recursive(self, dest_path):
        src_parent = os.path.dirname(self._file_path)
        dest_fp = self.provider._loc_to_file_path(dest_path, self.environ)
        result = super().move_recursive(dest_path)
        # The moved node keeps its fileid and ETag; both parents' chains change.
        self.provider.meta.bump(src_parent)
        self.provider.meta.bump(os.path.dirname(dest_fp))
        return result

    def copy_move_single(self, dest_path, *, is_move):
        dest_fp = self.provider._loc_to_file_path(dest_path, self.environ)
        result = super().copy_move_single(dest_path, is_move=is_move)
        meta: NcMeta = self.provider.meta
        if not is_move:
            meta.forget(dest_fp)
        meta.bump(dest_fp)
        if is_move:
            meta.bump(os.path.dirname(self._file_path))
        return result


class NcFileResource(_NcMixin, FileResource):
    def end_write(self, *, with_errors):
        super().end_write(with_errors=with_errors)
        self.provider.meta.bump(self._file_path)


class NcFolderResource(_NcMixin, FolderResource):
    def support_recursive_delete(self):
        return True

    def create_collection(self, name):
        super().create_collection(name)
        self.provider.meta.bump(os.path.join(self._file_path, name))

    def create_empty_resource(self, name):
        res = super().create_empty_resource(name)
        self.provider.meta.fileid(os.path.join(self._file_path, name))
        return res


class NcProvider(FilesystemProvider):
    def __init__(self, home: Path, meta: NcMeta):
        super().__init__(str(home), readonly=False, fs_opts={"follow_symlinks": False})
        self.meta = meta

    def get_resource_inst(self, path, environ):
        self._count_get_resource_inst += 1
        fp = self._loc_to_file_path(path, environ)
        if not os.path.exists(fp) or os.path.islink(fp):
            return None
        if os.path.isdir(fp):
            return NcFolderResource(path, environ, fp)
        return NcFileResource(path, environ, fp)


@dataclass
class Fault:
    """One injected failure. Matches on method, a substring of the decoded path (relative to
    the user's files root, or the full path for other endpoints) and Depth; hits ``times``
    matching requests (-1: every one)."""

    action: str = "status"  # status | truncate | slow | malformed | lost_reply
    status: int = 503
    method: str | None = None
    path: str | None = None
    depth: str | None = None
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    times: int = 1
    hits: int = 0

    def matches(self, method: str, path: str, depth: str | None) -> bool:
        if self.times == 0:
            return False
        if self.method and self.method != method:
            return False
        if self.path is not None and self.path not in path:
            return False
        if self.depth is not None and self.depth != depth:
            return False
        return True


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it (path relative to the user's files root when inside
    it); ``headers`` keeps Range, If-Match, Destination, Overwrite and Cookie."""

    method: str
    path: str
    depth: str | None
    status: int
    headers: dict = field(default_factory=dict, compare=False)


class DavServer:
    """See the module docstring. Use ``start()``/``stop()`` once, ``reset()`` per test."""

    def __init__(self, *, login: str = "alice", user_id: str = "alice",
                 password: str = "app-pass-1234", threads: int = 24):
        self.login, self.user_id, self.password = login, user_id, password
        self.mode = "nc"
        self.threads = threads
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        # Bumped by reset() and clear(): a request that arrived before (a previous test's
        # client gave up on it, the server still answers) is not logged after them.
        self._log_generation = 0
        self._lock = threading.Lock()
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None
        self.root: Path | None = None
        self._app = None
        self.meta: NcMeta | None = None
        #: Answer "Depth: infinity" as Depth 1, silently, like sabre/dav's default.
        self.clamp_infinity = False

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> DavServer:
        self._server = wsgi.Server(("127.0.0.1", 0), self, numthreads=self.threads,
                                   request_queue_size=64, timeout=30, shutdown_timeout=2)
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="davserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        host, port = self._server.bind_addr[:2]
        return f"http://{host}:{port}"

    @property
    def files_prefix(self) -> str:
        return f"/remote.php/dav/files/{self.user_id}"

    @property
    def home(self) -> Path:
        """The user's files on disk (``/remote.php/dav/files/<user_id>/`` maps here)."""
        return self.root / "files" / self.user_id

    def reset(self, root: Path, mode: str = "nc", *, login: str = "alice",
              user_id: str = "alice", library: str = "CloneHero") -> DavServer:
        """Serve a fresh tree under ``root`` in ``mode`` ("nc" or "plain"), with the folder
        ``library`` (the NEXTCLOUD_ROOT) and its ``Songs`` inside; clear faults and the log."""
        assert mode in ("nc", "plain")
        with self._lock:
            self.mode = mode
            self.login, self.user_id = login, user_id
            self.clamp_infinity = False
            self.root = Path(root)
            (self.root / "uploads").mkdir(parents=True, exist_ok=True)
            self.home.mkdir(parents=True, exist_ok=True)
            if library:
                (self.home / library / "Songs").mkdir(parents=True, exist_ok=True)
            self.meta = NcMeta(self.home) if mode == "nc" else None
            provider = NcProvider(self.home, self.meta) if mode == "nc" else \
                FilesystemProvider(str(self.home), readonly=False, fs_opts={})
            self._app = WsgiDAVApp({
                "provider_mapping": {self.files_prefix: provider},
                "simple_dc": {"user_mapping": {"*": True}},  # Basic auth is checked in front
                "http_authenticator": {"accept_basic": True, "accept_digest": False,
                                       "default_to_digest": False},
                "middleware_stack": [ErrorPrinter, HTTPAuthenticator, RequestResolver],
                "dir_browser": {"enable": False},
                "honor_mtime_header": mode == "nc",
                "lock_storage": True,
                "property_manager": None,
                "verbose": 0,
                "logging": {"enable": False},
            })
            self._forget()
        return self

    # --- test helpers ----------------------------------------------------------------------

    def fail(self, action: str = "status", **kwargs) -> Fault:
        fault = Fault(action=action, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        """Forget faults and the request log."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        # Callers hold self._lock. The generation goes with the log: requests that arrived
        # before are answered unlogged.
        self.faults = []
        self.seen = []
        self._log_generation += 1

    def count(self, method: str | None = None, *, depth: str | None = None,
              path: str | None = None) -> int:
        with self._lock:
            return sum(1 for s in self.seen if (method is None or s.method == method)
                       and (depth is None or s.depth == depth)
                       and (path is None or path in s.path))

    def disk(self, rel: str) -> Path:
        """The file on disk for a path relative to the user's files root."""
        return self.home.joinpath(*[p for p in rel.split("/") if p])

    def write_file(self, rel: str, data: bytes, *, mtime: float | None = None,
                   propagate: bool = True) -> Path:
        """Create or replace a file as a Nextcloud user would (ETags propagate), or straight
        on disk with ``propagate=False`` (invisible until a scan, as on Nextcloud)."""
        fp = self.disk(rel)
        fp.parent.mkdir(parents=True, exist_ok=True)
        fp.write_bytes(data)
        if mtime is not None:
            os.utime(fp, (mtime, mtime))
        if propagate and self.meta is not None:
            self.meta.bump(str(fp))
        return fp

    def copy_tree(self, source: Path, rel: str, *, propagate: bool = True) -> Path:
        fp = self.disk(rel)
        shutil.copytree(source, fp)
        if self.meta is not None:
            self.meta.forget(str(fp))
            if propagate:
                self.meta.bump(str(fp))
        return fp

    def move(self, src: str, dst: str) -> None:
        """Rename as a Nextcloud user would: ids kept, both parents' ETags change."""
        a, b = self.disk(src), self.disk(dst)
        b.parent.mkdir(parents=True, exist_ok=True)
        os.rename(a, b)
        if self.meta is not None:
            self.meta.bump(str(a.parent))
            self.meta.bump(str(b.parent))

    def remove(self, rel: str) -> None:
        fp = self.disk(rel)
        if fp.is_dir():
            shutil.rmtree(fp)
        else:
            fp.unlink()
        if self.meta is not None:
            self.meta.bump(str(fp.parent))

    def fileid(self, rel: str) -> str | None:
        return str(self.meta.fileid(str(self.disk(rel)))) if self.meta else None

    def set_fileid(self, rel: str, fileid: str) -> None:
        """Give ``rel`` the id ``fileid`` (ids handed out again, as after a database restore)."""
        os.setxattr(self.disk(rel), XA_FILEID, fileid.encode(), follow_symlinks=False)

    def restore_backup(self, fingerprint: str) -> None:
        """What an admin does after restoring a backup (``occ maintenance:data-fingerprint``):
        a new data fingerprint. Change the files first, with ``propagate=False`` for changes
        whose ETags came back from the backup as they were."""
        self.meta.data_fingerprint = fingerprint

    def etag(self, rel: str) -> str | None:
        return self.meta.etag(str(self.disk(rel))) if self.meta else None

    def tree(self, rel: str = "") -> list[str]:
        """Every path below ``rel`` on disk, sorted (folders end with /)."""
        base = self.disk(rel)
        out = []
        for root, dirs, files in os.walk(base):
            r = Path(root).relative_to(base).as_posix()
            prefix = "" if r == "." else r + "/"
            out += [prefix + d + "/" for d in dirs] + [prefix + f for f in files]
        return sorted(out)

    # --- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        method = environ["REQUEST_METHOD"].upper()
        raw_path = environ.get("PATH_INFO", "")
        try:
            path = raw_path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = raw_path
        depth = environ.get("HTTP_DEPTH")
        rel = path[len(self.files_prefix):] if path.startswith(self.files_prefix) else path
        kept = {name: environ[key] for name, key in (
            ("Range", "HTTP_RANGE"), ("If-Match", "HTTP_IF_MATCH"),
            ("Destination", "HTTP_DESTINATION"), ("Overwrite", "HTTP_OVERWRITE"),
            ("Cookie", "HTTP_COOKIE")) if key in environ}

        generation = self._log_generation

        def recording_start(status, headers, exc_info=None):
            with self._lock:
                if generation == self._log_generation:
                    self.seen.append(Seen(method, rel, depth, int(status.split()[0]), kept))
            return start_response(status, headers, exc_info)

        fault = None
        with self._lock:
            for candidate in self.faults:
                if candidate.matches(method, rel, depth):
                    fault = candidate
                    fault.hits += 1
                    if fault.times > 0:
                        fault.times -= 1
                    break
        if fault is not None:
            handled = self._apply_fault(fault, environ, recording_start)
            if handled is not None:
                return handled
        return self._route(environ, recording_start, method, path)

    def _apply_fault(self, fault: Fault, environ, start_response):
        if fault.action == "status":
            _drain(environ)
            headers = [("Content-Type", "text/plain"), *fault.headers.items()]
            body = fault.body or f"injected {fault.status}".encode()
            start_response(f"{fault.status} Injected",
                           headers + [("Content-Length", str(len(body)))])
            return [body]
        if fault.action == "slow":
            time.sleep(fault.delay)
            # The client has probably given up: answer on a connection we then close, so
            # cheroot does not keep a half-written socket around.
            closing = start_response

            def start_and_close(status, headers, exc_info=None):
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                return closing(status, headers + [("Connection", "close")], exc_info)
            return self._route(environ, start_and_close, environ["REQUEST_METHOD"],
                               environ["PATH_INFO"].encode("latin-1").decode("utf-8"))
        if fault.action == "malformed":
            _drain(environ)
            body = (b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response>'
                    b"<d:href>/remote.php/dav/files/x</d:hre")
            start_response("207 Multi-Status", [("Content-Type", "application/xml"),
                                                 ("Content-Length", str(len(body)))])
            return [body]
        if fault.action == "lost_reply":
            # Let the request happen, then answer as a proxy that lost the reply would.
            inner = self._route(environ, lambda s, h, e=None: None, environ["REQUEST_METHOD"],
                                environ["PATH_INFO"].encode("latin-1").decode("utf-8"))
            for _ in inner:
                pass
            if hasattr(inner, "close"):
                inner.close()
            body = b"reply lost"
            start_response(f"{fault.status} Gateway Timeout", [("Content-Length", str(len(body)))])
            return [body]
        if fault.action == "truncate":
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
            inner = self._route(environ, capture, environ["REQUEST_METHOD"],
                                environ["PATH_INFO"].encode("latin-1").decode("utf-8"))
            body = b"".join(inner)
            if hasattr(inner, "close"):
                inner.close()
            headers = [(k, v) for k, v in captured["headers"]
                       if k.lower() not in ("content-length", "connection")]
            # Announce the whole length, send half, then fail: cheroot closes the connection
            # and the client sees it drop mid-body (an IncompleteRead).
            start_response(captured["status"], headers + [("Content-Length", str(len(body)))])

            def cut():
                yield body[: max(1, len(body) // 2)]
                raise _Dropped("injected: connection dropped mid-body")
            return cut()
        raise ValueError(f"unknown fault action {fault.action!r}")

    def _route(self, environ, start_response, method: str, path: str):
        nc = self.mode == "nc"
        if path == "/_davserver/counts":  # for the benchmark, which runs us in a process
            with self._lock:
                by_method: dict[str, int] = {}
                for seen in self.seen:
                    by_method[seen.method] = by_method.get(seen.method, 0) + 1
            return _json(start_response, {"total": sum(by_method.values()),
                                          "by_method": by_method})
        if nc and path == "/status.php":
            return _json(start_response, {"installed": True, "maintenance": False,
                                          "needsDbUpgrade": False, "version": "30.0.4.1",
                                          "versionstring": "30.0.4", "edition": "",
                                          "productname": "Nextcloud", "extendedSupport": False})
        if not self._authorised(environ):
            _drain(environ)
            return _plain(start_response, "401 Unauthorized", b"wrong credentials",
                          [("WWW-Authenticate", 'Basic realm="Nextcloud", charset="UTF-8"')])
        if nc and environ.get("HTTP_COOKIE") and "nc_session_id" in environ["HTTP_COOKIE"]:
            # Nextcloud: session cookies plus Basic auth → the CSRF check fails.
            _drain(environ)
            return _plain(start_response, "401 Unauthorized", b"CSRF check not passed.")
        if path.startswith(self.files_prefix + "/") or path == self.files_prefix:
            return self._files(environ, start_response, method, path)
        if nc and path.rstrip("/") == "/ocs/v2.php/cloud/user":
            if environ.get("HTTP_OCS_APIREQUEST", "").lower() != "true":
                return _plain(start_response, "412 Precondition Failed", b"CSRF check failed")
            return _json(start_response, {"ocs": {
                "meta": {"status": "ok", "statuscode": 200, "message": "OK"},
                "data": {"id": self.user_id, "display-name": self.login.title(),
                         "email": None, "enabled": True}}})
        if nc and path.rstrip("/") == "/remote.php/dav" and method == "PROPFIND":
            _drain(environ)
            href = quote(f"/remote.php/dav/principals/users/{self.user_id}/")
            body = ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:"><d:response>'
                    '<d:href>/remote.php/dav/</d:href><d:propstat><d:prop>'
                    f"<d:current-user-principal><d:href>{href}</d:href></d:current-user-principal>"
                    "</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
                    "</d:multistatus>").encode()
            return _plain(start_response, "207 Multi-Status", body,
                          [("Content-Type", "application/xml; charset=utf-8")])
        if nc and path.startswith(f"/remote.php/dav/uploads/{self.user_id}/"):
            return self._uploads(environ, start_response, method, path)
        _drain(environ)
        return _plain(start_response, "404 Not Found", b"not found")

    def _authorised(self, environ) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Basic "):
            return False
        try:
            login, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return login == self.login and password == self.password

    def _files(self, environ, start_response, method: str, path: str):
        nc = self.mode == "nc"
        mtime_sent = environ.get("HTTP_X_OC_MTIME")
        if self.clamp_infinity and environ.get("HTTP_DEPTH", "infinity") == "infinity" \
                and method == "PROPFIND":
            environ["HTTP_DEPTH"] = "1"

        def finishing(status, headers, exc_info=None):
            headers = list(headers)
            if nc:
                headers.append(("Set-Cookie", "nc_session_id=abc123; path=/; HttpOnly"))
                if method == "PUT" and status.startswith("2"):
                    fp = self._fs_path(path)
                    if fp is not None and os.path.isfile(fp):
                        headers.append(("OC-ETag", f'"{self.meta.etag(fp)}"'))
                        headers.append(("OC-FileId", f"{self.meta.fileid(fp):08d}{INSTANCE_ID}"))
                        if mtime_sent:
                            headers.append(("X-OC-MTime", "accepted"))
            return start_response(status, headers, exc_info)
        return self._app(environ, finishing)

    def _fs_path(self, path: str) -> str | None:
        if not path.startswith(self.files_prefix):
            return None
        return str(self.disk(path[len(self.files_prefix):]))

    # --- chunked upload v2 (Nextcloud doc: developer_manual/client_apis/WebDAV/chunking.rst) --

    def _uploads(self, environ, start_response, method: str, path: str):
        rest = path[len(f"/remote.php/dav/uploads/{self.user_id}/"):].strip("/")
        parts = rest.split("/")
        folder = self.root / "uploads" / parts[0]
        if method == "MKCOL" and len(parts) == 1:
            _drain(environ)
            if folder.exists():
                return _plain(start_response, "405 Method Not Allowed", b"exists")
            folder.mkdir()
            return _plain(start_response, "201 Created", b"")
        if method == "PUT" and len(parts) == 2:
            if not folder.is_dir():
                _drain(environ)
                return _plain(start_response, "404 Not Found", b"no upload")
            with open(folder / parts[1], "wb") as out:
                stream = environ["wsgi.input"]
                left = int(environ.get("CONTENT_LENGTH") or 0)
                while left > 0:
                    chunk = stream.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    out.write(chunk)
                    left -= len(chunk)
            return _plain(start_response, "201 Created", b"")
        if method == "DELETE" and len(parts) == 1:
            shutil.rmtree(folder, ignore_errors=True)
            return _plain(start_response, "204 No Content", b"")
        if method == "MOVE" and len(parts) == 2 and parts[1] == ".file":
            _drain(environ)
            if not folder.is_dir():
                return _plain(start_response, "404 Not Found", b"no upload")
            dest = unquote(urlsplit(environ.get("HTTP_DESTINATION", "")).path)
            fp = self._fs_path(dest)
            if fp is None:
                return _plain(start_response, "400 Bad Request", b"bad destination")
            if not os.path.isdir(os.path.dirname(fp)):
                return _plain(start_response, "409 Conflict", b"parent missing")
            chunks = sorted(p for p in folder.iterdir())
            total = sum(p.stat().st_size for p in chunks)
            expected = environ.get("HTTP_OC_TOTAL_LENGTH")
            if expected is not None and int(expected) != total:
                return _plain(start_response, "400 Bad Request", b"size mismatch")
            existed = os.path.exists(fp)
            with open(fp, "wb") as out:  # in place: an overwritten file keeps its fileid
                for chunk in chunks:
                    with open(chunk, "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
            mtime = environ.get("HTTP_X_OC_MTIME")
            if mtime and mtime.isdigit():
                os.utime(fp, (int(mtime), int(mtime)))
            self.meta.bump(fp)
            shutil.rmtree(folder, ignore_errors=True)
            headers = [("OC-ETag", f'"{self.meta.etag(fp)}"'), ("ETag", f'"{self.meta.etag(fp)}"'),
                       ("OC-FileId", f"{self.meta.fileid(fp):08d}{INSTANCE_ID}")]
            if mtime:
                headers.append(("X-OC-MTime", "accepted"))
            return _plain(start_response, "204 No Content" if existed else "201 Created", b"",
                          headers)
        _drain(environ)
        return _plain(start_response, "405 Method Not Allowed", b"")


class _Dropped(Exception):
    """Raised mid-body by the truncate fault; cheroot then closes the connection."""


def _drain(environ) -> None:
    # Read the request body so keep-alive connections stay usable after an early answer.
    stream = environ.get("wsgi.input")
    left = int(environ.get("CONTENT_LENGTH") or 0)
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)


def _plain(start_response, status: str, body: bytes, headers=()):
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *headers])
    return [body]


def _json(start_response, payload: dict):
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":  # manual runs: python tests/davserver.py /tmp/dav [nc|plain]
    import logging
    import sys

    logging.disable(logging.WARNING)  # wsgidav's start-up warnings about Basic auth over http

    server = DavServer().start()
    server.reset(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/davserver"),
                 sys.argv[2] if len(sys.argv) > 2 else "nc")
    print(f"serving {server.url}{server.files_prefix}/ as {server.login}:{server.password}",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
