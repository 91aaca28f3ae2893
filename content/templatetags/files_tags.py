"""Display helpers for the file browser (templates/files/)."""
from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def stamp(seconds) -> str:
    """Seconds since the epoch as a local ``YYYY-MM-DD HH:MM``; empty for 0 or None."""
    if not seconds:
        return ""
    moment = datetime.fromtimestamp(float(seconds), tz=UTC)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")
