"""Pages of a large song list that cost the same on page 1 and page 1,000.

Two costs grow with the library under Django's plain ``Paginator`` (bench/bench_load.py,
50,000 songs):

* a deep page: ``OFFSET 25000`` made PostgreSQL sort every present song to return 50 of
  them (0.12–0.18 s). Past the first pages, the page's ids are read first, which the partial
  index ``song_present_artist_name_id`` answers by an index-only scan (5 ms), then its rows;
* a search read its matches three times: whether any matched (the typo fallback), their
  exact count (85 ms for a word in half the songs), and the page. With ``count_cap`` the ids
  of the first ``count_cap`` + 1 matches are read once, in order: they give the count
  (capped, "more than 1,000", as reliability.md §4.3 advises), emptiness, and every page's
  ids; the page's rows are then read by id.
"""
from __future__ import annotations

from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


class SongPaginator(Paginator):
    """A ``Paginator`` over an ordered queryset that reads a page's ids before its rows when
    that is cheaper: on a deep page, and always with ``count_cap``.

    count_cap: None for an exact count; otherwise ``count`` is at most ``count_cap`` (pages
    past it do not exist, as with any page past the end), ``count_capped`` tells the page to
    say "more than", and ``count`` costs one query that also serves every page's ids.
    Ordering must end in a unique column (every ``SORTS`` order ends in ``id``), so a page's
    rows are the same whichever way they are read.
    """

    # Without count_cap, offsets below this read the page in one query: the rows before it
    # cost less than a second round trip.
    LATE_ROWS_FROM = 1_000

    def __init__(self, object_list: QuerySet, per_page: int, *, count_cap: int | None = None):
        super().__init__(object_list, per_page)
        self.count_cap = count_cap

    @cached_property
    def _window(self) -> list[int] | None:
        """With ``count_cap``: the ids of the first ``count_cap`` + 1 rows, in order."""
        if self.count_cap is None:
            return None
        return list(self.object_list.values_list("pk", flat=True)[: self.count_cap + 1])

    @cached_property
    def count(self) -> int:
        if self._window is None:
            return self.object_list.count()
        return min(len(self._window), self.count_cap)

    @property
    def count_capped(self) -> bool:
        """Whether more rows match than ``count`` says."""
        return self._window is not None and len(self._window) > self.count_cap

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        if self._window is not None:
            ids = self._window[bottom:top]
        elif bottom < self.LATE_ROWS_FROM:
            return super().page(number)
        else:
            ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)
