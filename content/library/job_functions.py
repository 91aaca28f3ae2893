"""The import and sync jobs (``jobs.JOB_FUNCTIONS``): the same services the Upload page and
``sync_library`` call, run by a task worker. Called as ``function(arguments=dict,
progress=callable)``; they return the JSON result kept on the Job."""
from __future__ import annotations

from content.library.imports import songs_import
from content.library.jobs import JobFailed, Progress, scratch_path
from content.library.locks import LockBusy
from content.library.sync import SyncAborted, library_sync
from content.storage import library_storage
from content.storage.base import StorageError


def import_job(*, arguments: dict, progress: Progress) -> dict:
    """Import the uploads staged in ``arguments["scratch"]`` (one numbered subfolder per
    uploaded file, in upload order).

    Returns ``{"results": [{source, status, reason, song_path, song_id}, ...], "counts":
    {imported, duplicate, rejected}, "song_id": the one imported song's id or None}``. Bad
    archives are results with status "rejected", never a failed job.
    """
    folder = scratch_path(arguments["scratch"])
    numbered = sorted((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    sources = [next(p.iterdir()) for p in numbered]
    report = songs_import(sources=sources, storage=library_storage(), progress=progress)
    results = [{"source": r.source, "status": r.status, "reason": r.reason,
                "song_path": r.song_path, "song_id": r.song_id} for r in report.results]
    imported = [r["song_id"] for r in results if r["status"] == "imported"]
    return {"results": results,
            "counts": {s: report.count(s) for s in ("imported", "duplicate", "rejected")},
            "song_id": imported[0] if len(imported) == 1 else None}


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
