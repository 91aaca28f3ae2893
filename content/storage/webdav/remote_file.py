"""Reading one remote file as a seekable stream that resumes after a dropped connection."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING

import requests
from loguru import logger

from .errors import StorageUnavailable
from .multistatus import clean_etag
from .transport import TRANSIENT, MiB

if TYPE_CHECKING:
    from .storage import WebDavStorage


class RemoteFile(io.RawIOBase):
    """A seekable, resuming reader of one remote file (see WebDavStorage.open): a connection
    cut mid-read resumes with a Range request (``If-Match`` the ETag first seen, so a file
    changed meanwhile raises instead of mixing versions), up to the storage's ``retries``."""

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
        resp = self._storage.http.request("GET", self._storage.url(self._rel), what=self._rel,
                                          dav3="download", headers=headers, accept=(416,))
        if resp.status_code == 416:
            self._storage.http.finish(resp)
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
            except TRANSIENT as exc:
                self._resume(exc)
                continue
            if not chunk and self._size is not None and self._pos < self._size:
                self._resume(EOFError("connection closed early"))
                continue
            n = len(chunk)
            buffer[:n] = chunk
            self._pos += n
            self._storage.http.count_bytes(n)
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
                self._storage.http.finish(self._resp)  # read to the end: keep the connection
            else:
                self._resp.close()
            self._resp = None

    def close(self) -> None:
        self._drop()
        super().close()
