"""Jobs: the list, one job's page (its progress bar polls ``job_status`` every second), the
status as JSON, cancelling, retrying a failed job and starting a library sync. Editors only,
like the pages that start jobs."""
from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.views.decorators.http import require_POST

from content.library import jobs
from content.models import Job

from .access import editor_required

PAGE_SIZE = 50


def may_act(user, job: Job) -> bool:
    """Staff may cancel or retry any job; other editors the jobs they started."""
    return user.is_staff or job.user_id == user.pk


def can_cancel(user, job: Job) -> bool:
    return not job.is_finished and may_act(user, job)


def job_start_from_form(request, form, start: Callable[[], Job]) -> HttpResponse | int:
    """Run ``start()`` for a valid upload form (the upload and generator pages): a redirect
    to the new job's page, or the HTTP status to show the form again with: 409 when another
    job holds the same target (the reason added to the form), 503 when the task queue is
    unreachable (the reason as a message)."""
    try:
        return redirect(start())
    except jobs.JobRefused as refused:
        form.add_error(None, str(refused))
        return 409
    except jobs.JobQueueError as error:
        messages.error(request, str(error))
        return 503


def job_payload(job: Job) -> dict:
    """What the job page shows, as JSON: ``state`` (queued, running, done, failed, cancelled),
    ``finished``, ``percent`` (0–100), ``current``/``total`` steps, ``message``, ``error``,
    ``song_url`` and ``song_name`` (the song it made or found, else None), ``result``,
    ``results_html`` (the finished job's result section, else "")."""
    song = job.result_song
    return {
        "id": job.pk, "kind": job.kind, "state": job.state, "state_label": job.get_state_display(),
        "finished": job.is_finished, "cancel_requested": job.cancel_requested,
        "percent": job.percent, "current": job.progress_current, "total": job.progress_total,
        "message": job.progress_message, "error": job.error,
        "song_url": song.get_absolute_url() if song else None,
        "song_name": str(song) if song else None,
        "result": job.result,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        # As the page's template shows them, so the script's updates look the same.
        "started_label": _when(job.started_at), "finished_label": _when(job.finished_at),
        "results_html": render_to_string("content/job_results.html", {"job": job})
        if job.is_finished else "",
    }


def _when(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else "—"


def _job(pk: int) -> Job:
    # A job whose worker died shows as failed on the next look, not as running forever.
    jobs.jobs_fail_stale(pk=pk)
    return get_object_or_404(Job.objects.select_related("user", "result_song"), pk=pk)


@editor_required
def job_list(request):
    jobs.jobs_fail_stale()
    page = Paginator(Job.objects.select_related("user", "result_song"),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "content/job_list.html", {"page": page, "jobs": list(page)})


@editor_required
@require_POST
def sync_start(request):
    """Queue a library sync (the same as ``sync_library --enqueue``) and show its job."""
    try:
        job = jobs.job_start(kind=Job.Kind.SYNC, user=request.user, arguments={},
                             target=jobs.SYNC_TARGET)
    except jobs.JobRefused as refused:
        messages.error(request, str(refused))
        return redirect(refused.job or "job_list")
    except jobs.JobQueueError as error:
        messages.error(request, str(error))
        return redirect("job_list")
    return redirect(job)


@editor_required
def job_detail(request, pk: int):
    job = _job(pk)
    return render(request, "content/job_detail.html", {
        "job": job, "payload": job_payload(job), "can_cancel": can_cancel(request.user, job),
        "may_retry": may_act(request.user, job),
    })


@editor_required
def job_status(request, pk: int):
    response = JsonResponse(job_payload(_job(pk)))
    response["Cache-Control"] = "no-store"
    return response


@editor_required
@require_POST
def job_cancel(request, pk: int):
    job = get_object_or_404(Job, pk=pk)
    if job.is_finished:
        messages.info(request, f"The job had already ended ({job.get_state_display().lower()}).")
        return redirect(job)
    if not can_cancel(request.user, job):
        raise PermissionDenied("Only the person who started this job, or staff, can cancel it.")
    job = jobs.job_cancel(job.pk)
    messages.success(request, "Job cancelled." if job.state == Job.State.CANCELLED else
                     "Cancelling: the job stops at its next step.")
    return redirect(job)


@editor_required
@require_POST
def job_retry(request, pk: int):
    job = get_object_or_404(Job, pk=pk)
    if not may_act(request.user, job):
        raise PermissionDenied("Only the person who started this job, or staff, can retry it.")
    try:
        retry = jobs.job_retry(job.pk, user=request.user)
    except jobs.JobRefused as refused:
        messages.error(request, str(refused))
        return redirect(refused.job or job)
    except jobs.JobQueueError as error:
        messages.error(request, str(error))
        return redirect(job)
    messages.success(request, f"Retrying job #{job.pk} as job #{retry.pk}.")
    return redirect(retry)
