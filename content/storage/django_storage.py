"""Django's storage API on the Nextcloud server, for the file fields that need it.

Registered as ``STORAGES["nextcloud"]`` when NEXTCLOUD_URL is set (chmanager/settings.py); use
``django.core.files.storage.storages["nextcloud"]`` or, on a field,
``FileField(storage=nextcloud_storage)`` (a module-level callable keeps the backend and its
credentials out of migrations). All requests go through ``WebDavStorage`` (webdav/): the same
pool, retries and error rules. Pattern: django-storages' ``sftpstorage.py`` (deconstructible,
lazy connection, settings defaults) [``../shared/reference/django-style.md`` §6].
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage as DjangoStorage
from django.urls import reverse
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from .base import NotFound, join
from .webdav import WebDavStorage


@deconstructible(path="content.storage.django_storage.NextcloudStorage")
class NextcloudStorage(DjangoStorage):
    """Files under ``<NEXTCLOUD_ROOT>/<location>/`` on the Nextcloud server.

    location: a folder below the library root (``""``: the root itself). options: keyword
    arguments for ``WebDavStorage.from_settings`` (url, user, …); without them the library's own
    storage (and its connection pool) is shared. Nothing connects until the first file
    operation. Missing files raise FileNotFoundError, as Django expects.
    """

    def __init__(self, location: str = "", **options):
        self.location = (location or "").strip("/")
        self.options = options
        self._client: WebDavStorage | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> WebDavStorage:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from . import library_storage

                    current = library_storage() if not self.options else None
                    self._client = current if isinstance(current, WebDavStorage) else \
                        WebDavStorage.from_settings(**self.options)
        return self._client

    def _path(self, name: str) -> str:
        return join(self.location, (name or "").replace("\\", "/"))

    def _open(self, name: str, mode: str = "rb") -> File:
        if any(flag in mode for flag in "wa+"):
            raise ValueError(f"{name}: Nextcloud files open read-only here; save() to write")
        try:
            return File(self.client.open(self._path(name)), name=name)
        except NotFound as exc:
            raise FileNotFoundError(str(exc)) from exc

    def _save(self, name: str, content) -> str:
        if hasattr(content, "seek"):
            try:
                content.seek(0)
            except (OSError, ValueError):
                pass
        self.client.write(self._path(name), content)
        return name

    def delete(self, name: str) -> None:
        self.client.delete(self._path(name))

    def exists(self, name: str) -> bool:
        return self.client.exists(self._path(name))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        try:
            entries = self.client.list(self._path(path))
        except NotFound as exc:
            raise FileNotFoundError(str(exc)) from exc
        return ([e.name for e in entries if e.is_dir], [e.name for e in entries if not e.is_dir])

    def size(self, name: str) -> int:
        try:
            return self.client.stat(self._path(name)).size
        except NotFound as exc:
            raise FileNotFoundError(str(exc)) from exc

    def url(self, name: str) -> str:
        # Nextcloud URLs need credentials: files are served by our own authorised view.
        return f"{reverse('files_raw')}?{urlencode({'path': self._path(name)})}"

    def get_modified_time(self, name: str) -> datetime:
        try:
            mtime = self.client.stat(self._path(name)).mtime
        except NotFound as exc:
            raise FileNotFoundError(str(exc)) from exc
        moment = datetime.fromtimestamp(mtime, tz=UTC)
        return moment if settings.USE_TZ else timezone.make_naive(moment)


def nextcloud_storage() -> DjangoStorage:
    """``storages["nextcloud"]``, for ``FileField(storage=nextcloud_storage)``."""
    from django.core.files.storage import storages

    return storages["nextcloud"]
