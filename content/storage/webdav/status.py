"""Whether Nextcloud is reachable, for the dashboard and ``/health``."""
from __future__ import annotations

import threading
import time

from ..base import NotFound, StorageError
from .errors import AuthenticationFailed, PermissionDenied
from .multistatus import PROPFIND_BODY
from .storage import WebDavStorage
from .transport import Body, json_or_none

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
            from .. import library_storage

            current = library_storage()
            storage = current if isinstance(current, WebDavStorage) else \
                WebDavStorage.from_settings()
        quick = (min(3.0, storage.timeout[0]), min(5.0, storage.timeout[1]))
        try:
            info = storage.http.request("GET", f"{storage.base_url}/status.php",
                                        what="status.php", retries=0, timeout=quick,
                                        consume=json_or_none)
        except NotFound:
            info = None  # a plain WebDAV server: reachability is told by the PROPFIND below
        result["reachable"] = True
        if isinstance(info, dict):
            result["version"] = info.get("versionstring") or info.get("version")
            result["maintenance"] = bool(info.get("maintenance"))
        result["user_id"] = storage.user_id()
        try:
            storage.http.request("PROPFIND", storage.url(""), what="/", retries=0,
                                 timeout=quick,
                                 headers={"Depth": "0", "Content-Type": "application/xml"},
                                 body=Body.of(PROPFIND_BODY), consume=lambda r: None)
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
