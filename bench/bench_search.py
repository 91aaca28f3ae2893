"""Benchmark: song search on a large synthetic library (PostgreSQL).

Creates SONGS synthetic songs with ``seed_songs``'s generator (pseudo-words drawn with a
Zipf-like frequency, as in reliability.md §4.2), then times the song list's queries as the page
runs them (count plus the first page of 50) for a popular word, a rare word, a prefix, two words
and a typo, each against the reference: the unfiltered first page in artist order.

Usage: .venv/bin/python bench/bench_search.py [--songs 50000] [--database-url URL]
"""
from __future__ import annotations

import argparse
import statistics
import time

from benchdb import django_on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/chmanager_bench_search")
    args = parser.parse_args()
    django_on(args.database_url)
    from django.core.paginator import Paginator

    from content.library.searchwords import search_words_refresh
    from content.library.selectors import song_search
    from content.library.synthetic import synthetic_seed, vocabulary

    synthetic_seed(count=args.songs)
    started = time.perf_counter()
    search_words_refresh()
    refresh = time.perf_counter() - started
    words = vocabulary()  # most frequent first: words[0] the commonest, words[-1] a rare one

    popular, rare = words[0], words[-1]
    typo = rare[:2] + rare[3:] if len(rare) > 5 else rare + "x"
    cases = [("reference: first page, no search", {}),
             (f"popular word '{popular}'", {"q": popular}),
             (f"rare word '{rare}'", {"q": rare}),
             (f"prefix '{rare[:4]}'", {"q": rare[:4]}),
             (f"two words '{words[3]} {words[40]}'", {"q": f"{words[3]} {words[40]}"}),
             (f"typo '{typo}' (for '{rare}')", {"q": typo})]

    def page_ms(kwargs) -> list[float]:
        times = []
        for _ in range(args.runs):
            begin = time.perf_counter()
            page = Paginator(song_search(**kwargs), 50).get_page(1)
            list(page.object_list)
            times.append((time.perf_counter() - begin) * 1000)
        return sorted(times)

    print(f"{args.songs} songs, {len(words)} words; suggestion table refresh {refresh:.2f} s")
    print(f"{'query':46} {'p50 ms':>8} {'p95 ms':>8} {'x ref':>6}  matches")
    reference = None
    for label, kwargs in cases:
        times = page_ms(kwargs)
        p50 = statistics.median(times)
        p95 = times[int(len(times) * 0.95) - 1]
        reference = reference or p50
        matches = song_search(**kwargs).count()
        print(f"{label:46} {p50:8.1f} {p95:8.1f} {p50 / reference:6.1f}  {matches}")


if __name__ == "__main__":
    main()
