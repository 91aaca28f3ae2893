"""Who may see and change what: login everywhere but /health, writes for editors only."""
from __future__ import annotations

import pytest
from django.urls import reverse

from content.models import Song

pytestmark = pytest.mark.django_db


def urls(song: Song) -> list[str]:
    return [reverse("dashboard"), reverse("song_list"), reverse("song_detail", args=[song.pk]),
            reverse("song_edit", args=[song.pk]), reverse("upload"),
            reverse("song_file", args=[song.pk, "song.ini"])]


def test_anonymous_users_are_sent_to_the_login_page(client, synced):
    song = Song.objects.get(name="Kong")
    for url in urls(song):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login") + "?next="), url


def test_the_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_health_answers_anonymous_callers(client, web_library):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] and body["library"]
    assert body["version"]


def test_health_reports_an_unreachable_library_with_503(client, settings, tmp_path):
    settings.LIBRARY_ROOT = tmp_path / "missing"
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": True, "library": False,
                               "version": response.json()["version"]}


def test_a_viewer_can_read_but_not_write(viewer_client, synced):
    song = Song.objects.get(name="Kong")
    assert viewer_client.get(reverse("song_list")).status_code == 200
    assert viewer_client.get(reverse("song_detail", args=[song.pk])).status_code == 200
    edit = reverse("song_edit", args=[song.pk])
    assert viewer_client.get(edit).status_code == 403
    assert viewer_client.post(edit, {"name": "Hacked"}).status_code == 403
    assert viewer_client.get(reverse("upload")).status_code == 403
    assert viewer_client.post(reverse("upload"), {}).status_code == 403
    song.refresh_from_db()
    assert song.name == "Kong"


def test_a_viewer_is_not_offered_the_edit_button(viewer_client, editor, synced):
    song = Song.objects.get(name="Kong")
    page = viewer_client.get(reverse("song_detail", args=[song.pk])).content.decode()
    assert reverse("song_edit", args=[song.pk]) not in page
    assert reverse("upload") not in page


def test_staff_may_edit_without_the_permission(client, synced):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("boss", password="x-123-pw", is_staff=True))
    song = Song.objects.get(name="Kong")
    assert client.get(reverse("song_edit", args=[song.pk])).status_code == 200
    assert client.get(reverse("upload")).status_code == 200
