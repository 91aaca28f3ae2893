"""Who may change the library: staff, or users holding ``content.change_song``."""
from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

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


def body_too_large(request) -> HttpResponse | None:
    """A 413 response when the request body is over ``IMPORT_MAX_UPLOAD_BYTES`` (plus 1 MiB for
    the form's other fields), read from Content-Length before Django spools the body to disk;
    None when it fits."""
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 1024 * 1024:
        return HttpResponse(f"The upload is larger than the limit of {limit} bytes.",
                            status=413, content_type="text/plain; charset=utf-8")
    return None
