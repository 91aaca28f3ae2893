"""Uploading archives: the upload starts an import job, whose page lists each song imported,
duplicate or rejected, with the reason. Jobs run as soon as they are queued (ImmediateBackend),
so the page the upload redirects to shows the finished import."""
from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from content.models import Job, Song

from .conftest import CHARTS, FIXTURES

# Transactional: a job is enqueued when its row is committed.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("immediate_tasks")]

SONG_INI = ("[song]\r\nname = Keys Song\r\nartist = Keys Band\r\ngenre = test\r\n"
            "charter = Chorus\r\n")


def song_zip() -> bytes:
    """A zip of one song folder, built now from a fixture chart; the same bytes every call
    (a fixed entry date), so tests can upload one archive twice."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(CHARTS / "chorus/charts/keys-9-notes-mixed-star-power.chart",
                      "Keys Band - Keys Song/notes.chart")
        archive.writestr(zipfile.ZipInfo("Keys Band - Keys Song/song.ini", (2024, 1, 1, 0, 0, 0)),
                         SONG_INI)
    return buffer.getvalue()


def upload(client, *files):
    return client.post(reverse("upload"), {"archives": list(files)}, follow=True)


def test_the_upload_page_offers_drag_and_drop(editor_client, web_library):
    page = editor_client.get(reverse("upload")).content.decode()
    assert 'id="dropzone"' in page and 'multiple' in page and "<progress" in page


def test_an_uploaded_zip_is_imported_and_listed(editor_client, synced, web_library):
    response = upload(editor_client, SimpleUploadedFile("pack.zip", song_zip()))
    assert response.status_code == 200
    job = Job.objects.get()
    assert response.redirect_chain[-1][0] == job.get_absolute_url()
    assert job.kind == "import" and job.state == "done" and job.user.username == "editor"
    page = response.content.decode()
    song = Song.objects.get(name="Keys Song")
    assert "1 imported" in page and "pack.zip" in page
    assert reverse("song_detail", args=[song.pk]) in page
    assert job.result_song == song  # one song imported: the job links it
    assert (web_library / song.path / "notes.chart").is_file()
    assert not any((web_library.parent / "scratch").glob("job-*"))  # staging cleaned up


def test_the_same_song_twice_is_a_duplicate(editor_client, synced):
    upload(editor_client, SimpleUploadedFile("pack.zip", song_zip()))
    page = upload(editor_client, SimpleUploadedFile("again.zip", song_zip())).content.decode()
    assert "1 duplicate" in page and "0 imported" in page
    assert Song.objects.filter(name="Keys Song").count() == 1


def test_a_bad_archive_is_rejected_with_the_reason(editor_client, synced):
    page = upload(editor_client,
                  SimpleUploadedFile("broken.zip", b"this is not a zip file"),
                  SimpleUploadedFile("good.zip", song_zip())).content.decode()
    assert "1 imported" in page and "1 rejected" in page
    row = page[page.index("<td>broken.zip"):]  # its row in the result table
    assert 'class="badge bad">rejected' in row[:300]
    assert "broken.zip" in page and 'class="error"' in page


def test_a_zip_bomb_is_rejected(editor_client, synced):
    bomb = (FIXTURES / "hostile/zbsm.zip").read_bytes()
    page = upload(editor_client, SimpleUploadedFile("zbsm.zip", bomb)).content.decode()
    assert "1 rejected" in page and "0 imported" in page


def test_other_files_are_refused_by_the_form(editor_client, synced):
    response = upload(editor_client, SimpleUploadedFile("notes.txt", b"hello"))
    assert "notes.txt: not an archive or .sng file" in response.content.decode()
    response = upload(editor_client, SimpleUploadedFile("songs.zip", b""))
    assert "songs.zip: The submitted file is empty." in response.content.decode()
    assert not Job.objects.exists()


def test_an_upload_over_the_limit_is_refused(editor_client, synced, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 100
    response = upload(editor_client, SimpleUploadedFile("pack.zip", song_zip()))
    assert response.status_code == 413
    assert "more than the limit of 100" in response.content.decode()
    assert not Song.objects.filter(name="Keys Song").exists()
