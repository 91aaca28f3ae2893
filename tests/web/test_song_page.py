"""The song page and the dashboard."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from content.library.sync import library_sync
from content.models import Song
from content.storage import library_storage
from tests.web.conftest import write_wav

pytestmark = pytest.mark.django_db


def test_the_song_page_shows_the_chart_summary_files_and_player(viewer_client, synced,
                                                                django_assert_max_num_queries):
    song = Song.objects.get(name="Majestic Dance")
    # session, user, 2 permission lookups, song, files, tracks, issues
    with django_assert_max_num_queries(8):
        response = viewer_client.get(reverse("song_detail", args=[song.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    track = song.tracks.get(instrument="drums", difficulty="expert")
    assert "Chart summary" in page and ">Drums</th>" in page and "Expert" in page
    assert f">{track.note_count}<" in page
    # Star power is counted per track; the sum over every track and difficulty is no figure
    # a player charts or plays by.
    assert f'<td class="r num">{track.star_power_count}</td>' in page
    assert "star power phrases" not in page
    signatures = song.time_signature_count
    assert f"{signatures} time signature{'' if signatures == 1 else 's'}</dd>" in page
    for file in song.files.all():
        assert file.name in page
    assert "notes.mid" in page and "song.wav" in page and "album.png" in page
    art = reverse("song_file", args=[song.pk, "album.png"])
    assert f'<img class="art" src="{art}"' in page
    audio = reverse("song_file", args=[song.pk, "song.wav"])
    assert f'<audio controls preload="metadata" src="{audio}#t=1.500"' in page
    assert "Romantic Warrior" in page and "Onyxite" in page


def test_the_song_page_lists_issues_and_sections(viewer_client, synced):
    song = Song.objects.get(name="Song Name")
    page = viewer_client.get(reverse("song_detail", args=[song.pk])).content.decode()
    assert "Section 1" in page
    for issue in song.issues.all():
        assert issue.type in page


def test_an_unknown_song_is_404(viewer_client, synced):
    assert viewer_client.get(reverse("song_detail", args=[999999])).status_code == 404


def test_the_dashboard_shows_the_library_figures(viewer_client, synced,
                                                 django_assert_max_num_queries):
    # session, user, 2 permission lookups, totals, last sync, recent songs, issue types
    with django_assert_max_num_queries(8):
        page = viewer_client.get(reverse("dashboard")).content.decode()
    assert '<span class="num">7</span><span class="label">songs</span>' in page
    assert "Last sync" in page and "Recently added" in page


def test_the_dashboard_of_an_empty_library(viewer_client, db):
    page = viewer_client.get(reverse("dashboard")).content.decode()
    assert "No sync has run yet" in page and "The library is empty" in page


def test_a_song_of_several_stems_plays_them_together(viewer_client, web_library):
    folder = web_library / "Songs/Return to Forever/Majestic Dance"
    for stem in ("guitar", "drums", "crowd"):
        write_wav(folder / f"{stem}.wav")
    run = library_sync(storage=library_storage())
    assert run.errors == 0, run.error
    song = Song.objects.get(name="Majestic Dance")
    page = viewer_client.get(reverse("song_detail", args=[song.pk])).content.decode()
    players = re.findall(r"<audio ([^>]*)>", page)
    sources = [re.search(r'src="([^"#]+)', attrs).group(1) for attrs in players]
    # song.wav is the backing track: every music stem plays, the crowd does not.
    assert sorted(sources) == sorted(reverse("song_file", args=[song.pk, f"{stem}.wav"])
                                     for stem in ("song", "guitar", "drums"))
    assert players[0].startswith("controls") and all(
        a.startswith("hidden data-follows") for a in players[1:])
    assert "js/player.js" in page and " together, from the preview point" in page
    # drums.* beside drums_1..4 is ignored by players, so the page leaves it out too.
    for stem in ("drums_1", "drums_2"):
        write_wav(folder / f"{stem}.wav")
    library_sync(storage=library_storage())
    page = viewer_client.get(reverse("song_detail", args=[song.pk])).content.decode()
    assert sorted(re.findall(r'<audio [^>]*src="([^"#]+)', page)) == sorted(
        reverse("song_file", args=[song.pk, f"{stem}.wav"])
        for stem in ("song", "guitar", "drums_1", "drums_2"))
    # A preview file is the whole song on its own.
    write_wav(folder / "preview.wav")
    library_sync(storage=library_storage())
    page = viewer_client.get(reverse("song_detail", args=[song.pk])).content.decode()
    assert re.findall(r'<audio [^>]*src="([^"#]+)', page) == [
        reverse("song_file", args=[song.pk, "preview.wav"])]
