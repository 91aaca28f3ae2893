"""The Jobs pages around imports and syncs: the upload hands over to its job, the same upload
twice is refused while the first is queued, Retry of a failed job, a sync started from the
Jobs page, and Redis down with the RQ backend (a clear error, no hang)."""
from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from content.library import jobs
from content.models import Job, Song

from .test_upload import song_zip

# Transactional: a job is enqueued once its row is committed.
pytestmark = pytest.mark.django_db(transaction=True)


def upload(client, *files):
    return client.post(reverse("upload"), {"archives": list(files)})


def staging_folders(web_library):
    scratch = web_library.parent / "scratch"
    return sorted(scratch.glob("job-*")) if scratch.exists() else []


def test_the_same_upload_twice_is_refused_while_the_first_is_queued(editor_client, web_library,
                                                                    held_tasks):
    first = upload(editor_client, SimpleUploadedFile("pack.zip", song_zip()))
    job = Job.objects.get()
    assert first.status_code == 302 and first["Location"] == job.get_absolute_url()
    assert held_tasks() == [job.pk] and job.state == "queued"
    # Another name, same bytes: the same archive.
    second = upload(editor_client, SimpleUploadedFile("copy.zip", song_zip()))
    assert second.status_code == 409
    assert (f"An import of the same files is already queued (job #{job.pk})"
            in second.content.decode())
    assert Job.objects.count() == 1 and held_tasks() == [job.pk]
    assert staging_folders(web_library) == [jobs.scratch_path(job.arguments["scratch"])]


def test_the_job_page_lists_the_imported_songs_when_the_import_ends(editor_client, web_library,
                                                                    held_tasks):
    upload(editor_client, SimpleUploadedFile("pack.zip", song_zip()))
    job = Job.objects.get()
    page = editor_client.get(job.get_absolute_url()).content.decode()
    assert 'id="job-bar"' in page and "Import result" not in page
    jobs.job_run(job.pk)  # what the worker does
    status = editor_client.get(reverse("job_status", args=[job.pk])).json()
    song = Song.objects.get(name="Keys Song")
    assert status["state"] == "done" and status["result"]["counts"]["imported"] == 1
    # The page swaps this in when the poll sees the job finished.
    assert "1 imported" in status["results_html"]
    assert reverse("song_detail", args=[song.pk]) in status["results_html"]
    listing = editor_client.get(reverse("job_list")).content.decode()
    assert song.get_absolute_url() in listing  # the one song it imported


def broken_import(*, arguments, progress):
    """An import that fails (the job keeps its input)."""
    raise jobs.JobFailed("pack.zip: the library disk is full")


def test_retry_a_failed_import(editor_client, web_library, immediate_tasks, monkeypatch,
                               django_user_model):
    monkeypatch.setitem(jobs.JOB_FUNCTIONS, Job.Kind.IMPORT,
                        "tests.web.test_jobs_pages.broken_import")
    upload(editor_client, SimpleUploadedFile("pack.zip", song_zip()))
    failed = Job.objects.get()
    assert failed.state == "failed"
    page = editor_client.get(failed.get_absolute_url()).content.decode()
    assert "the library disk is full" in page and 'id="job-retry"' in page
    assert 'id="job-retry" method="post" action="%s" class="formbar">' % reverse(
        "job_retry", args=[failed.pk]) in page  # shown, not hidden

    # Another (non-staff) editor may not retry someone else's job.
    other = django_user_model.objects.create_user("other", password="pw-other-123")
    other.user_permissions.set(User.objects.get(username="editor").user_permissions.all())
    editor_client.force_login(other)
    assert editor_client.post(reverse("job_retry", args=[failed.pk])).status_code == 403
    editor_client.force_login(User.objects.get(username="editor"))

    monkeypatch.undo()  # the disk has room again
    response = editor_client.post(reverse("job_retry", args=[failed.pk]), follow=True)
    retry = Job.objects.get(retry_of=failed)
    assert response.redirect_chain[-1][0] == retry.get_absolute_url()
    page = response.content.decode()
    assert f"Retrying job #{failed.pk} as job #{retry.pk}" in page and "1 imported" in page
    retry.refresh_from_db()
    assert retry.state == "done"
    assert Song.objects.filter(name="Keys Song").count() == 1
    again = editor_client.post(reverse("job_retry", args=[failed.pk]), follow=True)
    assert f"already retried as job #{retry.pk}" in again.content.decode()
    assert f"Retried as <a href=\"{retry.get_absolute_url()}\">job #{retry.pk}</a>" in \
        editor_client.get(failed.get_absolute_url()).content.decode()


def test_sync_from_the_jobs_page_once_at_a_time(editor_client, viewer, web_library, held_tasks):
    page = editor_client.get(reverse("job_list")).content.decode()
    assert f'action="{reverse("sync_start")}"' in page
    response = editor_client.post(reverse("sync_start"))
    job = Job.objects.get()
    assert response["Location"] == job.get_absolute_url() and job.kind == "sync"
    again = editor_client.post(reverse("sync_start"), follow=True)
    assert again.redirect_chain[-1][0] == job.get_absolute_url()
    assert f"A library sync is already queued (job #{job.pk})" in again.content.decode()
    assert Job.objects.count() == 1
    viewer_client = editor_client.__class__()
    viewer_client.force_login(viewer)
    assert viewer_client.post(reverse("sync_start")).status_code == 403


def test_redis_down_the_upload_fails_at_once_with_a_clear_error(editor_client, web_library,
                                                                settings):
    settings.TASKS_BACKEND = "rq"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    # Nothing listens on port 1: what a stopped Redis looks like.
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0?socket_connect_timeout=5"}}
    started = time.monotonic()
    response = upload(editor_client, SimpleUploadedFile("pack.zip", song_zip()))
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    page = response.content.decode()
    assert "The job could not be queued" in page and "TASKS_BACKEND=rq" in page
    job = Job.objects.get()
    assert job.state == "failed" and "Connection refused" in job.error
    assert jobs.scratch_path(job.arguments["scratch"]).is_dir()  # kept for a retry
