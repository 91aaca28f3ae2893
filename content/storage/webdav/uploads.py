"""Writing files to the WebDAV server: a simple PUT (``X-OC-Mtime``, ``If-Match``) and
Nextcloud's chunked upload v2 for large files [doc ``chunking.rst``]. Both stream from disk.

webdavclient3's ``upload_*`` have no ``If-Match``, no ``X-OC-Mtime`` and no chunked upload,
so these requests are ours (see the package docstring).
"""
from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import uuid
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

from loguru import logger

from ..base import AlreadyExists, Entry, NotFound, PreconditionFailed, StorageError, parent
from .errors import ParentMissing, UploadExpired
from .multistatus import clean_etag
from .transport import MiB, Body

if TYPE_CHECKING:
    from .storage import WebDavStorage

def fileid_from_header(raw: str | None) -> str | None:
    # Nextcloud's OC-FileId header is the oc:id form ("%08d" % fileid + instance id, e.g.
    # "00000042oc1a2b3c4d"); listings give the bare oc:fileid, which is what Entry.fileid holds.
    if not raw:
        return None
    match = re.match(r"\s*(\d+)", raw)
    return str(int(match.group(1))) if match else None


class Source:
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

    def body(self, offset: int = 0, length: int | None = None) -> Body:
        length = self.size - offset if length is None else length
        return Body(self.stream, self.start + offset, length)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def put(storage: WebDavStorage, rel: str, source: Source, if_match: str | None,
        stamp: int) -> Entry:
    """PUT ``source`` at ``rel`` with ``X-OC-Mtime: stamp`` (and ``If-Match`` when given),
    creating missing parents; the written file's entry. Raises PreconditionFailed when
    ``if_match`` no longer matches or the file is gone, StorageError."""
    headers = {"X-OC-Mtime": str(stamp), "Content-Type": "application/octet-stream"}
    if if_match is not None:
        headers["If-Match"] = f'"{clean_etag(if_match)}"'

    def send():
        return storage.http.request("PUT", storage.url(rel), what=rel, headers=headers,
                                    body=source.body(), consume=lambda r: r.headers)
    try:
        answer = send()
    except ParentMissing:
        if if_match is not None:
            raise PreconditionFailed(
                f"{rel}: no longer exists on the server; sync the library first") from None
        storage.mkdir(parent(rel))
        answer = send()
    except NotFound:
        if if_match is not None:
            raise PreconditionFailed(
                f"{rel}: no longer exists on the server; sync the library first") from None
        raise
    return written(storage, rel, answer, source.size, stamp)


def written(storage: WebDavStorage, rel: str, headers, size: int, stamp: int) -> Entry:
    """The entry of a file just written, from the answer's headers where the server told
    enough (Nextcloud: ``OC-ETag``, ``OC-FileId``, ``X-OC-MTime: accepted``), else a stat."""
    etag = clean_etag(headers.get("OC-ETag") or headers.get("ETag"))
    if etag and headers.get("X-OC-MTime", "").lower() == "accepted":
        return Entry(path=rel, name=rel.rsplit("/", 1)[-1], is_dir=False, size=size,
                     mtime=float(stamp), etag=etag,
                     fileid=fileid_from_header(headers.get("OC-FileId")))
    return storage.stat(rel)  # a server that did not tell: ask


def chunked_upload(storage: WebDavStorage, rel: str, source: Source, stamp: int) -> Entry:
    """Nextcloud chunked upload v2 [doc ``chunking.rst``]: MKCOL an upload folder, PUT the
    chunks (``Destination`` and ``OC-Total-Length`` on each), MOVE ``.file`` onto the
    destination; on any failure DELETE the upload folder. A chunk whose PUT is retried
    (reply lost, connection dropped) goes to the same upload folder; if the server drops
    the folder itself (uploads expire), the upload starts once more in a new one."""
    try:
        return _chunked_upload_attempt(storage, rel, source, stamp)
    except UploadExpired as expired:
        logger.warning("{}; starting the upload again with a new upload folder", expired)
        return _chunked_upload_attempt(storage, rel, source, stamp)


def _chunked_upload_attempt(storage: WebDavStorage, rel: str, source: Source,
                            stamp: int) -> Entry:
    uid = storage.user_id()
    upload = f"{storage.base_path}/remote.php/dav/uploads/{uid}/chmanager-{uuid.uuid4().hex}"
    up_url = storage.origin + quote(upload, safe="/")
    dest = storage.url(rel)
    total = str(source.size)
    try:
        try:
            storage.http.request("MKCOL", up_url, what=f"{rel} (chunked upload)",
                                 headers={"Destination": dest})
        except AlreadyExists:
            pass  # our own retry after a lost reply
        number = 0
        for offset in range(0, source.size, storage.chunk_size):
            number += 1
            try:
                storage.http.request(
                    "PUT", f"{up_url}/{number:05d}", what=f"{rel} chunk {number}",
                    headers={"Destination": dest, "OC-Total-Length": total},
                    body=source.body(offset, min(storage.chunk_size, source.size - offset)),
                    consume=lambda r: None)
            except NotFound as error:  # 404/409: our upload folder is gone
                raise UploadExpired(f"{rel}: the server dropped the chunked upload folder "
                                    f"before chunk {number} ({error})") from error
        final = {"Destination": dest, "OC-Total-Length": total, "X-OC-Mtime": str(stamp),
                 "Overwrite": "T"}

        def assemble():
            return storage.http.request("MOVE", f"{up_url}/.file", what=rel, headers=final,
                                        idempotent=False, consume=lambda r: r.headers)
        try:
            answer = assemble()
        except ParentMissing:
            storage.mkdir(parent(rel))
            answer = assemble()
        except NotFound as error:  # 404 on .file: the upload folder is gone
            raise UploadExpired(f"{rel}: the server dropped the chunked upload folder "
                                f"before it was assembled ({error})") from error
    except BaseException:
        try:
            storage.http.request("DELETE", up_url, what=f"{rel} (abort chunked upload)",
                                 consume=lambda r: None, retries=1)
        except StorageError as cleanup:
            logger.warning("could not remove upload folder {}: {}", upload, cleanup)
        raise
    return written(storage, rel, answer, source.size, stamp)
