"""Docker HEALTHCHECK: exit 0 when ``GET /health`` on this container's gunicorn answers 200.

The check comes from inside the container to 127.0.0.1, a host name production's
ALLOWED_HOSTS need not list, so it sends the first usable ALLOWED_HOSTS entry as the Host
header. ``/health`` is exempt from the HTTPS redirect (chmanager/settings.py).
Environment: ``GUNICORN_BIND`` (its port is used, default 8000), ``ALLOWED_HOSTS``.
"""
from __future__ import annotations

import http.client
import os
import sys


def host_header() -> str:
    """The first ALLOWED_HOSTS entry usable as a Host header ("localhost" if none is)."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip().lstrip(".")  # ".example.org" allows example.org too
        if entry and entry != "*":
            return entry
    return "localhost"


def main() -> int:
    port = int(os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rpartition(":")[2])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=8)
    try:
        connection.request("GET", "/health", headers={"Host": host_header()})
        response = connection.getresponse()
        body = response.read(500).decode("utf-8", "replace")
    except OSError as error:
        print(f"health check: no answer on port {port}: {error}")
        return 1
    if response.status != 200:
        print(f"health check: /health answered {response.status}: {body}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
