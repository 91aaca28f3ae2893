"""Reading the library: dashboard, song list (search, filters, sort, pages), song page."""
from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from content.formats.scan import music_stems
from content.forms import SongFilterForm
from content.library import selectors
from content.library.pagination import SongPaginator
from content.models import DIFF_KEYS, Song
from content.storage.webdav import nextcloud_status

from .access import can_edit

PAGE_SIZE = 50
# A text search counts this many matches at most ("1,000+ songs"); browsing the whole library
# or a filter keeps its exact count, which an index answers.
SEARCH_COUNT_CAP = 1_000


def dashboard(request):
    return render(request, "content/dashboard.html", {
        "stats": selectors.library_stats(),
        "recent": selectors.recent_songs(limit=8),
        "issue_types": selectors.issue_type_counts(limit=8),
        "nextcloud": nextcloud_status(),
    })


def song_list(request):
    form = SongFilterForm(request.GET)
    search = form.search_kwargs()
    text = bool(search["q"].strip())
    cap = SEARCH_COUNT_CAP if text else None
    paginator = SongPaginator(selectors.song_search(**search, typo_fallback=False), PAGE_SIZE,
                              count_cap=cap)
    if text and not paginator.count:
        # Nothing matched, most likely a typo: the songs of the closest spelling, if any.
        corrected = selectors.song_search_corrected(**search)
        if corrected is not None:
            paginator = SongPaginator(corrected, PAGE_SIZE, count_cap=cap)
    page = paginator.get_page(request.GET.get("page"))
    songs = list(page.object_list)
    return render(request, "content/song_list.html", {
        "form": form,
        "page": page,
        "songs": songs,
        "fuzzy": bool(songs) and getattr(songs[0], "fuzzy_match", False),
        "search": search,
        "genres": selectors.genre_choices(),
        "instrument_labels": selectors.INSTRUMENTS,
        "filtered": any(v not in (None, "") for k, v in search.items() if k != "sort"),
    })


def song_detail(request, pk: int):
    try:
        song = selectors.song_detail(pk=pk)
    except Song.DoesNotExist:
        raise Http404("No such song") from None
    files = list(song.files.all())
    return render(request, "content/song_detail.html", {
        "song": song,
        "files": files,
        "summary": selectors.song_chart_summary(song=song),
        "issues": list(song.issues.all()),
        "audio": _player_audio(song, {f.name for f in files}),
        "preview_seconds": (song.preview_start_time or 0) / 1000,
        "can_edit": can_edit(request.user),
        "extra": song.ini_extra,
        "difficulties": [(key.removeprefix("diff_").replace("_", " "), getattr(song, key))
                         for key in DIFF_KEYS if getattr(song, key) is not None],
    })


def _player_audio(song: Song, names: set[str]) -> list[str]:
    """The audio files the page plays, together: ``preview.*`` alone if there is one, else
    every stem heard as the song (``formats.scan.music_stems``: ``song.*`` beside stems is
    the backing track, and Clone Hero plays all of them at once), in the scan's order; []
    without audio (or inside a .sng)."""
    audio = [name for name in song.audio_files if name in names] if not song.is_sng else []
    stems = {name: name.rsplit(".", 1)[0].lower() for name in audio}
    preview = [name for name, stem in stems.items() if stem == "preview"]
    heard = music_stems(stems.values())
    return preview[:1] or [name for name, stem in stems.items() if stem in heard] or audio[:1]
