"""The WebDAV storage's errors, beyond the shared ones in ``content/storage/base.py``."""
from __future__ import annotations

from ..base import AuthenticationFailed as BaseAuthenticationFailed
from ..base import NotFound, StorageError


class AuthenticationFailed(BaseAuthenticationFailed):
    """The server answered 401: wrong or revoked NEXTCLOUD_USER / NEXTCLOUD_APP_PASSWORD.

    Never retried; after one, the storage refuses every further request in this process."""


class PermissionDenied(StorageError):
    """HTTP 403: the server refused the operation (permissions, a forbidden file name)."""


class StorageUnavailable(StorageError):
    """The server could not be reached or kept failing (5xx, 429, 423, timeouts) after the
    configured retries."""


class BadResponse(StorageError):
    """The server's answer could not be understood (malformed XML, unexpected status)."""


class UploadExpired(StorageError):
    """The server removed a chunked upload's folder while we were uploading (Nextcloud
    expires them): the chunks are lost, the upload must start over."""


class ParentMissing(NotFound):
    """PUT/MKCOL/MOVE answered 409 (or 404 on PUT): the parent collection does not exist."""
