"""The Django side of the Nextcloud storage: the library_storage() factory, the Django Storage
backend in STORAGES, and nextcloud_status() for the dashboard and /health."""
from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from content.storage import library_storage
from content.storage.django_storage import NextcloudStorage
from content.storage.local import LocalStorage
from content.storage.webdav import WebDavStorage, nextcloud_status


@pytest.fixture(autouse=True)
def _fresh_status_cache():
    from content.storage import webdav

    webdav._STATUS_CACHE.clear()
    yield
    webdav._STATUS_CACHE.clear()


def test_the_factory_picks_nextcloud_when_its_url_is_set(nc, nextcloud_settings, tmp_path):
    storage = library_storage()
    assert isinstance(storage, WebDavStorage)
    assert storage.root == "CloneHero" and storage.concurrency == 4
    assert nc.count() == 0  # building it asks nothing
    nextcloud_settings.NEXTCLOUD_URL = ""
    nextcloud_settings.LIBRARY_ROOT = tmp_path
    assert isinstance(library_storage(), LocalStorage)


def test_the_django_storage_backend_saves_lists_opens_and_deletes(dav, nextcloud_settings):
    backend = NextcloudStorage("Backgrounds")
    assert dav.count() == 0  # lazy: no connection in __init__
    name = backend.save("sunset [1].png", ContentFile(b"\x89PNG fake", name="x.png"))

    assert name == "sunset [1].png"
    assert dav.disk("CloneHero/Backgrounds/sunset [1].png").read_bytes() == b"\x89PNG fake"
    assert backend.exists(name) and backend.size(name) == 9
    assert backend.listdir("") == ([], ["sunset [1].png"])
    with backend.open(name) as handle:
        assert handle.read() == b"\x89PNG fake"
    assert backend.get_modified_time(name).tzinfo is not None
    second = backend.save("sunset [1].png", ContentFile(b"again"))
    assert second != name and backend.exists(second)  # Django's no-overwrite naming
    backend.delete(name)
    assert not backend.exists(name)
    with pytest.raises(FileNotFoundError):
        backend.open(name)
    with pytest.raises(FileNotFoundError):
        backend.listdir("nope")


def test_the_backend_deconstructs_for_migrations():
    path, args, kwargs = NextcloudStorage("Colors").deconstruct()
    assert path == "content.storage.django_storage.NextcloudStorage"
    assert args == ("Colors",) and kwargs == {}


def test_the_backend_is_selectable_in_storages(nc, nextcloud_settings):
    from django.core.files.storage import storages

    nextcloud_settings.STORAGES = {**nextcloud_settings.STORAGES, "nextcloud": {
        "BACKEND": "content.storage.django_storage.NextcloudStorage",
        "OPTIONS": {"location": "Highways"}}}
    backend = storages["nextcloud"]
    backend.save("lane.png", ContentFile(b"png"))
    assert nc.disk("CloneHero/Highways/lane.png").exists()


def test_status_when_not_configured(settings):
    settings.NEXTCLOUD_URL = ""
    assert nextcloud_status() == {**nextcloud_status(), "configured": False, "reachable": False,
                                  "ok": False}


def test_status_of_a_reachable_nextcloud_names_the_user_id_and_version(nc, nextcloud_settings):
    status = nextcloud_status()
    assert status["configured"] and status["reachable"] and status["ok"]
    assert status["user_id"] == "alice" and status["version"] == "30.0.4"
    assert status["root_exists"] is True and status["error"] is None
    requests_before = nc.count()
    assert nextcloud_status() == status  # cached: a polling health check costs nothing
    assert nc.count() == requests_before


def test_status_of_a_plain_webdav_server(plain, nextcloud_settings):
    status = nextcloud_status()
    assert status["reachable"] and status["ok"] and status["version"] is None
    assert status["user_id"] == "alice"


def test_status_with_a_wrong_password_says_which_settings_and_stops_asking(nc,
                                                                         nextcloud_settings):
    nextcloud_settings.NEXTCLOUD_APP_PASSWORD = "revoked"
    status = nextcloud_status()
    assert not status["ok"] and "NEXTCLOUD_APP_PASSWORD" in status["error"]
    failures = nc.count(path="/ocs/") + nc.count(path="/CloneHero")
    assert failures == 1
    nextcloud_status(fresh=True)
    assert nc.count(path="/ocs/") + nc.count(path="/CloneHero") == 1  # never asked again


def test_status_of_a_missing_library_folder(nc, nextcloud_settings):
    nextcloud_settings.NEXTCLOUD_ROOT = "Nope"
    status = nextcloud_status()
    assert status["reachable"] and not status["ok"] and status["root_exists"] is False
    assert "Nope" in status["error"]


def test_status_of_an_unreachable_server(settings):
    settings.NEXTCLOUD_URL = "http://127.0.0.1:9"
    settings.NEXTCLOUD_USER = "alice"
    settings.NEXTCLOUD_RETRIES = 0
    status = nextcloud_status()
    assert (status["configured"] and not status["reachable"]
            and "connection failed" in status["error"])


@pytest.mark.django_db
def test_health_and_the_dashboard_show_nextcloud_and_its_user_id(nc, nextcloud_settings, client,
                                                                   django_user_model):
    health = client.get("/health").json()
    assert health["nextcloud"] == {"reachable": True, "user_id": nc.user_id}
    assert health["library"] is True

    client.force_login(django_user_model.objects.create_user("viewer", password="x"))
    page = client.get("/").content.decode()
    assert "Nextcloud" in page and nc.user_id in page and 'href="/files/' in page
