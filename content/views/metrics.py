"""``/metrics`` for Prometheus, behind a bearer token (``METRICS_TOKEN``)."""
from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from content.metrics import exposition


@login_not_required
@never_cache
@require_safe
def metrics(request):
    """The Prometheus text format (content.metrics.exposition). 404 when ``METRICS_TOKEN`` is
    empty (metrics are off); 401 unless the request carries ``Authorization: Bearer <token>``
    (Prometheus: ``authorization: {credentials: <token>}`` in the scrape config)."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: METRICS_TOKEN is not set.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             token.encode()):
        response = HttpResponse("/metrics needs the header Authorization: Bearer <METRICS_TOKEN>.",
                                status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
