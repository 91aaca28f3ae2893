"""The table of distinct library words that song search suggests close spellings from.

Refreshed in one statement after a sync or an import changed songs (0.9 s on 50,000 songs,
bench/bench_search.py), and added to after a song.ini edit; far cheaper than word similarity
over every row at search time. SQLite has no trigram search, so there it is a no-op.
"""
from __future__ import annotations

from django.db import connection, transaction

MIN_WORD = 3  # shorter words cannot carry a trigram match


@transaction.atomic
def search_words_refresh() -> None:
    """Replace the SearchWord rows with the words of every present song's search_text."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM content_searchword")
        cursor.execute(
            "INSERT INTO content_searchword (word) "
            "SELECT DISTINCT left(w, 200) FROM content_song, "
            r"regexp_split_to_table(search_text, '[^[:alnum:]]+') AS w "
            "WHERE removed_at IS NULL AND length(w) >= %s", [MIN_WORD])


def search_words_add(text: str) -> None:
    """Add the words of one song's search_text (an edit): cheaper than a refresh, and a word
    the edit removed only lingers as a suggestion until the next sync refreshes the table."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO content_searchword (word) SELECT DISTINCT left(w, 200) "
            r"FROM regexp_split_to_table(%s, '[^[:alnum:]]+') AS w WHERE length(w) >= %s "
            "ON CONFLICT DO NOTHING", [text, MIN_WORD])


def search_words_closest(words: list[str]) -> dict[str, str]:
    """For each word that is not in the library, the library word most similar to it by
    trigrams (pg_trgm's ``%`` with its default similarity threshold, 0.3), if any.
    One query, whatever the number of words. Returns ``{typed: suggestion}``."""
    if connection.vendor != "postgresql" or not words:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT q.w, (SELECT s.word FROM content_searchword s WHERE s.word %% q.w "
            "ORDER BY similarity(s.word, q.w) DESC, s.word LIMIT 1) "
            "FROM unnest(%s::text[]) AS q(w) "
            "WHERE NOT EXISTS (SELECT 1 FROM content_searchword e WHERE e.word = q.w)",
            [words])
        return {typed: found for typed, found in cursor.fetchall() if found}
