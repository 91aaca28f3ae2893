"""Django admin for the library: songs (search, filters, read-only scan results, actions) and
the sync log. Scan results are written by sync and import only, so they are read-only here."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils import timezone

from content.library.selectors import INSTRUMENTS
from content.library.songs import song_rescan
from content.models import ChartTrack, Job, Song, SongFile, SongIssue, SyncRun
from content.storage import library_storage
from content.storage.base import StorageError


class HasIssuesFilter(admin.SimpleListFilter):
    title = "issues"
    parameter_name = "has_issues"

    def lookups(self, request, model_admin):
        return [("yes", "With issues"), ("no", "Without issues")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(issue_count__gt=0)
        if self.value() == "no":
            return queryset.filter(issue_count=0)
        return queryset


class InstrumentFilter(admin.SimpleListFilter):
    title = "instrument"
    parameter_name = "instrument"

    def lookups(self, request, model_admin):
        return list(INSTRUMENTS.items())

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(Exists(ChartTrack.objects.filter(
                song=OuterRef("pk"), instrument=self.value())))
        return queryset


class PresenceFilter(admin.SimpleListFilter):
    title = "in library"
    parameter_name = "present"

    def lookups(self, request, model_admin):
        return [("yes", "Present"), ("no", "Removed")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(removed_at__isnull=self.value() == "yes")
        return queryset


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SongFileInline(_ReadOnlyInline):
    model = SongFile
    fields = readonly_fields = ("name", "size", "etag")


class ChartTrackInline(_ReadOnlyInline):
    model = ChartTrack
    fields = readonly_fields = ("instrument", "difficulty", "note_count", "max_nps",
                                "star_power_count", "solo_count", "has_forced", "has_tap",
                                "has_open")


class SongIssueInline(_ReadOnlyInline):
    model = SongIssue
    fields = readonly_fields = ("type", "message", "instrument", "difficulty", "time_ms")


@admin.register(Song)
class SongAdmin(admin.ModelAdmin):
    list_display = ("__str__", "charter", "genre", "year", "issue_count", "is_sng", "added_at",
                    "removed_at")
    list_display_links = ("__str__",)
    search_fields = ("name", "artist", "album", "charter")
    list_filter = (PresenceFilter, HasIssuesFilter, InstrumentFilter, "is_sng", "genre")
    list_per_page = 50
    show_full_result_count = False  # an exact count of a filtered 50k table on every page
    ordering = ("artist", "name", "id")
    date_hierarchy = "added_at"
    inlines = (SongFileInline, ChartTrackInline, SongIssueInline)
    actions = ("rescan_selected", "mark_removed", "restore")
    # The song.ini columns mirror the file (edit it on the song page, which writes the file);
    # everything else comes from the scan.
    readonly_fields = [f.name for f in Song._meta.fields if f.name != "id"]
    fieldsets = (
        ("Song", {"fields": ("name", "artist", "album", "genre", "sub_genre", "year", "charter",
                             "icon", "playlist", "sub_playlist", "loading_phrase")}),
        ("Timing", {"fields": ("song_length", "preview_start_time", "delay", "album_track",
                               "playlist_track")}),
        ("Library", {"fields": ("path", "is_sng", "fileid", "fingerprint", "etag", "ini_name",
                                "ini_etag", "size_bytes", "added_at", "updated_at", "scanned_at",
                                "removed_at")}),
        ("Chart", {"classes": ("collapse",), "fields": (
            "chart_name", "chart_md5", "chart_hash", "resolution", "chart_length_ms",
            "tempo_count", "time_signature_count", "star_power_count", "instruments",
            "album_art", "audio_files", "sections", "issue_count")}),
        ("Other song.ini keys", {"classes": ("collapse",), "fields": ("ini_extra",)}),
    )

    def get_queryset(self, request):
        # The change list shows only columns of the row itself: no joins, no N+1.
        return super().get_queryset(request).defer("sections", "ini_extra", "search_text")

    def has_add_permission(self, request):
        return False  # songs come from sync and import

    @admin.action(description="Rescan selected songs from the library", permissions=["change"])
    def rescan_selected(self, request, queryset):
        storage = library_storage()
        done, failed = 0, []
        for song in queryset.iterator(chunk_size=100):
            try:
                song_rescan(song=song, storage=storage)
                done += 1
            except StorageError as error:
                failed.append(f"{song.path}: {error}")
        self.message_user(request, f"Rescanned {done} song{'s' if done != 1 else ''}.",
                          messages.SUCCESS)
        if failed:
            self.message_user(request, "Could not rescan: " + "; ".join(failed[:10]),
                              messages.WARNING)

    @admin.action(description="Mark selected songs removed", permissions=["change"])
    def mark_removed(self, request, queryset):
        count = queryset.filter(removed_at__isnull=True).update(removed_at=timezone.now())
        self.message_user(request, f"Marked {count} song{'s' if count != 1 else ''} removed. "
                                   "The folders were not touched; a sync restores songs still "
                                   "there.")

    @admin.action(description="Restore selected songs", permissions=["change"])
    def restore(self, request, queryset):
        count = queryset.filter(removed_at__isnull=False).update(removed_at=None)
        self.message_user(request, f"Restored {count} song{'s' if count != 1 else ''}.")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the app writes itself (sync runs, jobs): shown, never edited by hand."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "finished_at", "storage", "full", "dry_run", "added", "updated",
                    "moved", "removed", "unchanged", "issues", "errors", "seconds")
    list_filter = ("full", "dry_run")
    date_hierarchy = "started_at"


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "state", "user", "progress_message", "created_at", "finished_at")
    list_filter = ("kind", "state")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
