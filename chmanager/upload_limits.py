"""Upload size limits, enforced as early as Django allows.

- ``UploadLimitMiddleware`` refuses a request whose Content-Length is over the limit with a 413
  before a byte of the body is read;
- ``FileSizeLimitHandler``, first in FILE_UPLOAD_HANDLERS, counts each file's bytes as they
  stream in and stops the upload at the first byte over a limit (the body's length can only
  tell the total, and a single file may be over its own limit).
The files themselves go to disk past FILE_UPLOAD_MAX_MEMORY_SIZE (TemporaryFileUploadHandler),
never whole into memory.

Limits (bytes): ``UPLOAD_MAX_FILE_BYTES`` for one file, ``IMPORT_MAX_UPLOAD_BYTES`` for all the
files of one request.
"""
from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse
from django.template.defaultfilters import filesizeformat


class UploadTooLarge(Exception):
    """An upload went over a limit; the message says which file and which limit."""


class FileSizeLimitHandler(FileUploadHandler):
    """Counts the bytes of each file and of all files, passing the data on to the next handler
    unchanged; raises UploadTooLarge past ``UPLOAD_MAX_FILE_BYTES`` (one file) or
    ``IMPORT_MAX_UPLOAD_BYTES`` (all files)."""

    def __init__(self, request=None):
        super().__init__(request)
        self.max_file = settings.UPLOAD_MAX_FILE_BYTES
        self.max_total = settings.IMPORT_MAX_UPLOAD_BYTES
        self.total = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.total += len(raw_data)
        if start + len(raw_data) > self.max_file:
            raise UploadTooLarge(f"{self.file_name} is larger than the limit of "
                                 f"{_size(self.max_file)} for one file.")
        if self.total > self.max_total:
            raise UploadTooLarge(f"The files of this upload add up to more than the limit of "
                                 f"{_size(self.max_total)}.")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) makes the file


class UploadLimitMiddleware:
    """Answers 413 (plain text naming the limit) to a request whose body is over the limits.

    Content-Length above ``IMPORT_MAX_UPLOAD_BYTES`` plus DATA_UPLOAD_MAX_MEMORY_SIZE (room for
    the form's other fields) is refused unread. A multipart POST within it is parsed here,
    before CSRF and the views would, so that FileSizeLimitHandler's stop becomes a 413 instead
    of an error; the partly written temporary file is removed.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.IMPORT_MAX_UPLOAD_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body without a valid length
        if length > limit:
            return too_large(f"The upload is {_size(length)}; the limit is "
                             f"{_size(settings.IMPORT_MAX_UPLOAD_BYTES)}.")
        if request.method == "POST" and request.content_type == "multipart/form-data":
            try:
                request.FILES  # noqa: B018 - parses the body through the upload handlers
            except UploadTooLarge as error:
                for handler in request.upload_handlers:
                    if getattr(handler, "file", None) is not None:
                        handler.file.close()  # a closed temporary upload deletes itself
                return too_large(str(error))
        return self.get_response(request)


def _size(count: int) -> str:
    """``count`` bytes as "2.0 GB", with a plain space (the answer is plain text)."""
    return filesizeformat(count).replace("\xa0", " ")


def too_large(message: str) -> HttpResponse:
    """A 413 response carrying ``message`` as plain text."""
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
