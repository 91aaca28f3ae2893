"""Where song folders live, behind one small interface (see base.py).

``library_storage()`` returns the configured backend: the local folder ``LIBRARY_ROOT`` by
default (Nextcloud over WebDAV when configured).
"""
from __future__ import annotations

from functools import cache

from django.conf import settings

from .base import Storage


@cache
def library_storage() -> Storage:
    """The library's storage backend, built once per process from settings."""
    from .local import LocalStorage

    return LocalStorage(settings.LIBRARY_ROOT)
