"""Streaming a song's files: only listed names, correct types, byte ranges for the player."""
from __future__ import annotations

import pytest
from django.urls import reverse

from content.models import Song

pytestmark = pytest.mark.django_db

MAJESTIC = "Songs/Return to Forever/Majestic Dance"


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def song(synced) -> Song:
    return Song.objects.get(path=MAJESTIC)


def test_it_streams_a_whole_file_with_its_type(viewer_client, song, web_library):
    response = viewer_client.get(reverse("song_file", args=[song.pk, "song.wav"]))
    data = (web_library / MAJESTIC / "song.wav").read_bytes()
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(data))
    assert body(response) == data


def test_it_answers_a_range_request_with_206(viewer_client, song, web_library):
    data = (web_library / MAJESTIC / "song.wav").read_bytes()
    url = reverse("song_file", args=[song.pk, "song.wav"])
    response = viewer_client.get(url, headers={"Range": "bytes=100-299"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-299/{len(data)}"
    assert response["Content-Length"] == "200"
    assert body(response) == data[100:300]
    tail = viewer_client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and body(tail) == data[-10:]
    open_end = viewer_client.get(url, headers={"Range": f"bytes={len(data) - 5}-"})
    assert body(open_end) == data[-5:]


def test_an_unsatisfiable_range_is_416(viewer_client, song, web_library):
    size = (web_library / MAJESTIC / "song.wav").stat().st_size
    response = viewer_client.get(reverse("song_file", args=[song.pk, "song.wav"]),
                                 headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


def test_a_stale_if_range_gets_the_whole_file(viewer_client, song):
    response = viewer_client.get(reverse("song_file", args=[song.pk, "song.wav"]),
                                 headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert response.status_code == 200


def test_album_art_is_an_image_and_a_matching_etag_is_304(viewer_client, song):
    url = reverse("song_file", args=[song.pk, "album.png"])
    response = viewer_client.get(url)
    assert response["Content-Type"] == "image/png"
    assert body(response).startswith(b"\x89PNG")
    again = viewer_client.get(url, headers={"If-None-Match": response["ETag"]})
    assert again.status_code == 304


def test_a_chart_downloads_as_an_attachment(viewer_client, song):
    response = viewer_client.get(reverse("song_file", args=[song.pk, "notes.mid"]))
    assert response["Content-Type"] == "audio/midi"
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("name", ["../Kong/song.ini", "..", "./song.wav", "nope.ogg",
                                  "song.wav/../../x", "sub\\song.wav"])
def test_names_the_song_does_not_list_are_404(viewer_client, song, name):
    response = viewer_client.get(f"/songs/{song.pk}/files/{name}")
    assert response.status_code == 404


def test_a_file_gone_from_the_library_is_404(viewer_client, song, web_library):
    (web_library / MAJESTIC / "song.wav").unlink()
    response = viewer_client.get(reverse("song_file", args=[song.pk, "song.wav"]))
    assert response.status_code == 404
