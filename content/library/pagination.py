"""Pages of a large song list that cost the same on page 1 and page 1,000.

Two costs grow with the library under Django's plain ``Paginator`` (bench/bench_load.py,
50,000 songs):

* a deep page: ``OFFSET 25000`` made PostgreSQL sort every present song to return 50 of
  them (0.12–0.18 s). Past the first pages, the page's ids are read first, which the partial
  index ``song_present_artist_name_id`` answers by an index-only scan (5 ms), then its rows;
* the exact count of a broad search: every match is read and re-checked (85 ms for a word in
  half the songs). A count past ``count_cap`` stops there and says so (reliability.md §4.3).
"""
from __future__ import annotations

from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet


class SongPaginator(Paginator):
    """A ``Paginator`` over an ordered queryset that reads a deep page's ids before its rows
    and, with ``count_cap``, counts at most that many matches.

    count_cap: None for an exact count; otherwise ``count`` is at most ``count_cap`` (pages
    past it do not exist, as with any page past the end) and ``count_capped`` tells the page
    to say "more than". Ordering must end in a unique column (every ``SORTS`` order ends in
    ``id``), so a page's rows are the same whichever way they are read.
    """

    # Offsets below this read the page in one query: the rows before it cost less than a
    # second round trip.
    LATE_ROWS_FROM = 1_000

    def __init__(self, object_list: QuerySet, per_page: int, *, count_cap: int | None = None):
        super().__init__(object_list, per_page)
        self.count_cap = count_cap

    @cached_property
    def _matches(self) -> int:
        if self.count_cap is None:
            return self.object_list.count()
        # COUNT(*) over a LIMIT subquery without the ordering, so PostgreSQL stops after
        # count_cap + 1 matches instead of sorting them all first.
        return self.object_list.order_by().values("pk")[: self.count_cap + 1].count()

    @cached_property
    def count(self) -> int:
        return self._matches if self.count_cap is None else min(self._matches, self.count_cap)

    @property
    def count_capped(self) -> bool:
        """Whether more songs match than ``count`` says."""
        return self.count_cap is not None and self._matches > self.count_cap

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom < self.LATE_ROWS_FROM:
            return super().page(number)
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=ids).order_by()}
        return self._get_page([rows[pk] for pk in ids if pk in rows], number, self)
