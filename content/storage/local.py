"""The library in a local folder: the embedded default (``LIBRARY_ROOT``)."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

from .base import AlreadyExists, Entry, NotFound, PreconditionFailed, Storage, StorageError

CHUNK = 1024 * 1024


class LocalStorage(Storage):
    """A folder on this machine. ETags are derived from size and mtime (nanoseconds)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self._write_lock = threading.Lock()

    def describe(self) -> str:
        return f"local folder {self.root}"

    def _abs(self, path: str) -> Path:
        parts = [p for p in path.replace("\\", "/").split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise StorageError(f"{path!r}: '.' and '..' are not allowed in library paths")
        return self.root.joinpath(*parts)

    def _entry(self, path: str, st: os.stat_result, is_dir: bool) -> Entry:
        rel = path.strip("/")
        return Entry(
            path=rel,
            name=rel.rsplit("/", 1)[-1],
            is_dir=is_dir,
            size=0 if is_dir else st.st_size,
            mtime=st.st_mtime,
            etag=f"{st.st_size:x}-{st.st_mtime_ns:x}",
        )

    def stat(self, path: str) -> Entry:
        target = self._abs(path)
        try:
            st = target.stat()
        except FileNotFoundError:
            raise NotFound(f"{path}: not found in {self.describe()}") from None
        return self._entry(path, st, target.is_dir())

    def list(self, path: str) -> list[Entry]:
        target = self._abs(path)
        prefix = path.strip("/")
        try:
            with os.scandir(target) as it:
                entries = []
                for item in it:
                    if item.is_symlink():
                        continue  # links never belong to a song folder and could escape the root
                    rel = f"{prefix}/{item.name}" if prefix else item.name
                    entries.append(self._entry(rel, item.stat(), item.is_dir()))
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"{path or '/'}: no such folder in {self.describe()}") from None
        return sorted(entries, key=lambda e: e.name)

    def read(self, path: str) -> bytes:
        try:
            return self._abs(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"{path}: no such file in {self.describe()}") from None

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        with self.open(path) as stream:
            stream.seek(offset)
            return stream.read(length)

    def open(self, path: str) -> BinaryIO:
        try:
            return self._abs(path).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"{path}: no such file in {self.describe()}") from None

    def write(self, path: str, data: bytes | BinaryIO, *, if_match: str | None = None,
              mtime: float | None = None) -> Entry:
        target = self._abs(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target, then rename: readers never see a half-written file.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".chm-", suffix=".part")
        except OSError as error:
            raise self._error(path, "write", error) from error
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            if mtime is not None:
                os.utime(tmp, (mtime, mtime))
            with self._write_lock:
                if if_match is not None:
                    try:
                        current = self.stat(path).etag
                    except NotFound:
                        current = None
                    if current != if_match:
                        raise PreconditionFailed(
                            f"{path}: changed in the library since it was read "
                            f"(ETag {current}, expected {if_match})")
                os.replace(tmp, target)
        except OSError as error:
            Path(tmp).unlink(missing_ok=True)
            raise self._error(path, "write", error) from error
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.stat(path)

    def mkdir(self, path: str) -> None:
        try:
            self._abs(path).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._error(path, "create", error) from error

    def move(self, src: str, dst: str) -> None:
        source, target = self._abs(src), self._abs(dst)
        if not source.exists():
            raise NotFound(f"{src}: not found in {self.describe()}")
        if target.exists():
            raise AlreadyExists(f"{dst}: already exists in {self.describe()}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)
        except OSError as error:
            raise self._error(dst, f"move {src} to", error) from error

    def _error(self, path: str, doing: str, error: OSError) -> StorageError:
        """A StorageError naming ``path`` for an OSError (chained by the caller, so importers
        can tell a full disk, ``errno.ENOSPC``, from other failures)."""
        return StorageError(f"{path}: cannot {doing} it in {self.describe()}: "
                            f"{error.strerror or error}")

    def delete(self, path: str) -> None:
        target = self._abs(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=False)
        else:
            target.unlink(missing_ok=True)
