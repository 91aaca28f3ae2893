"""Streaming one file of a song (audio for the player, album art, the chart) from storage.

Library files are never served from a public path: every request passes login and this
view, which only serves names the database lists for that song.
"""
from __future__ import annotations

import io
import mimetypes
import re
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from django.http import Http404, HttpResponse, HttpResponseNotModified, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import http_date, quote_etag
from django.views.decorators.http import require_safe

from content.models import Song
from content.storage import library_storage
from content.storage.base import NotFound, Storage, StorageError, join

CHUNK = 256 * 1024
# Shown in the page (player, <img>, text); anything else downloads as an attachment, so a
# song folder's .html or .svg can never run as a page of this site.
INLINE_TYPES = {
    "ogg": "audio/ogg", "opus": "audio/ogg", "mp3": "audio/mpeg", "wav": "audio/wav",
    "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    "ini": "text/plain; charset=utf-8", "chart": "text/plain; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
# Downloads whose type the mimetypes table gets wrong or lacks.
DOWNLOAD_TYPES = {"mid": "audio/midi", "midi": "audio/midi", "sng": "application/octet-stream"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@require_safe
def song_file(request, pk: int, name: str):
    song = get_object_or_404(Song.objects.only("id", "path", "is_sng"), pk=pk)
    if song.is_sng or not _valid_name(name) or not song.files.filter(name=name).exists():
        raise Http404("No such file in this song")
    storage = library_storage()
    path = join(song.path, name)
    try:
        entry = storage.stat(path)
    except NotFound:
        raise Http404("The file is no longer in the library; sync to update the song") from None
    etag = quote_etag(entry.etag) if entry.etag else None
    if etag and etag in request.headers.get("If-None-Match", ""):
        return HttpResponseNotModified(headers={"ETag": etag})

    size = entry.size
    start, end, status = 0, size - 1, 200
    wanted = request.headers.get("Range")
    # If-Range names the version the client has; for any other version send the whole file.
    if wanted and "," not in wanted and request.headers.get("If-Range", etag) == etag:
        parsed = _parse_range(wanted, size)
        if parsed is None:
            return HttpResponse(status=416, headers={"Content-Range": f"bytes */{size}"})
        (start, end), status = parsed, 206

    try:
        stream = storage.open(path)
    except NotFound:
        raise Http404("The file is no longer in the library; sync to update the song") from None
    except StorageError as error:
        return HttpResponse(f"The library cannot be read: {error}", status=502,
                            content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(_body(storage, path, stream, start, end), status=status)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    inline = INLINE_TYPES.get(extension)
    response["Content-Type"] = inline or DOWNLOAD_TYPES.get(extension) or (
        mimetypes.guess_type(name)[0] or "application/octet-stream")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{_quote(name)}"
    response["Content-Length"] = str(end - start + 1 if size else 0)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-cache"
    response["Last-Modified"] = http_date(entry.mtime)
    if etag:
        response["ETag"] = etag
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _valid_name(name: str) -> bool:
    parts = name.split("/")
    return "\\" not in name and "\0" not in name and all(p not in ("", ".", "..") for p in parts)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(first, last)`` byte of a single ``bytes=`` range, clamped to the file; None if it
    cannot be satisfied. (Several ranges at once are answered with the whole file.)"""
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            return None
        return max(0, size - length), size - 1
    start = int(first)
    if start >= size:
        return None
    return start, min(int(last), size - 1) if last else size - 1


def _body(storage: Storage, path: str, stream: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    try:
        if start:
            try:
                stream.seek(start)
            except (OSError, io.UnsupportedOperation):
                # A network stream that cannot seek: read the range piece by piece instead.
                stream.close()
                yield from _ranged_reads(storage, path, start, end)
                return
        remaining = end - start + 1
        while remaining > 0:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        stream.close()


def _ranged_reads(storage: Storage, path: str, start: int, end: int) -> Iterator[bytes]:
    position = start
    while position <= end:
        chunk = storage.read_range(path, position, min(CHUNK, end - position + 1))
        if not chunk:
            break
        position += len(chunk)
        yield chunk


def _quote(name: str) -> str:
    return quote(name.rsplit("/", 1)[-1], safe="")
