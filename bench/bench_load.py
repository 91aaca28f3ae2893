"""Benchmark: the web app under load, as deployed: gunicorn (docker/gunicorn.conf.py, 2 workers)
with the production settings (DEBUG=False behind a TLS proxy) on PostgreSQL holding 50,000
synthetic songs (``seed_songs``), loaded by ``wrk`` from the same machine.

Each page gets ``--duration`` seconds of ``wrk --latency`` with ``--connections`` open
connections, logged in through the login form (the session cookie goes in a header). Pages:
the song list, a search for a word matching a few hundred songs, a search for the commonest
word (most songs match), a typo of the first word (the suggestion fallback), a list page half
way down, and a song page. Reference, in the same run: ``/health`` (the whole middleware stack
and one query, no page).

The database (default ``chm_load``) is kept between runs: it is seeded again only when it does
not hold exactly ``--songs`` synthetic songs. Needs ``wrk`` (``apt-get install wrk``).

Usage: .venv/bin/python bench/bench_load.py [--songs 50000] [--duration 30] [--connections 10]
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchdb import REPO, django_on

PASSWORD = secrets.token_urlsafe(16)
PROXY = {"X-Forwarded-Proto": "https"}  # the TLS proxy in front of gunicorn in production
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=50_000)
    parser.add_argument("--duration", type=int, default=30, help="seconds of wrk per page")
    parser.add_argument("--connections", type=int, default=10, help="wrk's open connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/chm_load")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_load needs wrk: apt-get install -y wrk")
    django_on(args.database_url, flush=False)
    seed_library(args.songs)
    pages = choose_pages()
    with tempfile.TemporaryDirectory(prefix="chm-load-") as scratch:
        env = production_env(args, Path(scratch))
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                       cwd=REPO, env=env, check=True)
        port = env["GUNICORN_BIND"].rsplit(":", 1)[1]
        base = f"http://127.0.0.1:{port}"
        log = (Path(scratch) / "gunicorn.log").open("w")
        server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c",
                                   "docker/gunicorn.conf.py"], cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            wait_until_up(base, server)
            cookie = log_in(base)
            print(f"{args.songs} songs, gunicorn {args.workers} workers x "
                  f"{env['GUNICORN_THREADS']} threads, wrk {args.connections} connections, "
                  f"{args.duration} s per page")
            # cost x ref: /health requests served in the time of one of these (ref req/s over
            # req/s), steadier than latency ratios when other work shares the machine.
            print(f"{'page':44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'cost x ref':>10} "
                  f"{'p99 x ref':>9} {'>2 s':>5}")
            reference = None
            for label, path, expect in pages:
                check_page(base + path, cookie, expect)
                rps, p50, p99, timeouts = wrk(base + path, cookie, args)
                reference = reference or (rps, p99)
                print(f"{label:44} {rps:8.0f} {p50:8.1f} {p99:8.1f} {reference[0] / rps:10.1f} "
                      f"{p99 / reference[1]:9.1f} {timeouts:5}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


def seed_library(count: int) -> None:
    """Make the database hold exactly ``count`` synthetic songs and nothing else."""
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from content.library.synthetic import SYNTHETIC_PREFIX, real_song_count, synthetic_seed
    from content.models import Song

    if real_song_count():
        sys.exit("the load database holds real songs; give --database-url a database of its own")
    have = Song.objects.filter(path__startswith=SYNTHETIC_PREFIX).count()
    if have != count:
        # TRUNCATE, unlike a DELETE, gives the space back: a table bloated by an earlier seed
        # would make every scan slower than on a real library of this size.
        call_command("flush", interactive=False, verbosity=0)
        result = synthetic_seed(count=count)
        print(f"seeded {count} songs in {result.seconds:.1f} s")
    user, _ = User.objects.get_or_create(username="bench")
    user.set_password(PASSWORD)
    user.save()


def choose_pages() -> list[tuple[str, str, str]]:
    """``(label, path, text the page must contain)`` per page, the reference first. Search
    words come from the seeded vocabulary, chosen by how many songs they match."""
    from urllib.parse import urlencode

    from content.library.selectors import song_search
    from content.library.synthetic import SYNTHETIC_PREFIX, vocabulary
    from content.models import Song

    words = vocabulary()
    some, some_count = next((w, n) for w in words[30:] if len(w) >= 6
                            and 200 <= (n := song_search(q=w).count()) <= 600)
    common, common_count = words[0], song_search(q=words[0]).count()
    typo = next(t for i in range(2, len(some) - 1)
                if not Song.objects.filter(search_text__contains=(t := some[:i] + some[i + 1:]))
                .exists())
    song = (Song.objects.filter(path__startswith=SYNTHETIC_PREFIX, issue_count__gt=1)
            .order_by("id").first())
    deep = Song.objects.present().count() // 50 // 2
    return [
        ("reference: /health", "/health", '"status": "ok"'),
        ("song list, first page", "/songs/", "Songs"),
        (f"search '{some}' ({some_count} songs)", "/songs/?" + urlencode({"q": some}), some),
        (f"search '{common}' ({common_count} songs)", "/songs/?" + urlencode({"q": common}),
         common),
        (f"search typo '{typo}' (for '{some}')", "/songs/?" + urlencode({"q": typo}),
         "close spellings"),
        (f"song list, page {deep}", f"/songs/?page={deep}", f"page {deep} of"),
        ("song page", f"/songs/{song.pk}/", "Issues"),
    ]


def production_env(args, scratch: Path) -> dict[str, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ)
    env.update({
        "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1", "TRUST_PROXY_HEADERS": "true",
        "DATABASE_URL": args.database_url, "STATIC_ROOT": str(scratch / "static"),
        "WEB_CONCURRENCY": str(args.workers), "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_THREADS": env.get("GUNICORN_THREADS", "4"), "LOG_LEVEL": "INFO",
    })
    return env


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}; see its log above")
        try:
            if requests.get(f"{base}/health", timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.3)
    sys.exit("gunicorn did not answer /health within 60 s")


def log_in(base: str) -> str:
    """Log in through the login form as a browser behind the proxy would; returns the Cookie
    header value (session and CSRF cookies are Secure, so they are carried by hand)."""
    page = requests.get(f"{base}/accounts/login/", headers=PROXY, timeout=10)
    csrf = page.cookies["csrftoken"]
    response = requests.post(
        f"{base}/accounts/login/", allow_redirects=False, timeout=10,
        headers={**PROXY, "Cookie": f"csrftoken={csrf}",
                 "Origin": base.replace("http:", "https:")},
        data={"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": csrf})
    if response.status_code != 302 or "sessionid" not in response.cookies:
        sys.exit(f"login failed: HTTP {response.status_code}")
    return f"sessionid={response.cookies['sessionid']}"


def check_page(url: str, cookie: str, expect: str) -> None:
    """Fetch the page once (which also warms the workers) and make sure wrk will time the page
    itself, not a redirect to the login page or an error."""
    response = requests.get(url, headers={**PROXY, "Cookie": cookie}, allow_redirects=False,
                            timeout=30)
    if response.status_code != 200 or expect not in response.text:
        sys.exit(f"{url}: HTTP {response.status_code}, {expect!r} not in the page")


def wrk(url: str, cookie: str, args) -> tuple[float, float, float, int]:
    """Requests per second, p50 and p99 latency (ms) of ``url``, and the requests wrk gave up
    on after its 2 s timeout. Exits on any non-2xx answer or connection error."""
    output = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
         "-H", f"Cookie: {cookie}", "-H", "X-Forwarded-Proto: https", url],
        capture_output=True, text=True, check=True).stdout
    errors = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if "Non-2xx" in output or (errors and any(map(int, errors.groups()[:3]))):
        sys.exit(f"wrk saw failed requests on {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50, p99 = (_ms(re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M))
                for p in ("50", "99"))
    return rps, p50, p99, int(errors.group(4)) if errors else 0


def _ms(match: re.Match) -> float:
    return float(match.group(1)) * _UNITS[match.group(2)]


if __name__ == "__main__":
    main()
