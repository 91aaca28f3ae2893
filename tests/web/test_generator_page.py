"""The Generator page and the Jobs pages: upload audio, a job runs in a task thread, its page
polls the status endpoint until the song is in the library.

These tests run tasks in threads (tests.taskbackends), so they run on a transactional
database (the thread's own connection must see the committed job).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from content import forms
from content.generator.tags import FRONT_COVER
from content.library import jobs
from content.models import Job, Song
from tests.synthaudio import SR, click_track, image, tagged_audio, write_audio

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def click_ogg(tmp_path_factory) -> bytes:
    """A 24 s click-and-tone track at 140 BPM, as Ogg Vorbis bytes."""
    samples, _ = click_track(bpm=140.0, seconds=24.0)
    return write_audio(tmp_path_factory.mktemp("audio") / "click.ogg", samples).read_bytes()


@pytest.fixture
def library(tmp_path, settings) -> Path:
    """An empty library folder (LIBRARY_ROOT) and SCRATCH_ROOT beside it."""
    root = tmp_path / "library"
    root.mkdir()
    settings.LIBRARY_ROOT = root
    settings.SCRATCH_ROOT = tmp_path / "scratch"
    return root


@pytest.fixture
def workers(thread_tasks):
    """Jobs run by task threads beside the test (joined at its end)."""
    return thread_tasks


@pytest.fixture
def held(held_tasks):
    """Jobs are recorded and enqueued but never run (they stay queued): a function listing the
    enqueued job ids."""
    return held_tasks


def upload(client, *files, **fields):
    return client.post(reverse("generator"), {"audio": list(files), **fields})


def wait_until_finished(client, job: Job, timeout: float = 90.0) -> dict:
    """Poll the job's status endpoint as the page's script does, until the job ends."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(reverse("job_status", args=[job.pk]))
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        status = response.json()
        if status["finished"] or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def scratch_is_empty(library: Path) -> bool:
    scratch = library.parent / "scratch"
    return not scratch.exists() or not any(scratch.iterdir())


def test_upload_runs_a_job_that_ends_on_the_new_song(editor_client, library, workers, click_ogg):
    page = editor_client.get(reverse("generator")).content.decode()
    assert 'type="file"' in page and "multiple" in page and ".opus" in page
    response = upload(editor_client, SimpleUploadedFile("Click Song.ogg", click_ogg),
                      artist="Synth Band")
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.kind == "generate" and job.user.username == "editor"

    detail = editor_client.get(job.get_absolute_url()).content.decode()
    assert 'id="job-bar"' in detail and reverse("job_status", args=[job.pk]) in detail

    status = wait_until_finished(editor_client, job)
    assert status["state"] == "done", status["error"]
    assert status["percent"] == 100 and status["result"]["status"] == "imported"
    song = Song.objects.get()
    # No name given and no tags: the uploaded file's name, kept readable.
    assert song.name == "Click Song" and song.artist == "Synth Band"
    assert song.path == "Songs/Synth Band/Click Song"
    assert status["song_url"] == song.get_absolute_url()
    song_page = editor_client.get(status["song_url"])
    assert song_page.status_code == 200
    assert b"<audio" in song_page.content and b"Expert" in song_page.content
    assert (library / song.path / "notes.chart").is_file()
    assert scratch_is_empty(library)
    # The finished job's page links the song and gives its tempo; the list shows the job.
    finished = editor_client.get(job.get_absolute_url()).content.decode()
    assert song.get_absolute_url() in finished and re.search(r"[\d.]+ BPM, 4/4 time", finished)
    listing = editor_client.get(reverse("job_list")).content.decode()
    assert job.get_absolute_url() in listing and "Click Song.ogg" in listing


@pytest.fixture(scope="module")
def chord_ogg(tmp_path_factory) -> bytes:
    """A 24 s held chord (a backing track with no guitar in it), as Ogg Vorbis bytes."""
    t = np.arange(int(24.0 * SR)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 138.6, 164.8)) * 0.05
    return write_audio(tmp_path_factory.mktemp("audio") / "chord.ogg",
                       chord.astype(np.float32)).read_bytes()


def test_stems_upload_charts_the_guitar_and_keeps_every_stem(editor_client, library, workers,
                                                             click_ogg, chord_ogg):
    response = upload(editor_client, SimpleUploadedFile("guitar.ogg", click_ogg),
                      SimpleUploadedFile("Song.ogg", chord_ogg), name="Stems", artist="Synth")
    assert response.status_code == 302
    status = wait_until_finished(editor_client, Job.objects.get())
    assert status["state"] == "done", status["error"]
    assert status["result"]["audio_note"] == "" and 'id="job-audio-note"' not in status[
        "results_html"]
    song = Song.objects.get()
    assert song.name == "Stems" and set(song.audio_files) == {"guitar.ogg", "song.ogg"}


def test_a_song_ogg_that_holds_the_guitar_stem_lands_without_it(editor_client, library,
                                                               workers, click_ogg):
    # song.ogg is the guitar stem's own audio: a full mix that holds it. The job says so and
    # stays on its page with the note (the script goes on to the song page only without one).
    upload(editor_client, SimpleUploadedFile("guitar.ogg", click_ogg),
           SimpleUploadedFile("song.ogg", click_ogg), name="Full mix", artist="Synth")
    job = Job.objects.get()
    status = wait_until_finished(editor_client, job)
    assert status["state"] == "done", status["error"]
    note = status["result"]["audio_note"]
    assert note.startswith("song.ogg already holds the guitar stem (it is the full mix)")
    assert "the guitar stem would sound twice" in note
    assert 'id="job-audio-note"' in status["results_html"]
    assert "would sound twice" in editor_client.get(job.get_absolute_url()).content.decode()
    song = Song.objects.get()
    assert song.audio_files == ["song.ogg"] and song.tracks.filter(instrument="guitar").exists()


def test_a_bass_stem_upload_lands_with_a_bass_part(editor_client, library, workers, click_ogg):
    upload(editor_client, SimpleUploadedFile("guitar.ogg", click_ogg),
           SimpleUploadedFile("bass.ogg", click_ogg), name="Parts", artist="Synth")
    job = Job.objects.get()
    status = wait_until_finished(editor_client, job)
    assert status["state"] == "done", status["error"]
    assert [p["instrument"] for p in status["result"]["parts"]] == ["guitar", "bass"]
    detail = editor_client.get(job.get_absolute_url()).content.decode()
    # In chart order, each with its difficulties from Expert down.
    assert re.search(r"<dt>Guitar part</dt><dd>Expert \d+, Hard \d+, Medium \d+, Easy \d+ "
                     r"notes</dd>\s*<dt>Bass part</dt>", detail)
    song = Song.objects.get()
    assert {t.instrument for t in song.tracks.all()} == {"guitar", "bass"}
    assert "bass" in editor_client.get(song.get_absolute_url()).content.decode().lower()


def generate_one_stem(client, filename: str, audio: bytes) -> tuple[str, dict, str]:
    """Upload one stem on the Generator page and wait for its job to finish: (the page it was
    uploaded from, the job's final status, the job's page)."""
    page = client.get(reverse("generator")).content.decode()
    upload(client, SimpleUploadedFile(filename, audio), name=Path(filename).stem)
    job = Job.objects.get()
    status = wait_until_finished(client, job)
    assert status["state"] == "done", status["error"]
    return page, status, client.get(job.get_absolute_url()).content.decode()


def test_a_drum_stem_alone_lands_as_a_drum_chart_only(editor_client, library, workers,
                                                     click_ogg):
    page, status, detail = generate_one_stem(editor_client, "drums.ogg", click_ogg)
    assert "a stem alone gives its own part only" in page
    (drums,) = status["result"]["parts"]
    assert drums["instrument"] == "drums" and drums["notes"][0][0] == "Expert"
    assert "<dt>Drums part</dt>" in detail and "Guitar part" not in detail
    assert {t.instrument for t in Song.objects.get().tracks.all()} == {"drums"}


def test_a_lone_guitar_stem_job_says_its_tempo_map_follows_the_notes(editor_client, library,
                                                                       workers, click_ogg):
    page, status, detail = generate_one_stem(editor_client, "guitar.ogg", click_ogg)
    assert "give <code>song.ogg</code> or <code>drums.ogg</code> too" in page
    assert status["result"]["tempo_note"].startswith("from the stem's notes alone")
    assert "from the stem&#x27;s notes alone: where the part does not show" in detail


def test_a_tagged_upload_lands_with_its_album_and_cover(editor_client, library, workers,
                                                       tmp_path):
    samples, _ = click_track(bpm=140.0, seconds=24.0)
    cover = image(tmp_path / "cover.jpg")
    mp3 = tagged_audio(tmp_path / "upload.mp3", samples, [(FRONT_COVER, cover)]).read_bytes()
    upload(editor_client, SimpleUploadedFile("upload.mp3", mp3))
    status = wait_until_finished(editor_client, Job.objects.get())
    assert status["state"] == "done", status["error"]
    song = Song.objects.get()
    assert (song.name, song.artist, song.album, song.genre) == (
        "Tagged Song", "Tag Band", "Tag Album", "Rock")
    assert song.album_art == "album.jpg"
    page = editor_client.get(song.get_absolute_url()).content.decode()
    art = reverse("song_file", args=[song.pk, "album.jpg"])
    assert f'src="{art}"' in page and "Tag Album" in page and "2004" in page
    assert b"".join(editor_client.get(art).streaming_content) == cover


def test_stems_with_their_song_ini_and_album_art_need_no_name(editor_client, library, workers,
                                                              click_ogg, tmp_path):
    # A song folder's files as a user selects them all: its song.ini names the song.
    cover = image(tmp_path / "album.png")
    ini = "[Song]\r\nname = Folder Song\r\nartist = Folder Band\r\ngenre = Jazz\r\n"
    response = upload(editor_client, SimpleUploadedFile("guitar.ogg", click_ogg),
                      SimpleUploadedFile("song.ini", ini.encode()),
                      SimpleUploadedFile("Album.PNG", cover))
    assert response.status_code == 302
    status = wait_until_finished(editor_client, Job.objects.get())
    assert status["state"] == "done", status["error"]
    song = Song.objects.get()
    assert (song.name, song.artist, song.genre, song.charter) == (
        "Folder Song", "Folder Band", "Jazz", "chmanager")
    assert song.album_art == "album.png" and set(song.audio_files) == {"guitar.ogg"}
    folder = library / song.path
    assert (folder / "album.png").read_bytes() == cover


def test_not_audio_ends_as_a_failed_job_naming_the_file(editor_client, library, workers):
    response = upload(editor_client, SimpleUploadedFile("holiday.ogg", b"just some text\n" * 500))
    job = Job.objects.get()
    assert response.status_code == 302
    status = wait_until_finished(editor_client, job)
    assert status["state"] == "failed" and status["song_url"] is None
    assert status["error"].startswith("holiday.ogg: ")
    assert "scratch" not in status["error"]  # no server paths in what users read
    assert "holiday.ogg: " in editor_client.get(job.get_absolute_url()).content.decode()
    # The failed job keeps its input for a retry.
    assert not Song.objects.exists() and jobs.scratch_path(job.arguments["scratch"]).is_dir()


def test_audio_over_the_length_limit_fails_with_the_limit_named(editor_client, library, workers,
                                                               click_ogg, settings):
    settings.GENERATOR_MAX_MINUTES = 0.25  # 15 s; the click track is 24 s
    page = editor_client.get(reverse("generator")).content.decode()
    assert "0.25 minutes of audio per file" in page
    upload(editor_client, SimpleUploadedFile("long take.ogg", click_ogg))
    job = Job.objects.get()
    status = wait_until_finished(editor_client, job)
    assert status["state"] == "failed" and not Song.objects.exists()
    assert status["error"] == ("long take.ogg: the audio is longer than 15 s, the most the "
                               "generator charts")


INI = b"[song]\nname = A\n"


@pytest.mark.parametrize("files, error", [
    ({"notes.txt": b"hello"}, "notes.txt: not an audio file"),
    ({"guitar.ogg": b"x", "song.ogg": b""}, "song.ogg: The submitted file is empty."),
    ({"a.ogg": b"x", "b.ogg": b"x"}, "a.ogg: several files must be stems"),
    ({"drums.ogg": b"x", "DRUMS.wav": b"x"}, "are the same stem"),
    ({"song.ini": INI}, "song.ini: no audio; add the song&#x27;s audio or stems."),
    ({"guitar.ogg": b"x", "album.jpg": b"x", "album.png": b"x"},
     "album.jpg and album.png are the same file"),
    ({"My Song.mp3": b"x", "song.ini": INI}, "My Song.mp3: several files must be stems"),
    ({"guitar.ogg": b"x", "song.ini": INI + b"; " * 2 ** 19},
     "song.ini: 1048592 bytes, too large to be a song.ini (at most 1048576)"),
    ({"guitar.ogg": b"x", "song.ini": b"[song]\nartist = No Name\n"},
     "give the song&#x27;s name (or its song.ini)"),
    ({"guitar.ogg": b"x"}, "guitar.ogg: stems are named after their part, not the song; give "
                           "the song&#x27;s name (or its song.ini)."),
    ({"guitar.ogg": b"x", "song.ogg": b"x"}, "guitar.ogg, song.ogg: stems are named after "
                                             "their part"),
])
def test_the_form_refuses_what_is_not_audio_or_not_stems(editor_client, library, held, files,
                                                         error):
    response = upload(editor_client, *(SimpleUploadedFile(n, b) for n, b in files.items()))
    assert response.status_code == 200 and error in response.content.decode()
    assert not Job.objects.exists() and held() == [] and scratch_is_empty(library)


def test_generator_and_jobs_are_for_editors(editor_client, viewer, library, held):
    viewer_client = Client()  # not the `client` fixture: editor_client is that one
    viewer_client.force_login(viewer)
    upload(editor_client, SimpleUploadedFile("song.ogg", b"x"), name="Tune")
    job = Job.objects.get()
    urls = [reverse("generator"), reverse("job_list"), job.get_absolute_url(),
            reverse("job_status", args=[job.pk])]
    for url in urls:
        assert viewer_client.get(url).status_code == 403
    assert upload(viewer_client, SimpleUploadedFile("song.ogg", b"x")).status_code == 403
    assert viewer_client.post(reverse("job_cancel", args=[job.pk])).status_code == 403
    assert Job.objects.count() == 1
    assert "Generate</a>" not in viewer_client.get(reverse("dashboard")).content.decode()
    nav = editor_client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("generator")}"' in nav and f'href="{reverse("job_list")}"' in nav
    assert Client().get(reverse("generator"))["Location"].startswith(reverse("login"))


def test_cancel_a_queued_job(editor_client, library, held, click_ogg):
    upload(editor_client, SimpleUploadedFile("song.ogg", click_ogg), name="Tune")
    job = Job.objects.get()
    folder = jobs.scratch_path(job.arguments["scratch"])
    assert job.state == "queued" and held() == [job.pk] and (folder / "song.ogg").is_file()
    response = editor_client.post(reverse("job_cancel", args=[job.pk]), follow=True)
    assert b"Job cancelled." in response.content
    job.refresh_from_db()
    assert job.state == "cancelled" and not folder.exists()
    jobs.job_run(job.pk)  # a worker reaching it later leaves it alone
    job.refresh_from_db()
    assert job.state == "cancelled" and not Song.objects.exists()


def slow_job(*, arguments, progress):
    """Stands in for the generator: reports progress for up to 20 s."""
    for step in range(400):
        progress(step, 400, "working")
        time.sleep(0.05)
    return {}


def test_cancel_a_running_job(editor_client, library, workers, monkeypatch, django_user_model):
    monkeypatch.setitem(jobs.JOB_FUNCTIONS, Job.Kind.GENERATE,
                        "tests.web.test_generator_page.slow_job")
    upload(editor_client, SimpleUploadedFile("song.ogg", b"x"), name="Tune")
    job = Job.objects.get()
    deadline = time.monotonic() + 10
    while Job.objects.get(pk=job.pk).state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    # Another editor may watch the job but not stop it; its starter can.
    other = django_user_model.objects.create_user("other", password="pw-other-123")
    other.user_permissions.set(User.objects.get(username="editor").user_permissions.all())
    editor_client.force_login(other)
    assert b"Cancel job" not in editor_client.get(job.get_absolute_url()).content
    assert editor_client.post(reverse("job_cancel", args=[job.pk])).status_code == 403
    editor_client.force_login(User.objects.get(username="editor"))
    response = editor_client.post(reverse("job_cancel", args=[job.pk]), follow=True)
    assert b"the job stops at its next step" in response.content
    status = wait_until_finished(editor_client, job, timeout=10)
    assert status["state"] == "cancelled" and status["cancel_requested"]
    assert scratch_is_empty(library)


def test_a_job_whose_worker_died_shows_as_failed(editor_client, library, held):
    upload(editor_client, SimpleUploadedFile("song.ogg", b"x"), name="Tune")
    job = Job.objects.get()
    long_ago = job.created_at - jobs.STALE_AFTER * 2
    Job.objects.filter(pk=job.pk).update(state="running", started_at=long_ago,
                                         heartbeat_at=long_ago)
    status = editor_client.get(reverse("job_status", args=[job.pk])).json()
    assert status["state"] == "failed" and "stopped without finishing" in status["error"]
    assert (jobs.scratch_path(job.arguments["scratch"]) / "song.ogg").is_file()  # for a retry


def test_the_page_lists_match_the_generator():
    from content.generator import audio

    assert forms.AUDIO_EXTENSIONS == audio.AUDIO_EXTENSIONS
