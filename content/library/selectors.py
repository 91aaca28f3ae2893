"""Reads over the song library: search and list, one song's page, the dashboard figures.

Search on PostgreSQL uses the two indexes of migration 0002 (see reliability.md §4.2–4.3):

* full text: ``to_tsvector('simple'::regconfig, search_text) @@ <tsquery>``, spelled exactly
  as the index expression (Django's ``SearchVector`` wraps the column in ``COALESCE``, which
  the planner would not match to the index);
* substring: ``search_text LIKE '%q%'`` on the lower-cased ``search_text`` (trigram GIN), for
  input of three characters or more, since a trigram index cannot serve shorter patterns;
* a typo fallback only when nothing matched at all: unknown words are replaced by their
  closest library word (searchwords.py), and the corrected query is searched as usual.

SQLite (the embedded default) gets a plain case-insensitive contains search per word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.core.cache import cache
from django.db import connection
from django.db.models import (BooleanField, Case, Count, Exists, F, Func, IntegerField, OuterRef,
                              Q, QuerySet, Sum, Value, When)

from content.models import ChartTrack, Song, SongIssue, SyncRun, strip_tags

from .searchwords import search_words_closest

# scan-chart's instrument names (src/chart/note-parsing-interfaces.ts), in the order a
# player thinks of them, with the label the UI shows.
INSTRUMENTS: dict[str, str] = {
    "guitar": "Guitar",
    "bass": "Bass",
    "rhythm": "Rhythm",
    "guitarcoop": "Guitar (co-op)",
    "drums": "Drums",
    "keys": "Keys",
    "guitarghl": "Guitar (GHL)",
    "bassghl": "Bass (GHL)",
    "rhythmghl": "Rhythm (GHL)",
    "guitarcoopghl": "Guitar co-op (GHL)",
}
DIFFICULTIES = ChartTrack.DIFFICULTIES

# The columns the song list shows; everything else stays in the database.
LIST_FIELDS = ("id", "path", "is_sng", "name", "artist", "album", "charter", "genre", "year",
               "year_number", "song_length", "chart_length_ms", "issue_count", "instruments",
               "added_at")

_BY_ARTIST = ("artist", "name", "id")
SORTS: dict[str, tuple[str, tuple]] = {
    # key: (label, ordering)
    "relevance": ("Best match", ()),  # only meaningful with a query; see song_search
    "artist": ("Artist", _BY_ARTIST),
    "name": ("Title", ("name", "artist", "id")),
    "charter": ("Charter", ("charter", *_BY_ARTIST)),
    "year": ("Year (oldest first)", (F("year_number").asc(nulls_last=True), *_BY_ARTIST)),
    "-year": ("Year (newest first)", (F("year_number").desc(nulls_last=True), *_BY_ARTIST)),
    "recent": ("Recently added", ("-added_at", "-id")),
    "length": ("Length (shortest first)", (F("song_length").asc(nulls_last=True), *_BY_ARTIST)),
    "-length": ("Length (longest first)", (F("song_length").desc(nulls_last=True), *_BY_ARTIST)),
}

# Inputs shorter than this never use LIKE '%q%' (the trigram index needs three characters).
MIN_SUBSTRING = 3
_MAX_WORDS = 8
_WORD = re.compile(r"\w+")
_WEBSEARCH_SYNTAX = re.compile(r'"|(?:^|\s)-\w|\bor\b')


class _SimpleTsVector(Func):
    """``to_tsvector('simple'::regconfig, <column>)``: the exact expression of the
    ``song_search_fts`` index, so PostgreSQL can use it."""

    function = "to_tsvector"
    template = "%(function)s('simple'::regconfig, %(expressions)s)"
    output_field = SearchVectorField()


def normalize_query(q: str) -> str:
    """The search input as ``search_text`` stores text: rich-text tags removed, lower case,
    single spaces."""
    return " ".join(strip_tags(q or "").lower().split())


def _tsquery(q: str) -> SearchQuery | None:
    """A full-text query for ``q``: web-search syntax (quotes, ``-word``, ``or``) when the
    user typed it, otherwise every word as a prefix (``abc:*``) so results follow typing."""
    if _WEBSEARCH_SYNTAX.search(q):
        return SearchQuery(q, search_type="websearch", config="simple")
    words = _WORD.findall(q)[:_MAX_WORDS]
    if not words:
        return None
    # \w never matches quotes or tsquery operators, so quoting each word is enough.
    return SearchQuery(" & ".join(f"'{w}':*" for w in words), search_type="raw", config="simple")


def _text_match(qs: QuerySet, q: str) -> QuerySet:
    if connection.vendor != "postgresql":
        for word in q.split()[:_MAX_WORDS]:
            qs = qs.filter(search_text__contains=word)
        return qs
    # A bitmap heap scan rechecks the whole OR on every candidate row, and re-running
    # to_tsvector() per row is the expensive part (~10 µs: 0.2 s for 18k matches), so the
    # cheap LIKE goes first and short-circuits, and one word of three characters or more uses
    # LIKE alone: its prefix matches are all substring matches anyway.
    substring = Q(search_text__contains=q) if len(q) >= MIN_SUBSTRING else None
    tsquery = None if substring is not None and " " not in q else _tsquery(q)
    if tsquery is None:
        return qs.filter(substring) if substring is not None else qs.none()
    qs = qs.alias(_fts=_SimpleTsVector("search_text"))
    return qs.filter(substring | Q(_fts=tsquery) if substring is not None else Q(_fts=tsquery))


def song_search(*, q: str = "", instrument: str | None = None, difficulty: str | None = None,
                has_issues: bool | None = None, genre: str | None = None,
                year_from: int | None = None, year_to: int | None = None,
                sort: str = "artist", include_removed: bool = False,
                typo_fallback: bool = True) -> QuerySet[Song]:
    """Songs matching a search, filtered and sorted, ready to paginate.

    q: free text matched against name, artist, album, charter and genre (tags stripped,
    any case). instrument / difficulty: scan-chart names (``"drums"``, ``"expert"``); either
    alone means "any difficulty" / "any instrument". has_issues: True for songs with at least
    one issue, False for none. genre: exact. year_from / year_to: inclusive bounds
    on the year's number. sort: a key of ``SORTS``; ``"relevance"`` needs ``q`` (without it
    the artist order is used); an unknown key raises ValueError.

    Only songs still in the library unless ``include_removed``. Rows load only
    ``LIST_FIELDS``. When ``q`` matches nothing on PostgreSQL and ``typo_fallback``, the songs
    matching its closest spelling are returned instead (``song_search_corrected``; costs one
    extra ``EXISTS`` query, and one suggestion lookup when falling back). Without
    ``typo_fallback`` no query runs until the result is evaluated: a caller that finds it empty
    can then ask ``song_search_corrected`` itself, saving the ``EXISTS``.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {', '.join(SORTS)}")
    qs = Song.objects.all() if include_removed else Song.objects.present()
    if instrument or difficulty:
        tracks = ChartTrack.objects.filter(song=OuterRef("pk"))
        if instrument:
            tracks = tracks.filter(instrument=instrument)
        if difficulty:
            tracks = tracks.filter(difficulty=difficulty)
        qs = qs.filter(Exists(tracks))
    if has_issues is not None:
        qs = qs.filter(issue_count__gt=0) if has_issues else qs.filter(issue_count=0)
    if genre:
        qs = qs.filter(genre=genre)  # exact, as the filter offers the stored values (indexed)
    if year_from is not None:
        qs = qs.filter(year_number__gte=year_from)
    if year_to is not None:
        qs = qs.filter(year_number__lte=year_to)
    qs = qs.only(*LIST_FIELDS)

    q = normalize_query(q)
    if not q:
        return qs.order_by(*SORTS["artist" if sort == "relevance" else sort][1])

    matched = _text_match(qs, q)
    if typo_fallback and _correctable(q) and not matched.exists():
        corrected = _corrected(qs, q, sort)
        if corrected is not None:
            return corrected
    if sort == "relevance":
        return matched.annotate(rank=_relevance_tier(q)).order_by("rank", *_BY_ARTIST)
    return matched.order_by(*SORTS[sort][1])


def song_search_corrected(*, q: str, sort: str = "artist", **filters) -> QuerySet[Song] | None:
    """The songs matching the closest spelling of ``q``, each with ``fuzzy_match = True``, for
    a search that matched nothing; None when no spelling is close (or not on PostgreSQL, or
    ``q`` is shorter than three characters). Takes ``song_search``'s arguments; one
    suggestion lookup, and no other query until evaluated."""
    qs = song_search(sort="artist", typo_fallback=False, **filters)  # the filters, no text
    return _corrected(qs, normalize_query(q), sort)


def _correctable(q: str) -> bool:
    return connection.vendor == "postgresql" and len(q) >= MIN_SUBSTRING


def _corrected(qs: QuerySet, q: str, sort: str) -> QuerySet[Song] | None:
    if not _correctable(q):
        return None
    # Most likely a typo. Each unknown word is replaced by the closest word of the library (a
    # trigram lookup in the small SearchWord table), and the corrected query runs through the
    # same indexes as any search.
    typed = _WORD.findall(q)[:_MAX_WORDS]
    closest = search_words_closest(typed)
    if not closest:
        return None
    corrected = " ".join(closest.get(word, word) for word in typed)
    return (_text_match(qs, corrected)
            .annotate(fuzzy_match=Value(True, output_field=BooleanField()))
            .order_by(*SORTS["artist" if sort == "relevance" else sort][1]))


def _relevance_tier(q: str) -> Case:
    """0 for an exact title or artist, 1 for a title starting with ``q``, 2 for an artist
    starting with it, 3 for the rest.

    Cheap string tests rather than trigram similarity: ranking by ``word_similarity`` had to
    compute trigrams of every match and took 0.7 s for a common word matching 44k of 50k rows;
    the tiers sort the same rows in ~40 ms. Trigram similarity ranks the typo fallback, where
    matches are few.
    """
    return Case(
        When(Q(search_text__startswith=f"{q} ") | Q(search_text=q), then=Value(0)),
        When(search_text__startswith=q, then=Value(1)),
        When(artist__istartswith=q, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )


def song_detail(*, pk: int) -> Song:
    """One song with its files, tracks and issues prefetched (four queries in all).
    Raises Song.DoesNotExist."""
    return Song.objects.prefetch_related("files", "tracks", "issues").get(pk=pk)


@dataclass(frozen=True, slots=True)
class InstrumentSummary:
    """One instrument's tracks in difficulty order (expert first)."""

    instrument: str
    label: str
    tracks: list[ChartTrack]


def song_chart_summary(*, song: Song) -> list[InstrumentSummary]:
    """The song's chart tracks grouped by instrument, in ``INSTRUMENTS`` order (unknown
    instruments last, by name), difficulties expert → easy. Uses prefetched tracks."""
    order = {name: i for i, name in enumerate(INSTRUMENTS)}
    by_instrument: dict[str, list[ChartTrack]] = {}
    for track in song.tracks.all():
        by_instrument.setdefault(track.instrument, []).append(track)
    rank = {d: i for i, d in enumerate(DIFFICULTIES)}
    return [
        InstrumentSummary(name, INSTRUMENTS.get(name, name),
                          sorted(tracks, key=lambda t: rank.get(t.difficulty, len(rank))))
        for name, tracks in sorted(by_instrument.items(),
                                   key=lambda item: (order.get(item[0], len(order)), item[0]))
    ]


def genre_choices() -> list[str]:
    """Distinct genres of present songs, sorted, cached for five minutes: the list page's
    filter would otherwise cost a DISTINCT over the whole table on every request."""
    genres = cache.get("content:genres")
    if genres is None:
        genres = sorted(
            set(Song.objects.present().exclude(genre="").values_list("genre", flat=True)
                .distinct()),
            key=str.lower)
        cache.set("content:genres", genres, 300)
    return genres


def library_stats() -> dict:
    """The dashboard's figures, in two queries.

    Returns ``{"songs", "charters", "songs_with_issues", "size_bytes", "removed": int,
    "last_sync": SyncRun | None}``; counts cover songs still in the library.
    """
    present = Q(removed_at__isnull=True)
    totals = Song.objects.aggregate(
        songs=Count("id", filter=present),
        charters=Count("charter", distinct=True, filter=present & ~Q(charter="")),
        songs_with_issues=Count("id", filter=present & Q(issue_count__gt=0)),
        size_bytes=Sum("size_bytes", filter=present, default=0),
        removed=Count("id", filter=Q(removed_at__isnull=False)),
    )
    return {**totals, "last_sync": SyncRun.objects.order_by("-started_at").first()}


def recent_songs(*, limit: int = 10) -> QuerySet[Song]:
    """The songs added last (for the dashboard)."""
    return Song.objects.present().only(*LIST_FIELDS).order_by("-added_at", "-id")[:limit]


def issue_type_counts(*, limit: int = 10) -> list[dict]:
    """The most common issue types among present songs: ``[{"type", "count"}]``."""
    return list(
        SongIssue.objects.filter(song__removed_at__isnull=True)
        .values("type").annotate(count=Count("id")).order_by("-count", "type")[:limit])
