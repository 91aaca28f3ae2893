"""Song list pages on a library of a few thousand songs: deep pages read ids first, broad
searches count up to a cap ("More than 1,000 songs")."""
from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.urls import reverse

from content.library.pagination import SongPaginator
from content.library.selectors import song_search
from content.library.synthetic import synthetic_seed, vocabulary
from content.views.library import PAGE_SIZE, SEARCH_COUNT_CAP

pytestmark = pytest.mark.django_db


@pytest.fixture
def library():
    synthetic_seed(count=2_500)


def ids(page) -> list[int]:
    return [song.pk for song in page.object_list]


@pytest.mark.parametrize("sort", ["artist", "-year", "recent"])
def test_a_deep_page_holds_the_same_songs_as_an_offset_would(library, sort,
                                                            django_assert_num_queries):
    songs = song_search(sort=sort)
    number = SongPaginator.LATE_ROWS_FROM // PAGE_SIZE + 7
    expected = ids(Paginator(songs, PAGE_SIZE).page(number))
    paginator = SongPaginator(songs, PAGE_SIZE)
    paginator.count  # noqa: B018 - counted apart, to see the page's own queries
    with django_assert_num_queries(2):  # the page's ids, then its rows
        page = paginator.page(number)
    assert ids(page) == expected and len(expected) == PAGE_SIZE
    last = Paginator(songs, PAGE_SIZE).num_pages
    assert ids(paginator.page(last)) == ids(Paginator(songs, PAGE_SIZE).page(last))


def test_the_first_pages_take_one_query(library, django_assert_num_queries):
    paginator = SongPaginator(song_search(), PAGE_SIZE)
    paginator.count  # noqa: B018
    with django_assert_num_queries(1):
        assert len(paginator.page(2).object_list) == PAGE_SIZE


def test_a_broad_search_counts_up_to_the_cap(library):
    word = vocabulary()[0]
    matches = song_search(q=word).count()
    assert matches > SEARCH_COUNT_CAP  # the commonest word is in about half the songs
    paginator = SongPaginator(song_search(q=word), PAGE_SIZE, count_cap=SEARCH_COUNT_CAP)
    assert paginator.count == SEARCH_COUNT_CAP and paginator.count_capped
    assert paginator.num_pages == SEARCH_COUNT_CAP // PAGE_SIZE
    # The shown songs are the first SEARCH_COUNT_CAP in the search's order.
    last = paginator.page(paginator.num_pages)
    assert ids(last) == [s.pk for s in song_search(q=word)[SEARCH_COUNT_CAP - PAGE_SIZE:
                                                           SEARCH_COUNT_CAP]]


def test_a_narrow_search_counts_exactly(library):
    word = next(w for w in vocabulary()[50:] if 10 < song_search(q=w).count() < 200)
    paginator = SongPaginator(song_search(q=word), PAGE_SIZE, count_cap=SEARCH_COUNT_CAP)
    assert paginator.count == song_search(q=word).count() and not paginator.count_capped


def test_the_list_page_says_more_than_for_a_broad_search_and_counts_the_library(
        viewer_client, library):
    word = vocabulary()[0]
    page = viewer_client.get(reverse("song_list"), {"q": word}).content.decode()
    assert "More than 1,000</strong> songs" in page
    assert f"page 1 of {SEARCH_COUNT_CAP // PAGE_SIZE}" in page
    # Past the cap is past the end: the last page is shown, as for any page number too large.
    past = viewer_client.get(reverse("song_list"), {"q": word, "page": 999}).content.decode()
    assert f"page {SEARCH_COUNT_CAP // PAGE_SIZE} of" in past
    everything = viewer_client.get(reverse("song_list"), {"page": 40}).content.decode()
    assert "<strong>2,500</strong> songs" in everything and "page 40 of 50" in everything


def test_a_search_reads_its_matches_once_for_the_count_and_every_page(library,
                                                                      django_assert_num_queries):
    word = vocabulary()[0]
    paginator = SongPaginator(song_search(q=word, sort="relevance", typo_fallback=False),
                              PAGE_SIZE, count_cap=SEARCH_COUNT_CAP)
    with django_assert_num_queries(2):  # the first 1,001 ids, then page 1's rows
        first = paginator.page(1)
    with django_assert_num_queries(1):  # another page: its rows only
        tenth = paginator.page(10)
    expected = [s.pk for s in song_search(q=word, sort="relevance")[:10 * PAGE_SIZE]]
    assert ids(first) == expected[:PAGE_SIZE] and ids(tenth) == expected[-PAGE_SIZE:]


def test_a_typo_lists_the_songs_of_the_closest_spelling(viewer_client, library):
    word = next(w for w in vocabulary()[50:] if len(w) >= 7 and song_search(q=w).exists())
    typo = word[:3] + word[4:]
    assert not song_search(q=typo, typo_fallback=False).exists()
    page = viewer_client.get(reverse("song_list"), {"q": typo}).content.decode()
    assert "showing close spellings" in page
    assert f"<strong>{song_search(q=word).count()}</strong> song" in page
