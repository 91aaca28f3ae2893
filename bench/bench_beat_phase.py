"""How often a lone guitar part shows where the beat is (one command; not a test).

    .venv/bin/python bench/bench_beat_phase.py

A lone guitar stem's tempo map (``content.generator.tatum``) follows the notes' 16th grid and
then votes for which of the four 16ths is the beat (``tatum.beat_phase``). This runs that
vote on the *human* charts' own Expert guitar notes, for every fixture song with a guitar
part (``../shared/fixtures/onyx``): exact times, no missed or extra onsets, the grid known.
So it is the best the vote can do from the audio, and the share of songs whose beat it
finds bounds the lone-stem beat F of ``bench_generator.py``: a song whose vote lands a 16th
or an 8th off gets beat F ≈ 0 even with a perfect grid.

Reference, in the same run: every note weighs the same (no after-rest weight).
Notes off the 16th grid (triplets) are left out; note strength is 1 (the renders of
``build_sample_library.py`` play every note at velocity 100).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
from bench_generator import FIXTURES, read_human  # noqa: E402

from content.generator.tatum import beat_phase  # noqa: E402

_ON_GRID = 0.1  # a note within this fraction of a 16th of the grid is on it
_OFF = {0: "on the beat", 1: "a 16th late", 2: "an 8th off", 3: "a 16th early"}


def guitar_charts() -> list[tuple[str, Path]]:
    manifest = json.loads((FIXTURES / "onyx" / "manifest.json").read_text())
    found = []
    for song in manifest["songs"]:
        if any(t["name"] == "PART GUITAR" and t["note_ons"] > 100
               for t in song["midi"]["tracks"]):
            found += [(song["path"], mid)
                      for mid in sorted((FIXTURES / "onyx" / song["path"]).glob("*.mid"))[:1]]
    return found


def votes(path: Path) -> tuple[int, int] | None:
    """(phase the generator's vote picks, phase of the plainest count) for one chart's
    Expert guitar notes; phase 0 is the human beat. None with fewer than 20 notes."""
    human = read_human(path)
    position = np.interp(human.onsets, human.beats, np.arange(len(human.beats))) * 4
    on_grid = np.abs(position - np.rint(position)) < _ON_GRID
    if on_grid.sum() < 20:
        return None
    index = np.arange(int(position[-1]) + 2)
    times = np.interp(index / 4, np.arange(len(human.beats)), human.beats)
    onsets = human.onsets[on_grid]
    sixteenths = np.interp(onsets, human.beats[:-1], np.diff(human.beats)) / 4
    chosen = beat_phase(index, times, onsets, np.ones(len(onsets)), sixteenths)
    plain = np.bincount(np.rint(position[on_grid]).astype(int) % 4, minlength=4)
    return chosen, int(np.argmax(plain))


def main() -> int:
    rows = [(name, v) for name, path in guitar_charts() if (v := votes(path)) is not None]
    for name, (chosen, plain) in rows:
        print(f"{name[:50]:50s} vote: {_OFF[chosen]:13s} plain count: {_OFF[plain]}")
    hits = sum(chosen == 0 for _, (chosen, _) in rows)
    plain_hits = sum(plain == 0 for _, (_, plain) in rows)
    print(f"\n{len(rows)} guitar charts: the vote finds the beat in {hits} "
          f"({100 * hits / len(rows):.0f} %), the plain count in {plain_hits} "
          f"({100 * plain_hits / len(rows):.0f} %); ratio {hits / max(plain_hits, 1):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
