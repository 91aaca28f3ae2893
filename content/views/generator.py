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

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

from content.forms import AUDIO_EXTENSIONS, GeneratorForm
from content.library import jobs
from content.library.naming import safe_component
from content.models import Job

from .access import editor_required
from .jobs import job_start_from_form

# Several uploaded stems are staged in this subfolder, which the generator takes as one song.
STEMS_FOLDER = "stems"

@editor_required
def generator(request):
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    status = 200
    if request.method == "POST":
        form = GeneratorForm(request.POST, request.FILES)
        if form.is_valid():
            started = job_start_from_form(request, form, lambda: _start_job(
                form.cleaned_data, request.user))
            if isinstance(started, HttpResponse):
                return started
            status = started
    else:
        form = GeneratorForm()
    return render(request, "content/generator.html", {
        "form": form, "limit": limit, "extensions": AUDIO_EXTENSIONS,
        "max_minutes": f"{settings.GENERATOR_MAX_MINUTES:g}",
        "recent": Job.objects.filter(kind=Job.Kind.GENERATE).select_related(
            "user", "result_song")[:5],
    }, status=status)


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
            targets = [folder / STEMS_FOLDER / PurePath(f.name).name for f in files]
            audio = STEMS_FOLDER
        key = jobs.scratch_write(list(zip(files, targets, strict=True)))
        # The same audio charted twice at once would only make a duplicate.
        return jobs.job_start(kind=Job.Kind.GENERATE, user=user, target=f"generate:{key}",
                              arguments={
            "scratch": scratch, "audio": audio, "label": ", ".join(f.name for f in files),
            "name": data.get("name") or "", "artist": data.get("artist") or "",
        })
    except jobs.JobQueueError:
        raise  # the job is recorded as failed and keeps its input for a retry
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
