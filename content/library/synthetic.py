"""Synthetic songs for load tests: realistic rows, made fast, marked and removable.

Every synthetic song lives under ``SYNTHETIC_PREFIX`` (a path no real library uses, so a sync
or an import never meets one) with the rows the song list, search and song page read: the
song (song.ini columns, chart summary, sections), its files, chart tracks and issues, and the
search-word table. Texts are pseudo-words drawn with a Zipf-like frequency from a fixed
vocabulary (reliability.md §4.2), so a few words match most songs, some match hundreds and
most match a handful, as real titles do. The same ``seed`` always gives the same library.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import random
import time
from dataclasses import dataclass

from django.db import connection, transaction

from content.models import ChartTrack, Song, SongFile, SongIssue

from .searchwords import search_words_refresh

SYNTHETIC_PREFIX = "Synthetic/"
VOCABULARY_SIZE = 20_000
ZIPF_EXPONENT = 1.05
_BATCH = 5_000

_SYLLABLES = ("ka", "lo", "mi", "ren", "tu", "sha", "vor", "el", "din", "qua", "zo", "pin",
              "bra", "nox", "ti", "gal", "hum", "seo", "wy", "fa")
_GENRES = ("Rock", "Metal", "Pop", "Punk", "Alternative", "Indie", "Prog", "Jazz", "Electronic",
           "Hardcore", "Funk", "Country", "Blues", "Ska", "J-Rock", "Pop Punk")
# (instrument, share of songs charting it): guitar nearly always, the rest less often.
_INSTRUMENTS = (("guitar", 0.98), ("bass", 0.7), ("drums", 0.6), ("rhythm", 0.1), ("keys", 0.15),
                ("guitarghl", 0.05))
_DIFFICULTIES = ("expert", "hard", "medium", "easy")
_ISSUES = (("noAudio", "No audio files were found"),
           ("noSections", "This chart has no sections"),
           ("noStarPower", "This track has no star power"),
           ("smallLeadingSilence", "The chart starts within 2 s of the audio"),
           ("difficultyNotReduced", "This difficulty is the same as the one above it"),
           ("brokenNote", "This note is very close to another note"),
           ("badSustainGap", "The gap after this sustain is too short"))
_SECTIONS = ("Intro", "Verse 1", "Pre-Chorus", "Chorus 1", "Verse 2", "Chorus 2", "Bridge",
             "Solo", "Chorus 3", "Outro")
_AUDIO = ("song.ogg", "guitar.ogg", "bass.ogg", "drums.ogg", "vocals.ogg", "preview.ogg")


def vocabulary(seed: int = 0) -> list[str]:
    """The ``VOCABULARY_SIZE`` distinct pseudo-words (2–4 syllables), most frequent first."""
    rng = random.Random(f"vocabulary-{seed}")
    words: dict[str, None] = {}
    while len(words) < VOCABULARY_SIZE:
        words["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def word_cum_weights() -> list[float]:
    """Cumulative draw weight of each vocabulary rank (Zipf), for ``random.choices``'s
    ``cum_weights`` (plain weights would be summed again on every draw)."""
    return list(itertools.accumulate(1 / (rank + 1) ** ZIPF_EXPONENT
                                     for rank in range(VOCABULARY_SIZE)))


@dataclass(frozen=True, slots=True)
class SeedResult:
    created: int
    files: int
    tracks: int
    issues: int
    seconds: float


class RealSongsPresent(Exception):
    """The database holds songs that are not synthetic (see ``synthetic_seed``)."""


def real_song_count() -> int:
    """Songs in the database outside ``SYNTHETIC_PREFIX``."""
    return Song.objects.exclude(path__startswith=SYNTHETIC_PREFIX).count()


def synthetic_seed(*, count: int, seed: int = 0, force: bool = False) -> SeedResult:
    """Add ``count`` synthetic songs (numbered after those already there) with their files,
    tracks and issues, then refresh the search-word table. Songs go in with ``bulk_create``
    in batches of 5,000 and their child rows with PostgreSQL ``COPY`` (about 40 s for 50,000
    songs and their 870,000 child rows on a 2-core machine); other databases get ``INSERT``s.

    Raises RealSongsPresent when the database holds real songs and ``force`` is false:
    synthetic songs would fill a real library's search results, and its next sync would
    either mark them removed or stop at the mass-removal guard, since none of their folders
    exist. Raises ValueError for a negative ``count``. One transaction: on any error nothing
    is added.
    """
    if count < 0:
        raise ValueError(f"count must be 0 or more, not {count}")
    real = real_song_count()
    if real and not force:
        raise RealSongsPresent(
            f"the database {connection.settings_dict['NAME']!r} holds {real} real songs; "
            "synthetic songs are for a load-test database (use --force to add them anyway)")
    started = time.perf_counter()
    words = vocabulary(seed)
    weights = word_cum_weights()
    first = Song.objects.filter(path__startswith=SYNTHETIC_PREFIX).count()
    rng = random.Random(f"songs-{seed}-{first}")
    artists = [" ".join(rng.choices(words, cum_weights=weights, k=rng.randint(1, 3))).title()
               for _ in range(max(1, count // 8))]
    charters = [f"{rng.choice(words).title()}{rng.randint(1, 99)}" for _ in range(2_000)]
    totals = {"files": 0, "tracks": 0, "issues": 0}
    with transaction.atomic():
        for start in range(first, first + count, _BATCH):
            batch = [_song(rng, words, weights, artists, charters, n)
                     for n in range(start, min(start + _BATCH, first + count))]
            songs = Song.objects.bulk_create([song for song, _ in batch])
            children = [(song.pk, rows) for song, (_, rows) in zip(songs, batch, strict=True)]
            for table, rows in _child_rows(children).items():
                totals[table] += _insert(table, rows)
        search_words_refresh()
    if connection.vendor == "postgresql":
        # Fresh statistics for the planner and a visibility map for index-only scans (a
        # count over the song list): what autovacuum gives a library that has settled.
        # VACUUM cannot run inside a transaction, so a caller's transaction gets ANALYZE only.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for table in ("content_song", "content_songfile", "content_charttrack",
                          "content_songissue", "content_searchword"):
                cursor.execute(f"{command} {table}")
    return SeedResult(count, totals["files"], totals["tracks"], totals["issues"],
                      time.perf_counter() - started)


def synthetic_delete() -> int:
    """Delete every synthetic song and its rows; refresh the search-word table. Returns the
    number of songs deleted."""
    synthetic = Song.objects.filter(path__startswith=SYNTHETIC_PREFIX)
    with transaction.atomic():
        # Children first, each in one DELETE, so the song delete has nothing left to collect.
        for model in (SongFile, ChartTrack, SongIssue):
            model.objects.filter(song__in=synthetic).delete()
        deleted = synthetic.count()
        synthetic.delete()
        search_words_refresh()
    return deleted


@dataclass(frozen=True, slots=True)
class _Children:
    files: list[tuple[str, int]]
    tracks: list[tuple]
    issues: list[tuple]


def _song(rng: random.Random, words: list[str], weights: list[float], artists: list[str],
          charters: list[str], n: int) -> tuple[Song, _Children]:
    def phrase(k: int) -> str:
        return " ".join(rng.choices(words, cum_weights=weights, k=k)).title()

    name, artist = phrase(rng.choices((1, 2, 3, 4), (3, 4, 2, 1))[0]), rng.choice(artists)
    year = rng.randint(1960, 2025)
    length_ms = rng.randint(90_000, 420_000)
    instruments = [i for i, share in _INSTRUMENTS if rng.random() < share] or ["guitar"]
    song = Song(path=f"{SYNTHETIC_PREFIX}{artist}/{name} [{n}]")
    ini = [("name", name), ("artist", artist), ("album", phrase(rng.randint(1, 3))),
           ("genre", rng.choice(_GENRES)), ("year", str(year)), ("charter", rng.choice(charters)),
           ("song_length", str(length_ms)), ("preview_start_time", str(length_ms // 3)),
           ("diff_band", str(rng.randint(0, 6)))]
    ini += [(f"diff_{i}", str(rng.randint(0, 6))) for i in instruments]
    if "drums" in instruments and rng.random() < 0.5:
        ini.append(("pro_drums", "True"))
    song.apply_ini(ini)
    digest = hashlib.md5(song.path.encode()).hexdigest()
    is_mid = rng.random() < 0.6
    audio = ["song.ogg"] + [f"{i}.ogg" for i in instruments if f"{i}.ogg" in _AUDIO]
    if rng.random() < 0.3:
        audio.append("preview.ogg")
    files = [("song.ini", rng.randint(200, 900)),
             ("notes.mid" if is_mid else "notes.chart", rng.randint(20_000, 400_000)),
             ("album.png", rng.randint(50_000, 900_000))]
    files += [(name, rng.randint(1_000_000, 9_000_000)) for name in audio]
    tracks = []
    for instrument in instruments:
        notes = rng.randint(400, 2_500)
        for difficulty in _DIFFICULTIES:
            tracks.append((instrument, difficulty, notes,
                           round(notes / (length_ms / 1000) * 2.5, 2),
                           rng.randint(4, 12), rng.randint(0, 3), rng.random() < 0.3,
                           rng.random() < 0.1, rng.random() < 0.2))
            notes = int(notes * rng.uniform(0.55, 0.8))
    issues = []
    if rng.random() < 0.25:
        for issue_type, message in rng.sample(_ISSUES, rng.randint(1, 3)):
            issues.append((issue_type, message, rng.choice(instruments), "expert",
                           round(rng.uniform(0, length_ms), 1)))
    song.ini_name = "song.ini"
    song.size_bytes = sum(size for _, size in files)
    song.fingerprint = digest
    song.chart_name = files[1][0]
    song.chart_md5 = digest
    song.chart_hash = hashlib.blake2b(song.path.encode(), digest_size=32).hexdigest()
    song.resolution = 480 if is_mid else 192
    song.chart_length_ms = length_ms - rng.randint(0, 5_000)
    song.tempo_count = rng.randint(1, 40)
    song.time_signature_count = rng.randint(1, 6)
    song.star_power_count = rng.randint(4, 12)
    step = length_ms // len(_SECTIONS)
    song.sections = [[i * step, title] for i, title in enumerate(_SECTIONS)]
    song.instruments = instruments
    song.album_art = "album.png"
    song.audio_files = audio
    song.issue_count = len(issues)
    return song, _Children(files, tracks, issues)


def _child_rows(children: list[tuple[int, _Children]]) -> dict[str, list[tuple]]:
    return {
        "files": [(pk, name, size, 1_700_000_000.0, "") for pk, c in children
                  for name, size in c.files],
        "tracks": [(pk, *track) for pk, c in children for track in c.tracks],
        "issues": [(pk, *issue) for pk, c in children for issue in c.issues],
    }


_TABLES = {
    "files": ("content_songfile", ("song_id", "name", "size", "mtime", "etag")),
    "tracks": ("content_charttrack", ("song_id", "instrument", "difficulty", "note_count",
                                      "max_nps", "star_power_count", "solo_count", "has_forced",
                                      "has_tap", "has_open")),
    "issues": ("content_songissue", ("song_id", "type", "message", "instrument", "difficulty",
                                     "time_ms")),
}


def _insert(kind: str, rows: list[tuple]) -> int:
    """Insert child rows: ``COPY`` on PostgreSQL (ten times faster than ``INSERT`` batches),
    ``executemany`` elsewhere."""
    table, columns = _TABLES[kind]
    if not rows:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.cursor.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)",
                _csv(rows))
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))})", rows)
    return len(rows)


def _csv(rows: list[tuple]) -> io.StringIO:
    buffer = io.StringIO()
    # Every value quoted, None not: in COPY csv an unquoted empty field is NULL.
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_NOTNULL).writerows(
        ["t" if value is True else "f" if value is False else value for value in row]
        for row in rows)
    buffer.seek(0)
    return buffer
