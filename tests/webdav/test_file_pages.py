"""The file browser, the Backgrounds/Colors/Highways pages and the raw-file proxy, on the
Nextcloud-like server (and plain WebDAV for the basics), through Django's test client."""
from __future__ import annotations

import os
import shutil
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from content.models import Job, Song
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db
NC_ONLY = pytest.mark.parametrize("dav", ["nc"], indirect=True)
CHART = FIXTURES / "charts" / "chorus" / "charts" / "easy-expert-9-notes-simple.chart"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def url(name: str, **query) -> str:
    return f"{reverse(name)}?{urlencode(query)}" if query else reverse(name)


@pytest.fixture
def pages(dav, nextcloud_settings, tmp_path):
    nextcloud_settings.SCRATCH_ROOT = tmp_path / "scratch"
    return dav


@pytest.fixture
def editor_client(client, db):
    user = User.objects.create_user("editor")
    user.user_permissions.add(Permission.objects.get(codename="change_song",
                                                     content_type__app_label="content"))
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(client, db):
    client.force_login(User.objects.create_user("viewer"))
    return client


def test_the_browser_lists_folders_and_files_with_sizes_and_dates(pages, viewer_client):
    pages.write_file("CloneHero/Songs/Band [Live] #1/song.ini", b"[song]\nname = x\n")
    pages.write_file("CloneHero/Inbox/readme.txt", b"hello" * 300)

    root = viewer_client.get(url("files_browse"))
    assert root.status_code == 200
    assert b"Songs" in root.content and b"Inbox" in root.content
    inbox = viewer_client.get(url("files_browse", path="Inbox"))
    assert b"readme.txt" in inbox.content and b"1.5\xc2\xa0KB" in inbox.content
    song = viewer_client.get(url("files_browse", path="Songs/Band [Live] #1"))
    assert song.status_code == 200 and b"song.ini" in song.content
    assert b"Delete" not in song.content  # viewers get no changes
    assert viewer_client.get(url("files_browse", path="Nope")).status_code == 404
    assert viewer_client.get(url("files_browse", path="../etc")).status_code == 404


def test_anonymous_users_are_sent_to_log_in(pages, client):
    response = client.get(url("files_raw", path="Inbox/readme.txt"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_raw_serves_images_inline_and_everything_else_as_attachments(pages, viewer_client):
    pages.write_file("CloneHero/Backgrounds/sky.png", PNG)
    pages.write_file("CloneHero/Inbox/page.html", b"<script>alert(1)</script>")

    image = viewer_client.get(url("files_raw", path="Backgrounds/sky.png"))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == PNG
    assert image["Content-Disposition"].startswith("inline")
    page = viewer_client.get(url("files_raw", path="Inbox/page.html"))
    assert page["Content-Disposition"].startswith("attachment")
    assert page["Content-Type"] == "application/octet-stream"
    assert viewer_client.get(url("files_raw", path="Inbox/none.png")).status_code == 404


def test_editors_upload_make_folders_and_delete_with_confirmation(
        pages, editor_client, immediate_tasks, django_capture_on_commit_callbacks):
    # The upload is a job; it runs (at once here) when its row is committed.
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(reverse("files_upload"), {
            "path": "Inbox", "files": [SimpleUploadedFile("a b#1.txt", b"one"),
                                       SimpleUploadedFile("c.txt", b"two")]})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == "upload" and job.state == "done", job.error
    assert pages.disk("CloneHero/Inbox/a b#1.txt").read_bytes() == b"one"
    assert pages.disk("CloneHero/Inbox/c.txt").read_bytes() == b"two"
    page = editor_client.get(job.get_absolute_url()).content.decode()
    assert "a b#1.txt, c.txt to" in page and url("files_browse", path="Inbox") in page

    editor_client.post(reverse("files_mkdir"), {"path": "Inbox", "name": "New [folder]"})
    assert pages.disk("CloneHero/Inbox/New [folder]").is_dir()
    editor_client.post(reverse("files_mkdir"), {"path": "Inbox", "name": "../escape"})
    assert not (pages.home / "escape").exists()

    confirm = editor_client.get(url("files_delete", path="Inbox/c.txt"))
    assert confirm.status_code == 200 and b"Delete c.txt?" in confirm.content
    assert pages.disk("CloneHero/Inbox/c.txt").exists()  # a GET deletes nothing
    editor_client.post(reverse("files_delete"), {"path": "Inbox/c.txt"})  # no confirm
    assert pages.disk("CloneHero/Inbox/c.txt").exists()
    editor_client.post(reverse("files_delete"), {"path": "Inbox/c.txt", "confirm": "yes"})
    assert not pages.disk("CloneHero/Inbox/c.txt").exists()


def test_the_root_and_top_folders_cannot_be_deleted(pages, editor_client):
    for path in ("", "Songs", "Backgrounds"):
        editor_client.post(reverse("files_delete"), {"path": path, "confirm": "yes"})
    assert pages.disk("CloneHero/Songs").is_dir()


def test_viewers_cannot_change_anything(pages, viewer_client):
    pages.write_file("CloneHero/Inbox/keep.txt", b"keep")
    assert viewer_client.post(reverse("files_delete"), {"path": "Inbox/keep.txt",
                                                         "confirm": "yes"}).status_code == 403
    assert viewer_client.post(reverse("files_upload"), {
        "path": "Inbox", "files": SimpleUploadedFile("x.txt", b"x")}).status_code == 403
    assert pages.disk("CloneHero/Inbox/keep.txt").exists()
    assert not pages.disk("CloneHero/Inbox/x.txt").exists()


def test_import_this_folder_puts_its_songs_in_the_library(pages, editor_client, immediate_tasks,
                                                          django_capture_on_commit_callbacks,
                                                          tmp_path):
    pages.write_file("CloneHero/Inbox/Pack/One/notes.chart", CHART.read_bytes())
    pages.write_file("CloneHero/Inbox/Pack/One/song.ini",
                     b"[song]\nname = From The Browser\nartist = Cloud Band\n")
    pages.write_file("CloneHero/Inbox/Pack/One/song.ogg", b"OggS" + os.urandom(2000))

    # The import is a job; it runs (at once here) when its row is committed.
    with django_capture_on_commit_callbacks(execute=True):
        started = editor_client.post(reverse("files_import"), {"path": "Inbox/Pack"})
    job = Job.objects.get()
    assert started["Location"] == job.get_absolute_url() and job.kind == "import"
    page = editor_client.get(job.get_absolute_url())

    assert b"1 imported" in page.content
    song = Song.objects.get(name="From The Browser")
    assert song.path == "Songs/Cloud Band/From The Browser"
    assert pages.disk(f"CloneHero/{song.path}/song.ogg").exists()
    assert pages.disk("CloneHero/Inbox/Pack/One/notes.chart").exists()  # the source stays
    assert not list((tmp_path / "scratch").glob("*"))  # the download is cleaned up
    with django_capture_on_commit_callbacks(execute=True):
        again = editor_client.post(reverse("files_import"), {"path": "Inbox/Pack"})
    assert b"1 duplicate" in editor_client.get(again["Location"]).content


@NC_ONLY
def test_backgrounds_highways_and_colors_pages(pages, editor_client, immediate_tasks,
                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.post(reverse("files_assets", args=["backgrounds"]), {
            "path": "Backgrounds", "next": reverse("files_assets", args=["backgrounds"]),
            "files": SimpleUploadedFile("stage.png", PNG)})
    assert response.status_code == 302
    assert pages.disk("CloneHero/Backgrounds/stage.png").read_bytes() == PNG
    page = editor_client.get(reverse("files_assets", args=["backgrounds"]))
    assert b'<img src="/files/raw?path=Backgrounds%2Fstage.png"' in page.content

    pages.write_file("CloneHero/Colors/Neon Dreams.ini", b"[guitar]\nnote_green = #00FF00\n")
    colors = editor_client.get(reverse("files_assets", args=["colors"]))
    assert b"<strong>Neon Dreams</strong>" in colors.content and b"<img" not in colors.content
    assert editor_client.get(reverse("files_assets", args=["highways"])).status_code == 200
    assert editor_client.get(reverse("files_assets", args=["nope"])).status_code == 404


@NC_ONLY
def test_an_unreachable_server_gives_a_clear_page(pages, viewer_client):
    pages.fail(status=503, times=-1)
    response = viewer_client.get(url("files_browse"))
    assert response.status_code == 502 and b"cannot be reached" in response.content


def test_the_status_snippet_renders(pages, viewer_client):
    from django.template.loader import render_to_string

    from content.storage.webdav import nextcloud_status

    html = render_to_string("files/_nextcloud_status.html",
                            {"status": nextcloud_status(fresh=True)})
    assert "alice" in html and ("reachable" in html)


def test_the_django_storage_url_points_at_the_authorised_proxy(pages):
    from content.storage.django_storage import NextcloudStorage

    assert NextcloudStorage("Backgrounds").url("a b.png") == \
        "/files/raw?path=Backgrounds%2Fa+b.png"


def test_the_browser_works_on_the_local_folder_too(settings, viewer_client, tmp_path):
    settings.NEXTCLOUD_URL = ""
    settings.LIBRARY_ROOT = tmp_path / "lib"
    (tmp_path / "lib" / "Songs" / "A").mkdir(parents=True)
    shutil.copy(CHART, tmp_path / "lib" / "Songs" / "A" / "notes.chart")
    response = viewer_client.get(url("files_browse", path="Songs/A"))
    assert response.status_code == 200 and b"notes.chart" in response.content
