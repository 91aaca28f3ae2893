"""Uploading archives and .sng files into the library.

The view only saves the uploads to a scratch folder and hands them to ``songs_import``; the
import itself is a service call, so moving it to a background job later changes this file
alone. The result is kept in the session and shown after a redirect, so reloading the
result page never uploads again.
"""
from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import get_valid_filename

from content.forms import UploadForm
from content.library.imports import songs_import
from content.storage import library_storage

from .access import editor_required

SESSION_KEY = "upload_results"
KEEP_RESULTS = 5
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@editor_required
def upload(request):
    limit = settings.IMPORT_MAX_UPLOAD_BYTES
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            results = _import_uploads(form.cleaned_data["archives"])
            token = uuid.uuid4().hex
            stored = request.session.get(SESSION_KEY, {})
            stored[token] = results
            request.session[SESSION_KEY] = dict(list(stored.items())[-KEEP_RESULTS:])
            return redirect(f"{reverse('upload')}?result={token}")
    else:
        form = UploadForm()
    token = request.GET.get("result", "")
    results = request.session.get(SESSION_KEY, {}).get(token) if _TOKEN.match(token) else None
    return render(request, "content/upload.html", {
        "form": form, "limit": limit, "results": results,
        "counts": _counts(results) if results is not None else None,
    })


def _import_uploads(files) -> list[dict]:
    """Save ``files`` under SCRATCH_ROOT, import them, return the results as plain dicts
    (the session stores JSON). The scratch folder is always removed."""
    scratch = Path(settings.SCRATCH_ROOT) / f"upload-{uuid.uuid4().hex}"
    sources = []
    try:
        for number, upload in enumerate(files):
            # One folder per file keeps the uploaded name (the import reports it) even when two
            # uploads share a name.
            folder = scratch / str(number)
            folder.mkdir(parents=True)
            target = folder / (get_valid_filename(Path(upload.name).name) or "upload")
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            sources.append(target)
        report = songs_import(sources=sources, storage=library_storage())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [{"source": r.source, "status": r.status, "reason": r.reason,
             "song_path": r.song_path, "song_id": r.song_id} for r in report.results]


def _counts(results: list[dict]) -> dict[str, int]:
    counts = {"imported": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    return counts
