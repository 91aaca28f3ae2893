"""The song library: songs (one per song folder or .sng file), their files, chart summary and
issues, and the record of each sync run.

The library storage is the source of truth; these rows are an index of it that sync_library
keeps current. Rows are never deleted by a sync: a song whose folder disappeared gets
``removed_at``.
"""
from __future__ import annotations

import re
import time

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

RICH_TEXT_TAG = re.compile(r"<[^<>]*>")

# song.ini keys kept as typed, indexed columns (everything else goes to ``ini_extra``).
# Aliases (`frets`, `track`, `star_power_note`, `hopofreq`) stay in ini_extra: the column holds
# the key Clone Hero spells today, which wins when both are present.
TEXT_KEYS = ("name", "artist", "album", "genre", "sub_genre", "year", "charter", "icon",
             "playlist", "sub_playlist", "loading_phrase")
INT_KEYS = ("song_length", "preview_start_time", "album_track", "playlist_track", "delay")
DIFF_KEYS = ("diff_band", "diff_guitar", "diff_guitar_coop", "diff_rhythm", "diff_bass",
             "diff_drums", "diff_drums_real", "diff_keys", "diff_keys_real", "diff_guitarghl",
             "diff_bassghl", "diff_vocals", "diff_vocals_harm", "diff_guitar_real",
             "diff_bass_real")
COLUMN_KEYS = TEXT_KEYS + INT_KEYS + DIFF_KEYS


def strip_tags(text: str) -> str:
    """Remove Unity/TextMeshPro rich-text tags (``<color=#FF0000>``, ``</b>``) for search."""
    return RICH_TEXT_TAG.sub("", text).strip()


def parse_int(raw: str | None) -> int | None:
    """song.ini integer: ``-1`` and anything unparsable mean unset (None)."""
    if raw is None:
        return None
    try:
        value = int(float(raw.strip()))
    except ValueError:
        return None
    return None if value == -1 else value


def parse_year(raw: str) -> int | None:
    """The first 4-digit year in a song.ini year (``.chart`` files often hold ``", 2002"``)."""
    match = re.search(r"\b(\d{4})\b", raw or "")
    return int(match.group(1)) if match else None


class SongQuerySet(models.QuerySet):
    def present(self):
        return self.filter(removed_at__isnull=True)


class Song(models.Model):
    # Where the song lives in the library storage.
    path = models.CharField(max_length=1024, unique=True,
                            help_text="Library-relative path of the song folder or .sng file")
    is_sng = models.BooleanField(default=False)
    fileid = models.CharField(max_length=64, blank=True, db_index=True,
                              help_text="Storage id that survives a move (Nextcloud oc:fileid)")
    fingerprint = models.CharField(max_length=64, blank=True,
                                   help_text="Hash of the folder listing "
                                             "(names, sizes, mtimes/ETags)")
    etag = models.CharField(max_length=128, blank=True)
    ini_name = models.CharField(max_length=255, blank=True)
    ini_etag = models.CharField(max_length=128, blank=True,
                                help_text="ETag of song.ini at the last sync; edits require it")
    size_bytes = models.BigIntegerField(default=0)

    # song.ini, common keys (text kept as written, rich-text tags included, for display).
    name = models.CharField(max_length=512, blank=True, db_index=True)
    artist = models.CharField(max_length=512, blank=True, db_index=True)
    album = models.CharField(max_length=512, blank=True)
    genre = models.CharField(max_length=255, blank=True, db_index=True)
    sub_genre = models.CharField(max_length=255, blank=True)
    year = models.CharField(max_length=64, blank=True)
    year_number = models.IntegerField(null=True, blank=True, db_index=True)
    charter = models.CharField(max_length=512, blank=True, db_index=True)
    icon = models.CharField(max_length=255, blank=True)
    playlist = models.CharField(max_length=512, blank=True)
    sub_playlist = models.CharField(max_length=512, blank=True)
    loading_phrase = models.TextField(blank=True)
    song_length = models.IntegerField(null=True, blank=True, help_text="ms")
    preview_start_time = models.IntegerField(null=True, blank=True, help_text="ms")
    album_track = models.IntegerField(null=True, blank=True)
    playlist_track = models.IntegerField(null=True, blank=True)
    delay = models.IntegerField(null=True, blank=True, help_text="ms")
    diff_band = models.SmallIntegerField(null=True, blank=True)
    diff_guitar = models.SmallIntegerField(null=True, blank=True)
    diff_guitar_coop = models.SmallIntegerField(null=True, blank=True)
    diff_rhythm = models.SmallIntegerField(null=True, blank=True)
    diff_bass = models.SmallIntegerField(null=True, blank=True)
    diff_drums = models.SmallIntegerField(null=True, blank=True)
    diff_drums_real = models.SmallIntegerField(null=True, blank=True)
    diff_keys = models.SmallIntegerField(null=True, blank=True)
    diff_keys_real = models.SmallIntegerField(null=True, blank=True)
    diff_guitarghl = models.SmallIntegerField(null=True, blank=True)
    diff_bassghl = models.SmallIntegerField(null=True, blank=True)
    diff_vocals = models.SmallIntegerField(null=True, blank=True)
    diff_vocals_harm = models.SmallIntegerField(null=True, blank=True)
    diff_guitar_real = models.SmallIntegerField(null=True, blank=True)
    diff_bass_real = models.SmallIntegerField(null=True, blank=True)
    ini_extra = models.JSONField(default=list, blank=True,
                                 help_text="Every other song.ini key as [key, value] pairs, "
                                           "in file order")

    # Lower-cased, tags stripped: name, artist, album, charter, genre.
    search_text = models.TextField(blank=True)

    # Chart summary.
    chart_name = models.CharField(max_length=255, blank=True)
    chart_md5 = models.CharField(max_length=32, blank=True, db_index=True,
                                 help_text="MD5 of the chart file: Clone Hero's setlist identity")
    chart_hash = models.CharField(max_length=64, blank=True, help_text="scan-chart's chartHash")
    resolution = models.IntegerField(null=True, blank=True, help_text="ticks per quarter note")
    chart_length_ms = models.IntegerField(null=True, blank=True)
    tempo_count = models.IntegerField(default=0)
    time_signature_count = models.IntegerField(default=0)
    star_power_count = models.IntegerField(default=0)
    sections = models.JSONField(default=list, blank=True, help_text="[[ms, name], ...]")
    instruments = models.JSONField(default=list, blank=True)
    album_art = models.CharField(max_length=255, blank=True)
    audio_files = models.JSONField(default=list, blank=True)

    issue_count = models.IntegerField(default=0, db_index=True)

    added_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = SongQuerySet.as_manager()

    class Meta:
        ordering = ["artist", "name", "id"]
        # Partial, so the song list's ids come from an index-only scan (content/library/
        # pagination.py): the list shows present songs only.
        indexes = [models.Index(fields=["artist", "name", "id"],
                                name="song_present_artist_name_id",
                                condition=models.Q(removed_at__isnull=True))]

    def __str__(self) -> str:
        return f"{strip_tags(self.artist) or '?'} — {strip_tags(self.name) or self.path}"

    def get_absolute_url(self) -> str:
        return reverse("song_detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        return strip_tags(self.name) or self.path.rsplit("/", 1)[-1]

    def apply_ini(self, items) -> None:
        """Set the song.ini columns and ``ini_extra`` from ``(key, raw value)`` pairs in file
        order. Keys compare case-insensitively, as in Clone Hero; the first occurrence wins."""
        seen: dict[str, str] = {}
        extra = []
        for key, value in items:
            low = key.strip().lower()
            if low in COLUMN_KEYS and low not in seen:
                seen[low] = value
            else:
                extra.append([key, value])
        for key in TEXT_KEYS:
            setattr(self, key, seen.get(key, "").strip())
        for key in INT_KEYS + DIFF_KEYS:
            setattr(self, key, parse_int(seen.get(key)))
        self.year_number = parse_year(self.year)
        self.ini_extra = extra
        self.search_text = " ".join(
            strip_tags(getattr(self, key)).lower()
            for key in ("name", "artist", "album", "charter", "genre") if getattr(self, key))


class SongFile(models.Model):
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    size = models.BigIntegerField(help_text="bytes")
    mtime = models.FloatField(help_text="seconds since the epoch")
    etag = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["song", "name"],
                                               name="songfile_unique_name")]


class ChartTrack(models.Model):
    """One instrument at one difficulty of a song's chart."""

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="tracks")
    instrument = models.CharField(max_length=32)
    difficulty = models.CharField(max_length=8)
    note_count = models.IntegerField()
    max_nps = models.FloatField(help_text="notes per second, scan-chart's maxNps")
    star_power_count = models.IntegerField(default=0)
    solo_count = models.IntegerField(default=0)
    has_forced = models.BooleanField(default=False)
    has_tap = models.BooleanField(default=False)
    has_open = models.BooleanField(default=False)

    DIFFICULTIES = ("expert", "hard", "medium", "easy")

    class Meta:
        indexes = [models.Index(fields=["instrument", "difficulty"], name="track_instr_diff")]


class SongIssue(models.Model):
    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="issues")
    type = models.CharField(max_length=64, db_index=True, help_text="scan-chart's issue name")
    message = models.TextField()
    instrument = models.CharField(max_length=32, blank=True)
    difficulty = models.CharField(max_length=8, blank=True)
    time_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["type", "time_ms"]


class SyncRun(models.Model):
    """One run of sync_library, kept for the dashboard and for cron troubleshooting."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    storage = models.CharField(max_length=512)
    full = models.BooleanField(default=False)
    dry_run = models.BooleanField(default=False)
    added = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    moved = models.IntegerField(default=0)
    removed = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    issues = models.IntegerField(default=0)
    errors = models.IntegerField(default=0)
    requests = models.IntegerField(default=0)
    bytes_downloaded = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]


class LibraryFolder(models.Model):
    """A collection that is not a song, with the ETag seen when its subtree was last synced
    (only used where folder ETags propagate, as on Nextcloud).

    ``data_fingerprint`` is the server's data fingerprint (Nextcloud's ``oc:data-fingerprint``)
    under which ``etag`` was recorded; the sync compares the sync folder's row with the
    server's, because a changed fingerprint means a backup was restored and no stored ETag or
    file id can be trusted any more.
    """

    path = models.CharField(max_length=1024, unique=True)
    etag = models.CharField(max_length=128, blank=True)
    fileid = models.CharField(max_length=64, blank=True)
    data_fingerprint = models.CharField(max_length=128, blank=True, default="")


class Job(models.Model):
    """One piece of long work run outside the web request (content/library/jobs.py runs it).

    ``arguments`` and ``result`` hold JSON only: the job's id is all a django.tasks task gets
    (content/tasks.py). Progress is ``progress_current`` of ``progress_total`` steps with a
    message; ``heartbeat_at`` is refreshed while a worker runs the job, so a job whose worker
    died can be told from a slow one. ``cancel_requested`` is the flag a running job checks
    between steps.
    """

    class Kind(models.TextChoices):
        GENERATE = "generate", "Generate a chart"
        IMPORT = "import", "Import songs"
        SYNC = "sync", "Sync the library"
        UPLOAD = "upload", "Upload files"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED_STATES = (State.DONE, State.FAILED, State.CANCELLED)
    ACTIVE_STATES = (State.QUEUED, State.RUNNING)
    # Progress writes closer together than this (seconds) are skipped: a job may report
    # thousands of steps, and each write is a database round trip.
    PROGRESS_INTERVAL = 0.5

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="jobs",
                             help_text="Who started it (none for cron)")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED,
                             db_index=True)
    progress_current = models.IntegerField(default=0)
    progress_total = models.IntegerField(default=0)
    progress_message = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True,
                                        help_text="Last sign of life from the worker")
    cancel_requested = models.BooleanField(default=False)
    arguments = models.JSONField(default=dict, blank=True,
                                 help_text="What the job works on (JSON only)")
    result_song = models.ForeignKey(Song, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", help_text="The song the job made")
    result = models.JSONField(default=dict, blank=True, help_text="Summary of the outcome")
    error = models.TextField(blank=True)
    target = models.CharField(
        max_length=255, blank=True,
        help_text="What the job works on (sync:library, import:<content hash>, ...); no two "
                  "queued or running jobs share one")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="retries",
                                 help_text="The failed job this one retries")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The database, not a check-then-insert, keeps two syncs (or two imports of the
            # same archive) from both being queued: two web requests may start them at once.
            models.UniqueConstraint(
                fields=["target"], name="job_one_active_per_target",
                condition=models.Q(state__in=["queued", "running"]) & ~models.Q(target="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("job_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in self.FINISHED_STATES

    @property
    def percent(self) -> int:
        """Progress as a whole percentage (100 once done, 0 before the total is known)."""
        if self.state == self.State.DONE:
            return 100
        if self.progress_total <= 0:
            return 0
        return max(0, min(100, round(100 * self.progress_current / self.progress_total)))

    def set_progress(self, current: int, total: int, message: str = "", *,
                     force: bool = False) -> bool:
        """Save progress (``current`` of ``total`` steps, ``message``) and the heartbeat.

        Writes only those columns, with one UPDATE, and at most once per
        ``PROGRESS_INTERVAL`` seconds unless ``force``; the first call always writes.
        Returns True if it wrote. The instance's fields follow the written values.
        """
        now = time.monotonic()
        last = getattr(self, "_progress_written", None)
        if not force and last is not None and now - last < self.PROGRESS_INTERVAL:
            return False
        self._progress_written = now
        self.progress_current, self.progress_total = current, total
        self.progress_message = message[:255]
        self.heartbeat_at = timezone.now()
        Job.objects.filter(pk=self.pk).update(
            progress_current=self.progress_current, progress_total=self.progress_total,
            progress_message=self.progress_message, heartbeat_at=self.heartbeat_at)
        return True

    def beat(self) -> None:
        """Refresh ``heartbeat_at`` only (the worker is alive, no new progress)."""
        self.heartbeat_at = timezone.now()
        Job.objects.filter(pk=self.pk).update(heartbeat_at=self.heartbeat_at)

    def cancel_is_requested(self) -> bool:
        """Whether someone asked to cancel, read fresh from the database."""
        return Job.objects.filter(pk=self.pk, cancel_requested=True).exists()


class SearchWord(models.Model):
    """Every distinct word of the present songs' ``search_text`` (PostgreSQL only): the typo
    fallback looks up close spellings in this small table (trigram index) instead of running
    word similarity over every song (reliability.md §4.2: 0.5 s p99 at 50k songs)."""

    word = models.CharField(max_length=200, primary_key=True)
