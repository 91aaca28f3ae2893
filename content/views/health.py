"""``/health`` for load balancers and monitoring: reachable without logging in."""
from __future__ import annotations

import tomllib
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from loguru import logger

from content.storage import library_storage
from content.storage.webdav import nextcloud_status


@cache
def app_version() -> str:
    """The version in pyproject.toml, read once ("unknown" if it cannot be read)."""
    try:
        with (settings.BASE_DIR / "pyproject.toml").open("rb") as file:
            return tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


@login_not_required
@never_cache
@require_safe
def health(request):
    """``{"status": "ok"|"error", "database": bool, "library": bool, "version": str}``, plus
    ``"nextcloud": {"reachable": bool, "user_id": str | None}`` when the library is on
    Nextcloud (its status is cached for a few seconds, so polling costs the server little).
    HTTP 200 when everything is reachable, else 503. Details go to the log, not to anonymous
    callers."""
    nextcloud = nextcloud_status()
    if nextcloud["configured"]:
        checks = {"database": _database_ok(), "library": nextcloud["ok"]}
        extra = {"nextcloud": {"reachable": nextcloud["reachable"],
                               "user_id": nextcloud["user_id"]}}
    else:
        checks = {"database": _database_ok(), "library": _library_ok()}
        extra = {}
    ok = all(checks.values())
    return JsonResponse({"status": "ok" if ok else "error", **checks, **extra,
                         "version": app_version()}, status=200 if ok else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        logger.warning("health: database unreachable: {}", error)
        return False


def _library_ok() -> bool:
    try:
        library_storage().stat("")
        return True
    except Exception as error:  # noqa: BLE001
        logger.warning("health: library unreachable: {}", error)
        return False
