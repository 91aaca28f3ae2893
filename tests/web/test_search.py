"""Searching, filtering, sorting and paging the song list."""
from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from content.library.searchwords import search_words_refresh
from content.library.selectors import library_stats, song_search
from content.models import SearchWord, Song

pytestmark = pytest.mark.django_db


def names(**kwargs) -> list[str]:
    return [song.display_name for song in song_search(**kwargs)]


def test_it_finds_songs_by_title_and_by_artist(synced):
    assert names(q="kong") == ["Kong"]
    assert names(q="Return to") == ["Majestic Dance"]
    assert names(q="sonicbloom") == ["XYG"]


def test_it_ignores_case_and_extra_spaces(synced):
    assert names(q="  MAJESTIC   dance ") == ["Majestic Dance"]


def test_it_matches_words_in_any_order_and_prefixes_on_postgres(synced):
    if connection.vendor != "postgresql":
        pytest.skip("full-text search is PostgreSQL only; SQLite needs each word as typed")
    assert names(q="dance majestic") == ["Majestic Dance"]
    assert names(q="ma") == ["Majestic Dance"]  # two letters: a full-text prefix, not LIKE


def test_it_searches_text_without_rich_text_tags(synced):
    assert names(q="crimson tide") == ["Crimson Tide"]
    assert names(q="tagged band") == ["Crimson Tide"]
    assert names(q="color") == []  # the tag itself is not searchable


def test_it_searches_album_charter_and_genre(synced):
    assert names(q="romantic warrior") == ["Majestic Dance"]
    assert set(names(q="onyxite")) == {"Majestic Dance", "Kong", "Shofukan", "XYG"}
    assert set(names(q="fusion")) == {"Majestic Dance", "Shofukan"}


def test_a_typo_falls_back_to_close_spellings_on_postgres(synced):
    if connection.vendor != "postgresql":
        pytest.skip("trigram similarity is PostgreSQL only")
    results = list(song_search(q="shofukon"))
    assert [s.display_name for s in results] == ["Shofukan"]
    assert results[0].fuzzy_match is True
    assert names(q="bonbo") == ["Kong"]  # a one-letter slip in a short word


def test_each_misspelt_word_is_corrected_on_postgres(synced):
    if connection.vendor != "postgresql":
        pytest.skip("trigram similarity is PostgreSQL only")
    assert names(q="majestik danse") == ["Majestic Dance"]
    assert names(q="romantik warior") == ["Majestic Dance"]


def test_the_suggestion_words_follow_the_library(synced):
    if connection.vendor != "postgresql":
        pytest.skip("the suggestion table is PostgreSQL only")
    assert {"majestic", "bonobo", "onyxite"} <= set(
        SearchWord.objects.values_list("word", flat=True))
    Song.objects.filter(name="Kong").update(removed_at=timezone.now())
    search_words_refresh()
    assert not SearchWord.objects.filter(word="kong").exists()
    assert "Kong" not in names(q="bonbo")


def test_filters_by_instrument_and_difficulty(synced):
    assert set(names(instrument="drums")) == {"Majestic Dance", "Kong", "Crimson Tide"}
    assert set(names(instrument="guitar", difficulty="easy")) == {"Ghost", "Crimson Tide"}
    assert set(names(instrument="drums", difficulty="easy")) == set()


def test_filters_by_issues_genre_and_years(synced):
    expected = {s.display_name for s in Song.objects.filter(issue_count__gt=0)}
    assert expected and set(names(has_issues=True)) == expected
    assert set(names(has_issues=False)) == {
        s.display_name for s in Song.objects.filter(issue_count=0)}
    assert set(names(genre="jazz")) == {"XYG", "Crimson Tide"}
    assert names(year_from=1970, year_to=1980, sort="year") == ["Crimson Tide", "Majestic Dance"]


def test_removed_songs_are_left_out_unless_asked(synced):
    Song.objects.filter(name="Kong").update(removed_at="2026-01-01T00:00Z")
    assert "Kong" not in names()
    assert "Kong" in names(include_removed=True)


def test_sorts(synced):
    assert names(sort="-year")[:3] == ["Ghost", "Shofukan", "Kong"]  # 2014 ties go by artist
    # By the stored column (indexed): "<b>Tagged</b> Band" sorts before "Artist Name", "Bonobo".
    assert names(sort="artist")[:3] == ["Crimson Tide", "Song Name", "Kong"]
    assert names(sort="charter")[0] == "Song Name"  # "Charter Name" sorts first
    assert names(sort="recent")[0] == Song.objects.latest("added_at", "id").display_name
    with pytest.raises(ValueError):
        song_search(sort="colour")


def test_library_stats(synced):
    stats = library_stats()
    assert stats["songs"] == 7
    assert stats["charters"] >= 4
    assert stats["size_bytes"] == sum(Song.objects.values_list("size_bytes", flat=True))
    assert stats["last_sync"] == synced


def test_the_list_page_searches_and_keeps_the_query_in_page_links(viewer_client, synced,
                                                                  monkeypatch):
    monkeypatch.setattr("content.views.library.PAGE_SIZE", 2)
    response = viewer_client.get(reverse("song_list"), {"q": "onyxite", "sort": "name"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<strong>4</strong> songs" in page and "page 1 of 2" in page
    assert "?q=onyxite&amp;sort=name&amp;page=2" in page
    second = viewer_client.get(reverse("song_list"), {"q": "onyxite", "sort": "name", "page": 2})
    assert second.context["page"].number == 2
    shown = [s.display_name for s in response.context["songs"] + second.context["songs"]]
    assert shown == ["Kong", "Majestic Dance", "Shofukan", "XYG"]


def test_the_list_page_shows_rich_text_names_without_tags(viewer_client, synced):
    page = viewer_client.get(reverse("song_list"), {"q": "crimson"}).content.decode()
    assert "Crimson Tide" in page and "Tagged Band" in page
    assert "color=" not in page and "&lt;b&gt;" not in page


def test_the_list_page_ignores_bad_filter_values(viewer_client, synced):
    response = viewer_client.get(reverse("song_list"), {"year_from": "abc", "sort": "nope",
                                                        "instrument": "banjo"})
    assert response.status_code == 200
    assert len(response.context["songs"]) == 7


def test_an_empty_search_says_so(viewer_client, synced):
    page = viewer_client.get(reverse("song_list"), {"q": "zzzqqqxxx"}).content.decode()
    assert "No songs match" in page


@pytest.mark.parametrize("params, budget", [
    ({}, 6),
    ({"q": "onyxite"}, 6),
    ({"q": "dance majestic", "instrument": "drums", "difficulty": "expert", "issues": "yes",
      "genre": "fusion", "year_from": 1900, "year_to": 2030, "sort": "-year"}, 6),
    ({"q": "shofukon"}, 8),  # nothing matched: the close spelling is looked up and searched
])
def test_the_list_page_query_count_does_not_grow_with_songs(viewer_client, synced,
                                                           django_assert_max_num_queries,
                                                           params, budget):
    viewer_client.get(reverse("song_list"))  # warm the genre cache
    # session + user + 2 permission lookups (the nav's Upload link) + count + page; with a
    # query, the ids of the first 1,001 matches (count, pages) + the page's rows; never one
    # per song.
    with django_assert_max_num_queries(budget):
        response = viewer_client.get(reverse("song_list"), params)
    assert response.status_code == 200
