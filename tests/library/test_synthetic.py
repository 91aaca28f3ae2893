"""seed_songs: synthetic songs for load tests, their rows, the real-library guard, --delete."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from content.library.selectors import song_search
from content.library.synthetic import SYNTHETIC_PREFIX, synthetic_seed, vocabulary
from content.models import ChartTrack, SearchWord, Song, SongFile, SongIssue

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_songs", *args, stdout=out)
    return out.getvalue()


def test_it_adds_songs_with_the_rows_the_pages_read():
    assert "added 300 synthetic songs" in seed("--count", "300")
    songs = Song.objects.all()
    assert songs.count() == 300
    assert all(path.startswith(SYNTHETIC_PREFIX) for path in songs.values_list("path", flat=True))
    song = songs.filter(issue_count__gt=0).first()
    assert song.issues.count() == song.issue_count
    assert song.files.filter(name="song.ini").exists() and song.tracks.exists()
    assert {t.instrument for t in song.tracks.all()} == set(song.instruments)
    assert song.search_text and song.year_number and song.chart_md5 and song.sections
    # Many artists, genres and charters: a list sorted or filtered by any of them is realistic.
    assert songs.values("artist").distinct().count() > 20
    assert songs.values("genre").distinct().count() > 10
    assert songs.values("charter").distinct().count() > 100
    assert SongFile.objects.count() > 3 * 300 and ChartTrack.objects.count() > 4 * 300
    assert SongIssue.objects.exists()


def test_the_same_seed_gives_the_same_songs():
    synthetic_seed(count=50, seed=3)
    first = list(Song.objects.order_by("id").values_list("path", "name", "artist", "year"))
    Song.objects.all().delete()
    synthetic_seed(count=50, seed=3)
    assert list(Song.objects.order_by("id").values_list("path", "name", "artist", "year")) == first


def test_a_second_run_adds_more_songs_with_new_paths():
    seed("--count", "40")
    seed("--count", "40")
    assert Song.objects.values("path").distinct().count() == 80


def test_common_words_match_many_songs_and_rare_ones_few():
    synthetic_seed(count=400)
    words = vocabulary()
    common, rare = song_search(q=words[0]).count(), song_search(q=words[-1]).count()
    assert common > 100 and common > 10 * rare
    assert SearchWord.objects.filter(word=words[0]).exists()


def test_it_refuses_a_database_with_real_songs_unless_forced():
    Song.objects.create(path="Songs/Real Band/Real Song", name="Real Song")
    with pytest.raises(CommandError, match="holds 1 real songs.*--force"):
        seed("--count", "10")
    assert Song.objects.count() == 1
    seed("--count", "10", "--force")
    assert Song.objects.count() == 11


def test_delete_removes_only_the_synthetic_songs():
    real = Song.objects.create(path="Songs/Real Band/Real Song", name="Real Song")
    seed("--count", "30", "--force")
    assert "deleted 30 synthetic songs" in seed("--delete")
    assert list(Song.objects.all()) == [real]
    assert not SongFile.objects.exists() and not ChartTrack.objects.exists()


def test_seeded_songs_show_on_the_list_and_song_pages(admin_client):
    synthetic_seed(count=60)
    song = Song.objects.filter(issue_count__gt=0).first()
    listing = admin_client.get(reverse("song_list")).content.decode()
    assert "<strong>60</strong> songs" in listing
    page = admin_client.get(song.get_absolute_url()).content.decode()
    assert song.display_name in page and song.issues.first().message in page
