"""Who may change the library: staff, or users holding ``content.change_song``."""
from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

EDIT_PERMISSION = "content.change_song"


def can_edit(user) -> bool:
    """True if ``user`` may edit songs and upload (staff or ``content.change_song``)."""
    return user.is_authenticated and user.is_active and (
        user.is_staff or user.has_perm(EDIT_PERMISSION))


def editor_required(view):
    """Refuse the view with 403 unless ``can_edit(request.user)``. Login itself is enforced
    by LoginRequiredMiddleware, so anonymous users never get here."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_edit(request.user):
            raise PermissionDenied("Editing needs staff status or the “change song” permission.")
        return view(request, *args, **kwargs)

    return wrapper
