"""Display helpers for song data: durations in m:ss, rich-text tags removed."""
from __future__ import annotations

from django import template

from content.models import strip_tags

register = template.Library()


@register.filter
def duration(ms) -> str:
    """Milliseconds as ``m:ss`` (``h:mm:ss`` past an hour); empty for None."""
    if ms in (None, ""):
        return ""
    seconds = int(ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


@register.filter
def timestamp(ms) -> str:
    """Milliseconds as ``m:ss.cc`` (a moment in the chart); empty for None."""
    if ms in (None, ""):
        return ""
    centiseconds = int(round(float(ms) / 10))
    minutes, rest = divmod(centiseconds, 6000)
    return f"{minutes}:{rest // 100:02}.{rest % 100:02}"


@register.filter
def plain(text) -> str:
    """Text without Unity rich-text tags (``<color=#F00>``), which the page would show raw."""
    return strip_tags(text or "")


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template, None when absent."""
    return mapping.get(key) if hasattr(mapping, "get") else None
