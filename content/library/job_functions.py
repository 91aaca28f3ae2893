"""The import, sync and upload jobs (``jobs.JOB_FUNCTIONS``): the same services
``import_songs`` and ``sync_library`` call, and the file browser's uploads to the library
storage (Nextcloud), run by a task worker. Called as ``function(arguments=dict,
progress=callable)``; they return the JSON result kept on the Job."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from content.library.imports import songs_import
from content.library.jobs import JobFailed, Progress, scratch_path
from content.library.locks import LockBusy
from content.library.sync import SyncAborted, library_sync
from content.storage import library_storage
from content.storage.base import Entry, Storage, StorageError, join, staging_name

DOWNLOAD_CHUNK = 256 * 1024


def import_job(*, arguments: dict, progress: Progress) -> dict:
    """Import the uploads staged in ``arguments["scratch"]`` (one numbered subfolder per
    uploaded file, in upload order), or the library storage's folder ``arguments["folder"]``
    (the file browser's "import this folder"; downloaded first, at most
    IMPORT_MAX_TOTAL_BYTES).

    Returns ``{"results": [{source, status, reason, song_path, song_id}, ...], "counts":
    {imported, duplicate, rejected}, "song_id": the one imported song's id or None}``. Bad
    archives are results with status "rejected", never a failed job. Raises JobFailed when
    the folder cannot be read, is too large or cannot be copied to the scratch folder, and
    when the scratch folder or the library ran out of space (the message names the file; the
    input stays for a retry).
    """
    storage = library_storage()
    if "folder" in arguments:
        with tempfile.TemporaryDirectory(dir=_scratch_root(), prefix=staging_name()) as temporary:
            name = arguments["folder"].rstrip("/").rsplit("/", 1)[-1]
            local = Path(temporary) / name
            _download_tree(storage, arguments["folder"], local, progress)
            report = songs_import(sources=[local], storage=storage, label=name,
                                  progress=progress)
    else:
        folder = scratch_path(arguments["scratch"])
        numbered = sorted((p for p in folder.iterdir() if p.name.isdigit()),
                          key=lambda p: int(p.name))
        sources = [next(p.iterdir()) for p in numbered]
        report = songs_import(sources=sources, storage=storage, progress=progress)
    if report.stopped:
        raise JobFailed(f"The import stopped, out of disk space: {report.stopped}. Songs "
                        f"imported before it ({report.count('imported')}) stay in the library; "
                        "nothing of the rest was kept. Free some space, then retry the job.")
    results = [{"source": r.source, "status": r.status, "reason": r.reason,
                "song_path": r.song_path, "song_id": r.song_id} for r in report.results]
    imported = [r["song_id"] for r in results if r["status"] == "imported"]
    return {"results": results,
            "counts": {s: report.count(s) for s in ("imported", "duplicate", "rejected")},
            "song_id": imported[0] if len(imported) == 1 else None}


def _scratch_root() -> Path:
    root = Path(settings.SCRATCH_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _download_tree(storage: Storage, path: str, target: Path, progress: Progress) -> None:
    """Copy the storage folder ``path`` to ``target`` (streamed; hidden entries skipped),
    refusing more than IMPORT_MAX_TOTAL_BYTES in all before downloading anything."""
    files: list[Entry] = []
    pending = [path]
    try:
        while pending:
            folder = pending.pop()
            for entry in storage.list(folder):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir:
                    pending.append(entry.path)
                else:
                    files.append(entry)
        total, limit = sum(e.size for e in files), settings.IMPORT_MAX_TOTAL_BYTES
        if total > limit:
            raise JobFailed(f"{path}: {total} bytes is more than the import limit of {limit} "
                            "bytes (IMPORT_MAX_TOTAL_BYTES).")
        for number, entry in enumerate(files):
            progress(number, len(files), f"downloading {entry.path}")
            local = target / entry.path[len(path):].lstrip("/")
            try:
                local.parent.mkdir(parents=True, exist_ok=True)
                with storage.open(entry.path) as stream, local.open("wb") as out:
                    shutil.copyfileobj(stream, out, DOWNLOAD_CHUNK)
            except OSError as error:  # our side: the scratch folder (full, most likely)
                raise JobFailed(f"{path} was not imported: {entry.path} could not be copied to "
                                f"the scratch folder {settings.SCRATCH_ROOT}: "
                                f"{error.strerror or error}") from None
    except StorageError as error:
        raise JobFailed(f"{path} was not imported: {error}") from None


def upload_job(*, arguments: dict, progress: Progress) -> dict:
    """Write the files staged in ``arguments["scratch"]`` (one numbered subfolder per file, in
    upload order) into the storage folder ``arguments["folder"]``, replacing files of the same
    name. Returns ``{"folder": folder, "uploaded": [names]}``; raises JobFailed naming the
    file the storage refused (the files before it stay uploaded)."""
    storage = library_storage()
    folder = arguments["folder"]
    staged = scratch_path(arguments["scratch"])
    files = [next(p.iterdir()) for p in sorted(
        (p for p in staged.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))]
    uploaded = []
    for number, file in enumerate(files):
        progress(number, len(files), f"uploading {file.name}")
        try:
            with file.open("rb") as stream:
                storage.write(join(folder, file.name), stream)
        except StorageError as error:
            raise JobFailed(f"{file.name} was not uploaded: {error}") from None
        uploaded.append(file.name)
    return {"folder": folder, "uploaded": uploaded}


def sync_job(*, arguments: dict, progress: Progress) -> dict:
    """One ``library_sync`` with ``arguments`` ``full``, ``dry_run`` and ``confirm_removals``
    (booleans, default False). Returns the SyncRun's counts; raises JobFailed when another
    sync holds the lock, the sync refused a mass removal or the storage cannot be read."""
    storage = library_storage()
    try:
        run = library_sync(storage=storage, full=bool(arguments.get("full")),
                           dry_run=bool(arguments.get("dry_run")),
                           confirm_removals=bool(arguments.get("confirm_removals")),
                           progress=progress)
    except LockBusy as error:
        raise JobFailed(f"Not started: {error}") from None
    except (SyncAborted, StorageError) as error:
        raise JobFailed(f"The sync stopped: {error}") from None
    counts = {name: getattr(run, name) for name in (
        "added", "updated", "moved", "removed", "unchanged", "issues", "errors", "requests",
        "bytes_downloaded")}
    return {"storage": storage.describe(), "sync_run": run.pk, "seconds": round(run.seconds, 2),
            **counts}
