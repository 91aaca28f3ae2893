"""Where song folders live, behind one small interface (see base.py).

``library_storage()`` returns the configured backend: the local folder ``LIBRARY_ROOT`` by
default, Nextcloud over WebDAV when NEXTCLOUD_URL is set (the webdav package).
"""
from __future__ import annotations

from functools import cache

from django.conf import settings

from .base import Storage


@cache
def library_storage() -> Storage:
    """The library's storage backend, built once per process from settings: Nextcloud over
    WebDAV when NEXTCLOUD_URL is set (no request is made until first use), else LIBRARY_ROOT."""
    if getattr(settings, "NEXTCLOUD_URL", ""):
        from .webdav import WebDavStorage

        return WebDavStorage.from_settings()
    from .local import LocalStorage

    return LocalStorage(settings.LIBRARY_ROOT)


def _reset_on_setting_change(*, setting: str, **kwargs) -> None:
    # Tests point LIBRARY_ROOT (or the Nextcloud settings) elsewhere with override_settings.
    if setting == "LIBRARY_ROOT" or setting.startswith("NEXTCLOUD_"):
        library_storage.cache_clear()


def _connect() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_reset_on_setting_change, dispatch_uid="content.storage.reset")


_connect()
