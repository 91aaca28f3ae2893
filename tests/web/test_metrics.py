"""/metrics: bearer token, request latency by URL name, and figures read from the database."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from content.models import Job, Song, SyncRun

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def scrape(client, settings):
    """Scrape /metrics with the right token; returns {(sample name, labels): value}."""
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, frozenset], float]:
        response = client.get(reverse("metrics"), headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return {(sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(response.content.decode())
                for sample in family.samples}

    return scrape


def labels(**pairs) -> frozenset:
    return frozenset(pairs.items())


def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get(reverse("metrics"), headers={"Authorization": "Bearer "})
    assert response.status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_a_missing_or_wrong_token_is_refused(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": header} if header else {}
    response = client.get(reverse("metrics"), headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"chmanager_" not in response.content


def test_requests_are_counted_by_url_name_method_and_status(client, viewer, scrape, web_library):
    client.force_login(viewer)
    key = ("chmanager_http_request_duration_seconds_count",
           labels(view="song_list", method="GET", status="200"))
    missing = ("chmanager_http_request_duration_seconds_count",
               labels(view="<unmatched>", method="GET", status="404"))
    before = scrape()
    for _ in range(3):
        assert client.get(reverse("song_list")).status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    after = scrape()
    assert after[key] - before.get(key, 0) == 3
    assert after[missing] - before.get(missing, 0) == 1
    assert after[("chmanager_http_request_duration_seconds_sum",
                  labels(view="song_list", method="GET", status="200"))] > 0


def test_jobs_are_counted_by_kind_and_state_with_their_durations(scrape):
    now = timezone.now()
    for seconds in (2, 10, 10):
        Job.objects.create(kind=Job.Kind.IMPORT, state=Job.State.DONE,
                           started_at=now - timedelta(seconds=seconds), finished_at=now)
    Job.objects.create(kind=Job.Kind.GENERATE, state=Job.State.FAILED,
                       started_at=now - timedelta(seconds=400), finished_at=now)
    Job.objects.create(kind=Job.Kind.SYNC, state=Job.State.QUEUED)
    figures = scrape()
    assert figures[("chmanager_jobs", labels(kind="import", state="done"))] == 3
    assert figures[("chmanager_jobs", labels(kind="sync", state="queued"))] == 1
    assert figures[("chmanager_jobs", labels(kind="sync", state="running"))] == 0
    done = dict(kind="import", state="done")
    assert figures[("chmanager_job_duration_seconds_bucket", labels(le="1.0", **done))] == 0
    assert figures[("chmanager_job_duration_seconds_bucket", labels(le="5.0", **done))] == 1
    assert figures[("chmanager_job_duration_seconds_bucket", labels(le="15.0", **done))] == 3
    assert figures[("chmanager_job_duration_seconds_bucket", labels(le="+Inf", **done))] == 3
    assert figures[("chmanager_job_duration_seconds_sum", labels(**done))] == pytest.approx(22)
    failed = dict(kind="generate", state="failed")
    assert figures[("chmanager_job_duration_seconds_bucket", labels(le="300.0", **failed))] == 0
    assert figures[("chmanager_job_duration_seconds_bucket", labels(le="900.0", **failed))] == 1
    assert not any(name == "chmanager_job_duration_seconds_count" and ("state", "queued") in key
                   for name, key in figures), "a job that never ran has no duration"


def test_library_size_counts_songs_not_removed(scrape, synced):
    present = Song.objects.filter(removed_at__isnull=True)
    count, size = present.count(), sum(present.values_list("size_bytes", flat=True))
    assert count > 0 and size > 0
    figures = scrape()
    assert figures[("chmanager_library_songs", labels())] == count
    assert figures[("chmanager_library_bytes", labels())] == size
    Song.objects.filter(pk=present.first().pk).update(removed_at=timezone.now())
    assert scrape()[("chmanager_library_songs", labels())] == count - 1


def test_the_last_real_sync_is_reported(scrape, synced):
    synced.refresh_from_db()
    SyncRun.objects.create(storage="x", dry_run=True, seconds=99, requests=99,
                           finished_at=timezone.now() + timedelta(hours=1))
    figures = scrape()
    assert figures[("chmanager_sync_last_duration_seconds", labels())] == pytest.approx(
        synced.seconds)
    assert figures[("chmanager_sync_last_requests", labels())] == synced.requests
    assert figures[("chmanager_sync_last_errors", labels())] == 0
    assert figures[("chmanager_sync_last_finished_timestamp_seconds", labels())] == pytest.approx(
        synced.finished_at.timestamp())


def test_no_sync_figures_before_the_first_sync(scrape):
    assert not any(name.startswith("chmanager_sync_") for name, _ in scrape())
