"""Prometheus figures for ``/metrics`` (prometheus-client).

Two kinds:
- request latency, counted in the web processes as requests are served
  (``RequestMetricsMiddleware``); under gunicorn each worker writes its share to files in
  ``PROMETHEUS_MULTIPROC_DIR`` (set up in docker/gunicorn.conf.py) and a scrape adds them up;
- figures about the library, jobs and syncs, read from the database at scrape time
  (``DatabaseCollector``), so they are right whichever process or host did the work (workers
  run in other containers, cron runs sync_library in its own process).
"""
from __future__ import annotations

import os
import time
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from content.models import Job, Song, SyncRun

REQUEST_LATENCY = Histogram(
    "chmanager_http_request_duration_seconds",
    "Time from the request reaching Django to the response, by URL name, method and status.",
    ["view", "method", "status"])

# Upper bounds (seconds) of the job-duration buckets: a quick import to an hour-long sync.
JOB_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class RequestMetricsMiddleware:
    """Observes each request's latency in ``REQUEST_LATENCY``. The ``view`` label is the URL
    name (``song_detail``), never the path, so song ids do not multiply the series; requests
    that matched no URL (404s, WhiteNoise's static files) count as ``<unmatched>``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        REQUEST_LATENCY.labels(
            view=match.view_name if match else "<unmatched>", method=request.method,
            status=str(response.status_code),
        ).observe(time.perf_counter() - started)
        return response


class DatabaseCollector:
    """Reads, at each scrape, with four queries:
    ``chmanager_jobs{kind,state}`` (every kind × state, zeros included),
    ``chmanager_job_duration_seconds{kind,state}`` (histogram of finished jobs, started →
    finished), ``chmanager_library_songs`` and ``chmanager_library_bytes`` (songs not marked
    removed), and the last finished non-dry-run sync's ``chmanager_sync_last_duration_seconds``,
    ``_requests``, ``_errors`` and ``_finished_timestamp_seconds`` (absent before any sync)."""

    def collect(self):
        yield self._job_counts()
        yield self._job_durations()
        yield from self._library()
        yield from self._last_sync()

    def _job_counts(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily("chmanager_jobs", "Jobs by kind and state.",
                                   labels=["kind", "state"])
        counts = {(row["kind"], row["state"]): row["n"] for row in
                  Job.objects.order_by().values("kind", "state").annotate(n=Count("id"))}
        kinds = sorted({kind for kind, _ in counts} | set(Job.Kind.values))
        for kind in kinds:
            for state in Job.State.values:
                family.add_metric([kind, state], counts.get((kind, state), 0))
        return family

    def _job_durations(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(
            "chmanager_job_duration_seconds", "Run time of finished jobs, start to end.",
            labels=["kind", "state"])
        duration = ExpressionWrapper(F("finished_at") - F("started_at"),
                                     output_field=DurationField())
        buckets = {f"le_{index}": Count("id", filter=Q(duration__lte=timedelta(seconds=bound)))
                   for index, bound in enumerate(JOB_BUCKETS)}
        rows = (Job.objects.order_by()
                .filter(started_at__isnull=False, finished_at__isnull=False)
                .annotate(duration=duration).values("kind", "state")
                .annotate(n=Count("id"), total=Sum("duration"), **buckets))
        for row in rows:
            family.add_metric(
                [row["kind"], row["state"]],
                buckets=[(str(bound), row[f"le_{index}"])
                         for index, bound in enumerate(JOB_BUCKETS)]
                + [("+Inf", row["n"])],
                sum_value=row["total"].total_seconds() if row["total"] else 0.0)
        return family

    def _library(self):
        present = Song.objects.filter(removed_at__isnull=True).aggregate(
            songs=Count("id"), size=Sum("size_bytes"))
        yield GaugeMetricFamily("chmanager_library_songs", "Songs in the library (not removed).",
                                value=present["songs"])
        yield GaugeMetricFamily("chmanager_library_bytes", "Bytes of the songs in the library.",
                                value=present["size"] or 0)

    def _last_sync(self):
        run = (SyncRun.objects.filter(finished_at__isnull=False, dry_run=False)
               .order_by("-finished_at").first())
        if run is None:
            return
        yield GaugeMetricFamily("chmanager_sync_last_duration_seconds",
                                "Duration of the last sync_library run.", value=run.seconds)
        yield GaugeMetricFamily("chmanager_sync_last_requests",
                                "Storage requests (WebDAV) the last sync made.",
                                value=run.requests)
        yield GaugeMetricFamily("chmanager_sync_last_errors",
                                "Songs the last sync could not read.", value=run.errors)
        yield GaugeMetricFamily("chmanager_sync_last_finished_timestamp_seconds",
                                "When the last sync ended (Unix time).",
                                value=run.finished_at.timestamp())


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of every figure above, and its content type. Under gunicorn
    (``PROMETHEUS_MULTIPROC_DIR`` set) the request figures are the sum over all workers."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector())
    return generate_latest(processes) + generate_latest(database), CONTENT_TYPE_LATEST
