"""Editing a song's song.ini."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from content.forms import song_ini_forms
from content.library.editing import SongEditError, SngNotEditable, song_ini_read, song_ini_update
from content.models import Song
from content.storage import library_storage
from content.storage.base import StorageError

from .access import editor_required


@editor_required
def song_edit(request, pk: int):
    song = get_object_or_404(Song, pk=pk)
    if song.removed_at is not None:
        raise Http404("This song is no longer in the library")
    storage = library_storage()
    try:
        ini = song_ini_read(song=song, storage=storage)
    except SngNotEditable as error:
        return render(request, "content/song_edit.html", {"song": song, "refused": str(error)})
    except (SongEditError, StorageError) as error:
        messages.error(request, str(error))
        return redirect(song)

    form, extras = song_ini_forms(ini, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and extras.is_valid():
        changes = {**form.changes(), **extras.changes(ini)}
        try:
            warnings = song_ini_update(song=song, changes=changes, storage=storage)
        except (SongEditError, StorageError, ValueError) as error:
            messages.error(request, str(error))
        else:
            for warning in warnings:
                messages.warning(request, warning)
            if changes:
                messages.success(request, f"Saved {len(changes)} "
                                          f"change{'s' if len(changes) != 1 else ''} "
                                          f"to {song.ini_name}: {', '.join(changes)}.")
            else:
                messages.info(request, "Nothing changed.")
            return redirect(song)
    return render(request, "content/song_edit.html", {
        "song": song, "form": form, "extras": extras, "new_file": not song.ini_name})
