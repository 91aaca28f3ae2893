"""One log line per request: method, path, status and milliseconds (loguru, to stdout).

It replaces gunicorn's access log (off in docker/gunicorn.conf.py) and runserver's request
lines (``django.server`` is raised to WARNING in chmanager.logging), so each request is logged
once, in the same format everywhere.
"""
from __future__ import annotations

import time

from loguru import logger


class RequestLogMiddleware:
    """Logs ``"GET /songs/ 200 12.3ms"`` at INFO once the response is ready. First in
    MIDDLEWARE, so the time covers the whole stack and refused requests (413, 404) are logged
    too. The query string is left out: it may carry search words or tokens."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.info("{} {} {} {:.1f}ms", request.method, request.path, response.status_code,
                    elapsed_ms)
        return response
