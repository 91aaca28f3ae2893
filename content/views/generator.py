"""The Generator page: upload audio (one file, or several stems), start a chart generation job,
go to the job's page.

The request only saves the upload to a staging folder under SCRATCH_ROOT and starts a Job
(content/library/jobs.py); generation and import run in the job. Whether the file really is
audio is the generator's call: a text file named .ogg becomes a failed job whose error names
the file, never a 500 here.
"""
from __future__ import annotations

import shutil
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat

from content.forms import MultipleFileField, MultipleFileInput
from content.library import jobs
from content.library.naming import safe_component
from content.models import Job

from .access import editor_required

# The generator's own lists (content.generator.audio: AUDIO_EXTENSIONS, STEM_NAMES), copied
# because importing the generator costs seconds of numpy/librosa start-up in the web process;
# tests/web/test_generator_page.py checks that they match.
AUDIO_EXTENSIONS = (".ogg", ".opus", ".mp3", ".wav", ".flac")
STEM_NAMES = ("song", "guitar", "rhythm", "bass", "keys", "vocals", "vocals_1", "vocals_2",
              "drums", "drums_1", "drums_2", "drums_3", "drums_4", "crowd", "preview")
STEMS_FOLDER = "stems"


class GeneratorForm(forms.Form):
    """One audio file, or several stems named like Clone Hero's (guitar.ogg, drums.ogg,
    song.ogg ...), at most ``IMPORT_MAX_UPLOAD_BYTES`` together; optional name and artist."""

    audio = MultipleFileField(
        label="Audio", error_messages={"required": "Choose an audio file, or several stems."},
        widget=MultipleFileInput(attrs={"multiple": True, "accept": ",".join(AUDIO_EXTENSIONS)}))
    name = forms.CharField(required=False, max_length=200,
                           help_text="Leave empty to take it from the file's tags.")
    artist = forms.CharField(required=False, max_length=200,
                             help_text="Leave empty to take it from the file's tags.")

    def clean_audio(self):
        files = self.cleaned_data["audio"]
        for upload in files:
            if PurePath(upload.name).suffix.lower() not in AUDIO_EXTENSIONS:
                raise forms.ValidationError(
                    f"{upload.name}: not an audio file the generator takes "
                    f"({', '.join(AUDIO_EXTENSIONS)}).")
        if len(files) > 1:
            seen: dict[str, str] = {}
            for upload in files:
                stem = PurePath(upload.name).stem.lower()
                if stem not in STEM_NAMES:
                    raise forms.ValidationError(
                        f"{upload.name}: several files must be stems named like Clone Hero's "
                        f"({', '.join(STEM_NAMES[:6])} …), e.g. guitar.ogg and song.ogg.")
                if stem in seen:
                    raise forms.ValidationError(
                        f"{seen[stem]} and {upload.name} are the same stem; upload one of them.")
                seen[stem] = upload.name
        total = sum(upload.size for upload in files)
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if total > limit:
            raise forms.ValidationError(
                f"The upload is {filesizeformat(total)}; the limit is {filesizeformat(limit)}.")
        return files


@editor_required
def generator(request):
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if request.method == "POST":
        # Refuse an oversized body before Django reads it to disk.
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 1024 * 1024:
            return HttpResponse(f"The upload is larger than the limit of {limit} bytes.",
                                status=413, content_type="text/plain; charset=utf-8")
        form = GeneratorForm(request.POST, request.FILES)
        if form.is_valid():
            job = _start_job(form.cleaned_data, request.user)
            return redirect(job)
    else:
        form = GeneratorForm()
    return render(request, "content/generator.html", {
        "form": form, "limit": limit, "extensions": AUDIO_EXTENSIONS,
        "recent": Job.objects.filter(kind=Job.Kind.GENERATE).select_related(
            "user", "result_song")[:5],
    })


def _start_job(data: dict, user) -> Job:
    """Save the uploads into a new staging folder and start the generate job on them. The
    folder belongs to the job from then on (the runner removes it when the job ends)."""
    files = data["audio"]
    scratch = jobs.scratch_new(Job.Kind.GENERATE)
    folder = jobs.scratch_path(scratch)
    try:
        if len(files) == 1:
            name = PurePath(files[0].name)
            # The file name stays close to the upload's: it is the song's name when the tags
            # have none, and the error messages name it.
            targets = [folder / (safe_component(name.stem, "audio") + name.suffix.lower())]
            audio = targets[0].name
        else:
            (folder / STEMS_FOLDER).mkdir()
            targets = [folder / STEMS_FOLDER / PurePath(f.name.lower()).name for f in files]
            audio = STEMS_FOLDER
        for upload, target in zip(files, targets, strict=True):
            # Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE are on disk already; copy in chunks.
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
        return jobs.job_start(kind=Job.Kind.GENERATE, user=user, arguments={
            "scratch": scratch, "audio": audio, "label": ", ".join(f.name for f in files),
            "name": data.get("name") or "", "artist": data.get("artist") or "",
        })
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
