"""Uploading archives and .sng files into the library.

The request only saves the uploads to a job's staging folder and starts an import job
(content/library/jobs.py); the browser then follows the job's page, which lists each song
imported, duplicate or rejected. The same files uploaded again while their import is still
queued or running are refused (the job's target is their content hash).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.text import get_valid_filename

from content.forms import UploadForm
from content.library import jobs
from content.models import Job

from .access import editor_required
from .jobs import job_start_from_form


@editor_required
def upload(request):
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            started = job_start_from_form(request, form, lambda: _start_import(
                form.cleaned_data["archives"], request.user))
            if isinstance(started, HttpResponse):
                return started
            status = started
    else:
        form = UploadForm()
    return render(request, "content/upload.html", {
        "form": form, "limit": limit,
        "recent": Job.objects.filter(kind=Job.Kind.IMPORT).select_related("user")[:5],
    }, status=status)


def _start_import(files, user) -> Job:
    """Save ``files`` into a new staging folder, one numbered subfolder per file (the upload's
    name is kept, as the import reports it, even when two share a name), and start the import
    job on them. The folder belongs to the job from then on."""
    scratch = jobs.scratch_new(Job.Kind.IMPORT)
    folder = jobs.scratch_path(scratch)
    try:
        targets = []
        for number, upload in enumerate(files):
            (folder / str(number)).mkdir()
            name = get_valid_filename(Path(upload.name).name) or "upload"
            targets.append((upload, folder / str(number) / name))
        key = jobs.scratch_write(targets)
        return jobs.job_start(kind=Job.Kind.IMPORT, user=user, target=f"import:{key}", arguments={
            "scratch": scratch, "label": ", ".join(upload.name for upload in files)})
    except jobs.JobQueueError:
        raise  # the job is recorded as failed and keeps its input for a retry
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
