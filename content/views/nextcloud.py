"""The file browser for the library's storage (Nextcloud, or the local folder), and the
Backgrounds / Colors / Highways pages.

Every path is relative to the library root (``NEXTCLOUD_ROOT`` on Nextcloud), so nothing
outside it can be listed, served, changed or deleted; the root itself and the top-level
content folders are never deleted. Files are served only through ``raw``, behind login: the
Nextcloud credentials never reach the browser. Reading needs a login; changes need an editor
(access.py). ``content/views/files.py`` already holds the song-file stream, hence this module.
"""
from __future__ import annotations

import mimetypes
import re
import shutil
from pathlib import Path
from urllib.parse import quote, urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import http_date
from django.views.decorators.http import require_POST, require_safe
from loguru import logger

from content.library import jobs
from content.models import Job
from content.storage import library_storage
from content.storage.base import STAGING_FOLDER, Entry, NotFound, StorageError, join

from .access import can_edit, editor_required

CHUNK = 256 * 1024
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
               "webp": "image/webp", "gif": "image/gif"}
# Nextcloud refuses these names (reference §1.6); we refuse them before uploading.
_BAD_NAME = re.compile(r'[\x00-\x1f/\\]')
ASSET_KINDS = {  # page → (setting with the folder name, what the page shows)
    "backgrounds": ("NEXTCLOUD_BACKGROUNDS_FOLDER", "Backgrounds", "images"),
    "colors": ("NEXTCLOUD_COLORS_FOLDER", "Colors", "profiles"),
    "highways": ("NEXTCLOUD_HIGHWAYS_FOLDER", "Highways", "images"),
}


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class _MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", _MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(_MultipleFileField, self).clean(item, initial) for item in data]
        return super().clean(data, initial)


class UploadFilesForm(forms.Form):
    files = _MultipleFileField(label="Files")


class FolderForm(forms.Form):
    name = forms.CharField(max_length=200, label="New folder")

    def clean_name(self) -> str:
        return checked_name(self.cleaned_data["name"])


def checked_name(name: str) -> str:
    """A file or folder name safe to create on Nextcloud; raises ValidationError."""
    name = (name or "").strip()
    if not name or name in (".", "..") or name.startswith("."):
        raise forms.ValidationError("Names cannot be empty or start with a dot.")
    if _BAD_NAME.search(name):
        raise forms.ValidationError("Names cannot contain / or \\ or control characters.")
    if name.lower() == ".htaccess" or name.lower().endswith(".part"):
        raise forms.ValidationError("Nextcloud does not accept .htaccess or .part names.")
    return name


def _path(raw: str | None) -> str:
    """The library-relative path from a query parameter; 404 for '.'/'..' tricks."""
    parts = [p for p in (raw or "").replace("\\", "/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise Http404("No such folder")
    return "/".join(parts)


def _protected(path: str) -> bool:
    """The root and the top-level content folders are never deleted from here."""
    top = {settings.SONGS_FOLDER, STAGING_FOLDER, *(getattr(settings, setting, label)
                                                    for setting, label, _ in ASSET_KINDS.values())}
    return path == "" or ("/" not in path and path in top)


def _crumbs(path: str) -> list[tuple[str, str]]:
    crumbs, walked = [("Library", "")], []
    for part in path.split("/") if path else []:
        walked.append(part)
        crumbs.append((part, "/".join(walked)))
    return crumbs


def _browse_url(path: str) -> str:
    return f"{reverse('files_browse')}?{urlencode({'path': path})}" if path else \
        reverse("files_browse")


def _storage_error(request, error: Exception, path: str) -> HttpResponse:
    logger.warning("file browser: {} failed: {}", path or "/", error)
    return render(request, "files/unavailable.html", {"error": error, "path": path}, status=502)


def _visible(entries: list[Entry]) -> list[Entry]:
    return [e for e in entries if not e.name.startswith(".")]


# --- browsing ------------------------------------------------------------------------------

@require_safe
def browse(request):
    """``?path=`` a folder: its folders and files with sizes and dates, and (for editors)
    upload, new folder, delete and "import this folder into the library"."""
    path = _path(request.GET.get("path"))
    storage = library_storage()
    try:
        entries = _visible(storage.list(path))
    except NotFound:
        raise Http404("No such folder in the library") from None
    except StorageError as error:
        return _storage_error(request, error, path)
    folders = [(e, not _protected(e.path)) for e in entries if e.is_dir]
    files = [(e, True) for e in entries if not e.is_dir]
    return render(request, "files/browse.html", {
        "path": path, "crumbs": _crumbs(path), "folders": folders, "files": files,
        "parent": path.rsplit("/", 1)[0] if "/" in path else "", "storage": storage.describe(),
        "can_edit": can_edit(request.user), "upload_form": UploadFilesForm(),
        "folder_form": FolderForm(), "protected": _protected(path),
        "importable": bool(path) and not _under_songs(path),
        "asset_kinds": _asset_links(),
    })


def _under_songs(path: str) -> bool:
    songs = settings.SONGS_FOLDER
    return path == songs or path.startswith(songs + "/")


def _asset_links() -> list[tuple[str, str]]:
    return [(kind, label) for kind, (_, label, _) in ASSET_KINDS.items()]


@require_safe
def raw(request):
    """Stream one file from the library storage (image previews, downloads). Images are shown
    inline; everything else downloads as an attachment, so nothing from a song folder can run
    as a page of this site."""
    path = _path(request.GET.get("path"))
    if not path:
        raise Http404("No such file")
    storage = library_storage()
    try:
        entry = storage.stat(path)
        if entry.is_dir:
            raise Http404("That is a folder")
        stream = storage.open(path)
    except NotFound:
        raise Http404("No such file in the library") from None
    except StorageError as error:
        return HttpResponse(f"The library cannot be read: {error}", status=502,
                            content_type="text/plain; charset=utf-8")

    def chunks():
        with stream:
            while block := stream.read(CHUNK):
                yield block

    response = StreamingHttpResponse(chunks())
    extension = entry.name.rsplit(".", 1)[-1].lower() if "." in entry.name else ""
    inline = IMAGE_TYPES.get(extension)
    response["Content-Type"] = inline or mimetypes.guess_type(entry.name)[0] or \
        "application/octet-stream"
    if not inline and response["Content-Type"].startswith(("text/html", "image/svg",
                                                           "application/xhtml")):
        response["Content-Type"] = "application/octet-stream"
    response["Content-Disposition"] = f"{'inline' if inline else 'attachment'}; " \
                                      f"filename*=UTF-8''{quote(entry.name, safe='')}"
    response["Content-Length"] = str(entry.size)
    response["Last-Modified"] = http_date(entry.mtime)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=60"
    return response


# --- changing ------------------------------------------------------------------------------

@editor_required
@require_POST
def upload(request):
    """Upload files into ``?path=``: the request stages them, an upload job writes them to the
    storage (a large file to Nextcloud takes a while), the browser follows the job."""
    path = _path(request.POST.get("path"))
    form = UploadFilesForm(request.POST, request.FILES)
    back = request.POST.get("next") or _browse_url(path)
    if not form.is_valid():
        messages.error(request, "Choose at least one file to upload.")
        return redirect(back)
    named = []
    for upload in request.FILES.getlist("files"):
        try:
            named.append((upload, checked_name(Path(upload.name).name)))
        except forms.ValidationError as error:
            messages.error(request, f"{upload.name}: {' '.join(error.messages)}")
    if not named:
        return redirect(back)
    try:
        return redirect(_start_upload(path, named, request.user))
    except (jobs.JobRefused, jobs.JobQueueError) as error:
        messages.error(request, str(error))
        return redirect(back)


def _start_upload(path: str, named: list, user) -> Job:
    """Stage ``named`` ((upload, checked name) pairs) in a new staging folder, one numbered
    subfolder each, and start the upload job into ``path``."""
    scratch = jobs.scratch_new(Job.Kind.UPLOAD)
    folder = jobs.scratch_path(scratch)
    try:
        targets = []
        for number, (upload, name) in enumerate(named):
            (folder / str(number)).mkdir()
            targets.append((upload, folder / str(number) / name))
        key = jobs.scratch_write(targets)
        return jobs.job_start(kind=Job.Kind.UPLOAD, user=user, target=f"upload:{path}:{key}",
                              arguments={"scratch": scratch, "folder": path,
                                         "label": f"{', '.join(n for _, n in named)} → /{path}"})
    except jobs.JobQueueError:
        raise  # the job is recorded as failed and keeps its input for a retry
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@editor_required
@require_POST
def mkdir(request):
    path = _path(request.POST.get("path"))
    form = FolderForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("name", ["Invalid name."])))
        return redirect(_browse_url(path))
    target = join(path, form.cleaned_data["name"])
    storage = library_storage()
    try:
        if storage.exists(target):
            messages.error(request, f"{form.cleaned_data['name']} already exists.")
        else:
            storage.mkdir(target)
            messages.success(request, f"Created {form.cleaned_data['name']}.")
    except StorageError as error:
        messages.error(request, f"The folder was not created: {error}")
    return redirect(_browse_url(path))


@editor_required
def delete(request):
    """GET: a confirmation page; POST (with ``confirm``): delete the file or folder."""
    path = _path(request.POST.get("path") if request.method == "POST" else request.GET.get("path"))
    if _protected(path):
        messages.error(request, "The library root and its top-level folders cannot be deleted.")
        return redirect(_browse_url(path))
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    storage = library_storage()
    try:
        entry = storage.stat(path)
    except NotFound:
        raise Http404("No such file or folder") from None
    except StorageError as error:
        return _storage_error(request, error, path)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            storage.delete(path)
        except StorageError as error:
            messages.error(request, f"{entry.name} was not deleted: {error}")
            return redirect(_browse_url(parent))
        note = " Run a sync to update the songs it held." if _under_songs(path) else ""
        messages.success(request, f"Deleted {entry.name}.{note}")
        return redirect(_browse_url(parent))
    return render(request, "files/confirm_delete.html", {
        "entry": entry, "path": path, "crumbs": _crumbs(path), "parent": parent,
        "under_songs": _under_songs(path)})


@editor_required
@require_POST
def import_folder(request):
    """Start an import job for the folder ``path`` (the job downloads it and imports the songs
    in it: checked, published to Songs/<artist>/<name>/, recorded) and show the job."""
    path = _path(request.POST.get("path"))
    if not path or _under_songs(path):
        messages.error(request, "Choose a folder outside the Songs folder to import.")
        return redirect(_browse_url(path))
    try:
        job = jobs.job_start(kind=Job.Kind.IMPORT, user=request.user,
                             target=f"import:folder:{path}",
                             arguments={"folder": path, "label": path.rsplit("/", 1)[-1]})
    except (jobs.JobRefused, jobs.JobQueueError) as error:
        messages.error(request, str(error))
        return redirect(_browse_url(path))
    return redirect(job)


# --- Backgrounds, Colors, Highways ----------------------------------------------------------

def assets(request, kind: str):
    """The Backgrounds / Colors / Highways folder: images previewed, color profiles listed by
    name; editors upload (POST) into it. The folder is created on the first upload."""
    if kind not in ASSET_KINDS:
        raise Http404("No such page")
    setting, label, shows = ASSET_KINDS[kind]
    folder = getattr(settings, setting, label)
    storage = library_storage()
    if request.method == "POST":
        if not can_edit(request.user):
            raise Http404("No such page")
        try:
            storage.mkdir(folder)
        except StorageError as error:
            messages.error(request, f"The {label} folder cannot be created: {error}")
            return redirect("files_assets", kind=kind)
        return upload(request)
    try:
        entries = [e for e in _visible(storage.list(folder)) if not e.is_dir]
    except NotFound:
        entries = []
    except StorageError as error:
        return _storage_error(request, error, folder)
    items = []
    for entry in entries:
        extension = entry.name.rsplit(".", 1)[-1].lower() if "." in entry.name else ""
        items.append({"entry": entry, "image": extension in IMAGE_TYPES,
                      "title": entry.name.rsplit(".", 1)[0] if "." in entry.name else entry.name,
                      "raw": f"{reverse('files_raw')}?{urlencode({'path': entry.path})}"})
    return render(request, "files/assets.html", {
        "kind": kind, "label": label, "folder": folder, "shows": shows, "items": items,
        "can_edit": can_edit(request.user), "upload_form": UploadFilesForm(),
        "asset_kinds": _asset_links(),
        "accept": ".ini,.txt" if kind == "colors" else ".png,.jpg,.jpeg,.webp,.gif",
    })
