"""Benchmark: sync_library against the Nextcloud-like WebDAV test server, with rclone as reference.

Builds the 246-song sample library from ../shared/fixtures (song.ini + notes.mid per song, plus
a small song.ogg so folders hold audio as real ones do), copies it under more artists up to
SONGS song folders (Songs/<Artist> (n)/<Title>), serves it with tests/davserver.py in its own
process (Nextcloud mode: propagating folder ETags, oc:fileid), then measures in one run:

  rclone    ``rclone lsjson -R`` of the Songs folder (listing only, Depth 1 per folder, 8 checkers)
  cold      first sync: list, download song.ini and the chart of every song, parse, write rows;
            with the CPU seconds of the sync process, its parse workers and the server, and
            the load average (the machine may be shared: rclone mostly waits, the sync computes)
  warm      second sync of the unchanged library          target: 1 request, < 0.5 s
  one edit  sync after changing one song.ini over WebDAV  target: <= depth + 3 requests
  fresh     the warm sync from a new storage object (a new cron process: + the user-id lookup)
  transport one ``PROPFIND Depth: infinity`` of Songs (WebDavStorage.list_tree) plus the
            song.ini and chart downloads, without parsing: the wire cost of a cold sync

Requests are counted by the storage and, for rclone, by the server. Prints a table.

Usage: .venv/bin/python bench/bench_webdav.py [--songs 5000] [--database-url URL]
The database (default postgres://postgres@127.0.0.1:5432/chmanager_bench_webdav) is created if
missing and emptied before the run. Needs rclone (Debian package ``rclone``).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchdb import django_on, sample_library

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD, ROOT = "alice", "app-pass-1234", "CloneHero"


def build_library(work: Path, home: Path, songs: int) -> tuple[int, int]:
    """Sample songs copied under numbered artists into ``home/CloneHero/Songs``; returns
    (song folders, folders in all)."""
    base = sample_library(work / "base")
    sources = sorted(p.parent for p in base.rglob("song.ini"))
    target = home / ROOT / "Songs"
    audio = os.urandom(8 * 1024)
    made, copy = 0, 0
    while made < songs:
        for source in sources:
            if made >= songs:
                break
            artist = source.parent.name if copy == 0 else f"{source.parent.name} ({copy + 1})"
            folder = target / artist / source.name
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / "notes.mid", folder / "notes.mid")
            shutil.copyfile(source / "song.ini", folder / "song.ini")
            (folder / "song.ogg").write_bytes(audio)
            made += 1
        copy += 1
    folders = sum(1 for p in target.rglob("*") if p.is_dir()) + 1
    return made, folders


def assign_ids(home: Path) -> None:
    # Give every node its fileid and ETag now (the server would on first sight), so neither
    # rclone nor the cold sync pays for that.
    sys.path.insert(0, str(REPO))
    from tests.davserver import NcMeta

    meta = NcMeta(home)
    for folder, dirs, files in os.walk(home):
        for name in [folder] + [os.path.join(folder, f) for f in files]:
            meta.fileid(name)
            meta.etag(name)


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, str(REPO / "tests" / "davserver.py"), str(root),
                                "nc"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, cwd=REPO)
    line = process.stdout.readline()
    match = re.search(r"serving (http://[^/]+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"the test server did not start: {line!r}")
    return process, match.group(1)


def server_requests(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_davserver/counts", timeout=10) as response:
        return json.load(response)["total"]


def cpu_seconds(server: subprocess.Popen) -> dict[str, float]:
    """CPU seconds (user + system) so far of this process, of its finished child processes
    (the sync's parse workers, reaped when the sync ends) and of the server process."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return {"sync": own.ru_utime + own.ru_stime,
            "workers": children.ru_utime + children.ru_stime,
            "server": (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")}


def rclone_listing(url: str) -> tuple[float, int, int]:
    """(seconds, requests, entries) of ``rclone lsjson -R`` of the Songs folder."""
    if not shutil.which("rclone"):
        raise SystemExit("rclone is not installed (apt-get install rclone)")
    obscured = subprocess.run(["rclone", "obscure", PASSWORD], check=True, capture_output=True,
                              text=True).stdout.strip()
    env = {**os.environ, "RCLONE_CONFIG_BENCH_TYPE": "webdav",
           "RCLONE_CONFIG_BENCH_URL": f"{url}/remote.php/dav/files/{USER}",
           "RCLONE_CONFIG_BENCH_VENDOR": "nextcloud", "RCLONE_CONFIG_BENCH_USER": USER,
           "RCLONE_CONFIG_BENCH_PASS": obscured}
    before = server_requests(url)
    started = time.perf_counter()
    done = subprocess.run(["rclone", "lsjson", "-R", "--fast-list=false", f"bench:{ROOT}/Songs"],
                          check=True, capture_output=True, env=env)
    seconds = time.perf_counter() - started
    return seconds, server_requests(url) - before - 1, len(json.loads(done.stdout))


def transport_only(client) -> tuple[str, float, int, str]:
    """What the cold sync costs on the wire alone: one ``PROPFIND Depth: infinity`` of Songs
    (list_tree), then song.ini and the chart of every song folder, concurrently; no parsing."""
    from concurrent.futures import ThreadPoolExecutor

    from content.formats.scan import is_song_folder

    client.user_id()
    before = client.requests_made
    started = time.perf_counter()
    tree = client.list_tree("Songs") or []
    files: dict[str, list[str]] = {}
    for entry in tree:
        if not entry.is_dir:
            files.setdefault(entry.path.rsplit("/", 1)[0], []).append(entry.name)
    wanted = [f"{folder}/{name}" for folder, names in files.items() if is_song_folder(names)
              for name in names if name == "song.ini" or name.startswith("notes.")]
    with ThreadPoolExecutor(max_workers=client.concurrency) as pool:
        got = sum(len(data) for data in pool.map(client.read, wanted))
    return ("cold transport only: list_tree + GETs, no parsing", time.perf_counter() - started,
            client.requests_made - before,
            f"{len(tree)} entries, {len(wanted)} files, {got / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/chmanager_bench_webdav")
    args = parser.parse_args()
    # As in production: DEBUG=True would make Django keep every SQL query in memory.
    os.environ.setdefault("DEBUG", "False")
    os.environ.setdefault("SECRET_KEY", "bench-webdav-only")
    django_on(args.database_url)
    from content.library.sync import library_sync
    from content.storage.webdav import WebDavStorage

    with tempfile.TemporaryDirectory(prefix="bench-webdav-") as tmp:
        root = Path(tmp) / "server"
        home = root / "files" / USER
        print(f"building {args.songs} song folders …", flush=True)
        count, folders = build_library(Path(tmp), home, args.songs)
        assign_ids(home)
        server, url = start_server(root)
        try:
            def storage() -> WebDavStorage:
                return WebDavStorage(url, USER, PASSWORD, ROOT, concurrency=args.concurrency,
                                     timeout=60, retries=3)

            rows = []
            print("rclone lsjson -R …", flush=True)
            best = min((rclone_listing(url) for _ in range(2)), key=lambda r: r[0])
            rows.append(("rclone lsjson -R Songs (reference)", best[0], best[1],
                         f"{best[2]} entries listed"))

            client = storage()
            client.user_id()  # the one-off user-id lookup, outside the timed runs
            print("cold sync …", flush=True)
            cpu = cpu_seconds(server)
            run = library_sync(storage=client, folder="Songs")
            cpu = {k: v - cpu[k] for k, v in cpu_seconds(server).items()}
            rows.append(("cold sync", run.seconds, run.requests,
                         f"added {run.added}, {run.bytes_downloaded / 1e6:.1f} MB downloaded, "
                         f"{'faster' if run.seconds < best[0] else 'slower'} than rclone "
                         f"(x{run.seconds / best[0]:.2f}); CPU s: sync process "
                         f"{cpu['sync']:.1f}, parse workers {cpu['workers']:.1f}, server "
                         f"{cpu['server']:.1f}; load average {os.getloadavg()[0]:.1f}"))
            run = library_sync(storage=client, folder="Songs")
            rows.append(("warm sync, no change", run.seconds, run.requests,
                         f"unchanged {run.unchanged}; target 1 request, < 0.5 s: "
                         f"{'met' if run.requests == 1 and run.seconds < 0.5 else 'MISSED'}"))
            song = sorted(p for p in (home / ROOT / "Songs").glob("*/*") if p.is_dir())[7]
            rel = song.relative_to(home / ROOT).as_posix()
            client.write(f"{rel}/song.ini",
                         (song / "song.ini").read_bytes() + b"loading_phrase = bench\n")
            depth = len(rel.split("/"))
            run = library_sync(storage=client, folder="Songs")
            rows.append((f"sync after one song.ini edit (depth {depth})", run.seconds,
                         run.requests, f"updated {run.updated}; target <= {depth + 3} requests: "
                         f"{'met' if run.requests <= depth + 3 else 'MISSED'}"))
            run = library_sync(storage=storage(), folder="Songs")
            rows.append(("warm sync from a new process (cron)", run.seconds, run.requests,
                         "+1 OCS user-id request on the first use of a storage"))
            rows.append(transport_only(storage()))
        finally:
            server.terminate()
            server.wait(timeout=10)

    print(f"\n{count} song folders, {folders} folders, server tests/davserver.py (nc mode, "
          f"own process), concurrency {args.concurrency}, {os.cpu_count()} CPUs\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'run'.ljust(width)}  {'seconds':>8}  {'requests':>8}  notes")
    for label, seconds, requests, note in rows:
        print(f"{label.ljust(width)}  {seconds:8.2f}  {requests:8d}  {note}")


if __name__ == "__main__":
    main()
