"""Benchmark: sync_library on a local library of real songs, against a plain listing.

Builds the 246-song sample library from ../shared/fixtures (song.ini + notes.mid per song,
no audio), copies it COPIES times under other artist folders, then times in one run:
  reference  os.walk + stat of every file (what any sync must at least do)
  cold       first sync: list, read song.ini and chart, parse, check, write rows
  warm       second sync of the unchanged library (parses nothing)
  one change sync after editing one song.ini
and prints each time with its ratio to the reference.

Usage: .venv/bin/python bench/bench_sync.py [--copies N] [--database-url URL]
The database (default postgres://postgres@127.0.0.1:5432/chmanager_bench) is created if
missing and emptied before the run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchdb import django_on, sample_library



def build_library(out: Path, copies: int) -> int:
    base = sample_library(out / "base")
    songs = out / "library" / "Songs"
    for n in range(copies):
        shutil.copytree(base, songs / f"copy{n:02d}")
    return sum(1 for _ in songs.rglob("notes.mid"))


def walk_reference(root: Path) -> float:
    started = time.perf_counter()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            os.stat(os.path.join(folder, name))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/chmanager_bench")
    args = parser.parse_args()
    django_on(args.database_url)
    from content.library.sync import library_sync
    from content.models import Song
    from content.storage.local import LocalStorage

    with tempfile.TemporaryDirectory() as tmp:
        count = build_library(Path(tmp), args.copies)
        root = Path(tmp) / "library"
        storage = LocalStorage(root)
        reference = min(walk_reference(root) for _ in range(3))
        rows = [("reference: os.walk + stat", reference, f"{count} songs listed")]
        for label in ("cold sync", "warm sync (no change)"):
            run = library_sync(storage=storage)
            rows.append((label, run.seconds,
                         f"added {run.added}, unchanged {run.unchanged}, issues {run.issues}"))
        ini = next(root.rglob("song.ini"))
        ini.write_text(ini.read_text() + "loading_phrase = benchmark edit\n")
        run = library_sync(storage=storage)
        rows.append(("sync after one song.ini edit", run.seconds, f"updated {run.updated}"))
        assert Song.objects.count() == count
    print(f"{'run':34} {'seconds':>9} {'× reference':>12}  notes")
    for label, seconds, note in rows:
        print(f"{label:34} {seconds:9.3f} {seconds / reference:12.1f}  {note}")


if __name__ == "__main__":
    main()
