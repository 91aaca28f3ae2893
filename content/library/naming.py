"""Folder and file names that are valid on Windows, macOS, Linux and Nextcloud.

Rules: Windows' reserved characters ``<>:"/\\|?*`` and control characters are replaced, trailing
dots and spaces are removed (Windows drops them silently), reserved device names (CON, NUL,
COM1...) get a suffix, and a name is at most 120 characters so that
``Songs/<artist>/<name>/<file>`` stays far below Windows' 260-character path limit. Nextcloud
additionally refuses ``.htaccess`` and names that start or end with a space.
"""
from __future__ import annotations

import re
import unicodedata

from content.models import strip_tags

FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
            *(f"lpt{i}" for i in range(10))}
MAX_LENGTH = 120


def safe_component(text: str, fallback: str) -> str:
    """One path component made from song metadata (rich-text tags removed), or ``fallback``."""
    name = unicodedata.normalize("NFC", strip_tags(text or ""))
    name = FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip().rstrip(". ")[:MAX_LENGTH].rstrip(". ")
    if not name or name.startswith(".") or set(name) <= {"_"}:
        name = fallback
    if name.split(".", 1)[0].lower() in RESERVED:
        name = f"{name}_"
    return name


def with_suffix(name: str, number: int) -> str:
    """``name (2)``, ``name (3)``... for the n-th song that wants the same place."""
    return f"{name} ({number})"
