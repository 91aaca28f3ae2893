"""Upload size limits (chmanager.upload_limits): refused by Content-Length before the body is
read, or as the files stream in; files past FILE_UPLOAD_MAX_MEMORY_SIZE go to disk."""
from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, RequestFactory, encode_multipart
from django.urls import reverse

from chmanager.upload_limits import UploadLimitMiddleware
from content.models import Job

pytestmark = pytest.mark.django_db


class UnreadableBody:
    """A request body whose reading fails the test."""

    def read(self, *args):
        raise AssertionError("the request body was read")

    readline = read


class CountingBody(io.BytesIO):
    """A request body that remembers how many bytes were read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def multipart_post(client, url: str, files: dict[str, bytes]):
    """POST ``files`` (name -> bytes) as the field "archives"; returns (response, body)."""
    data = encode_multipart(BOUNDARY, {"archives": [
        SimpleUploadedFile(name, content) for name, content in files.items()]})
    body = CountingBody(data)
    response = client.generic("POST", url, data, content_type=MULTIPART_CONTENT,
                              **{"wsgi.input": body})
    return response, body


def test_a_body_over_the_limit_is_refused_unread(editor_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 10 * 1024**2
    declared = 10 * 1024**2 + settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = editor_client.generic(
        "POST", reverse("upload"), content_type=MULTIPART_CONTENT,
        **{"wsgi.input": UnreadableBody(), "CONTENT_LENGTH": str(declared)})
    assert response.status_code == 413
    assert response.content.decode() == "The upload is 12.5 MB; the limit is 10.0 MB."


def test_anonymous_oversized_posts_are_refused_before_login(client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 1000
    response = client.generic("POST", reverse("generator"), content_type=MULTIPART_CONTENT,
                              **{"wsgi.input": UnreadableBody(), "CONTENT_LENGTH": "10000000"})
    assert response.status_code == 413


def test_one_file_over_its_limit_stops_the_upload_early(editor_client, settings, tmp_path):
    settings.UPLOAD_MAX_FILE_BYTES = 100_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000  # so the file is being spooled to disk
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    response, body = multipart_post(editor_client, reverse("upload"),
                                    {"small.zip": b"x" * 1000, "big.zip": b"y" * 2_000_000})
    assert response.status_code == 413
    assert response.content.decode() == "big.zip is larger than the limit of 97.7 KB for one file."
    # Django reads the body in 64 KiB chunks: it stopped soon after the limit, far from the end.
    assert body.bytes_read < 300_000
    assert list(tmp_path.iterdir()) == [], "the partly written temporary file was left behind"


def test_files_over_the_total_limit_are_refused(editor_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 150_000
    response, _ = multipart_post(editor_client, reverse("generator"),
                                 {"guitar.ogg": b"g" * 100_000, "song.ogg": b"s" * 100_000})
    assert response.status_code == 413
    assert "add up to more than the limit of 146.5 KB" in response.content.decode()
    assert not Job.objects.exists()


def test_an_upload_within_the_limits_reaches_the_view(editor_client, settings):
    settings.UPLOAD_MAX_FILE_BYTES = 100_000
    settings.IMPORT_MAX_UPLOAD_BYTES = 200_000
    response, _ = multipart_post(editor_client, reverse("upload"), {"notes.txt": b"n" * 99_000})
    assert response.status_code == 200
    assert "notes.txt: not an archive or .sng file" in response.content.decode()


def test_big_files_are_spooled_to_disk_not_memory(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    payload = b"z" * (settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1)
    request = RequestFactory().post("/upload/", {"archives": SimpleUploadedFile("a.zip", payload)})
    seen = {}

    def view(request):
        upload = request.FILES["archives"]
        seen["type"], seen["path"] = type(upload), upload.temporary_file_path()
        seen["size"] = upload.size
        return None

    UploadLimitMiddleware(view)(request)
    assert seen["type"] is TemporaryUploadedFile
    assert seen["path"].startswith(str(tmp_path)) and seen["size"] == len(payload)
