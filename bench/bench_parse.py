"""Chart parsing speed on the fixture corpus, with mido as the reference in the same run.

    .venv/bin/python bench/bench_parse.py [--fixtures ../shared/fixtures] [--repeat 1]

Reads every fixture ``.chart`` and ``.mid`` under ``charts/`` and every onyx ``notes.mid`` into
memory first (disk time is not measured), then times, per file:

* ``parse_midi`` / ``parse_chart`` (content.formats): bytes → ParsedChart with Clone Hero's rules;
* ``analyse_chart``: the same plus issues, hashes and the summary;
* reference: ``mido.MidiFile(file=BytesIO(data), clip=True)`` on the same MIDI bytes (tokenizing
  only, nothing chart-specific).

Prints total seconds, per-file median and the ratio ours / mido. The functions take turns on each
file, so load from other processes inflates every figure alike: compare the ratio rather than the
absolute times.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mido  # noqa: E402

from content.formats.analysis import analyse_chart  # noqa: E402
from content.formats.chart import parse_chart  # noqa: E402
from content.formats.midi import parse_midi  # noqa: E402


def timed(runs: dict[str, object], items: list[bytes], repeat: int) -> dict[str, list[float]]:
    """Per-file seconds for each function in ``runs``. The functions take turns on each file, so a
    change in machine load during the run affects all of them alike (the ratio stays
    meaningful)."""
    per_file: dict[str, list[float]] = {label: [] for label in runs}
    for data in items:
        for label, func in runs.items():
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                func(data)
                best = min(best, time.perf_counter() - start)
            per_file[label].append(best)
    for label, times in per_file.items():
        print(f"  {label:<34} total {sum(times):8.3f} s   "
              f"median {statistics.median(times) * 1000:8.2f} ms/file")
    return per_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixtures", type=Path, default=REPO.parent / "shared" / "fixtures")
    parser.add_argument("--repeat", type=int, default=1, help="runs per file; the fastest counts")
    args = parser.parse_args()

    onyx = [p.read_bytes() for p in sorted((args.fixtures / "onyx").rglob("notes.mid"))]
    chart_mids = [p.read_bytes() for p in sorted((args.fixtures / "charts").rglob("*.mid"))]
    charts = [p.read_bytes() for p in sorted((args.fixtures / "charts").rglob("*.chart"))]
    mids = onyx + chart_mids
    size = sum(map(len, mids)) / 1024
    print(f"{len(mids)} MIDI files ({len(onyx)} onyx, {size:.0f} KiB), {len(charts)} .chart files")

    def safe(func):
        def run(data):
            try:
                func(data)
            except Exception:
                # a fixture that is meant to be unreadable still costs its parse time
                pass

        return run

    print("MIDI")
    times = timed(
        {
            "parse_midi (content.formats)": parse_midi,
            "analyse_chart kind=mid": lambda d: analyse_chart(d, kind="mid", ini={}),
            "mido.MidiFile(clip=True) reference":
                lambda d: mido.MidiFile(file=io.BytesIO(d), clip=True),
        },
        mids,
        args.repeat,
    )
    ours, full, ref = times.values()
    median_ratio = statistics.median(ours) / statistics.median(ref)
    print(f"  ratio parse_midi / mido:    {sum(ours) / sum(ref):.2f}  (median {median_ratio:.2f})")
    print(f"  ratio analyse_chart / mido: {sum(full) / sum(ref):.2f}")
    print(".chart")
    timed(
        {
            "parse_chart (content.formats)": safe(parse_chart),
            "analyse_chart kind=chart": safe(lambda d: analyse_chart(d, kind="chart", ini={})),
        },
        charts,
        args.repeat,
    )


if __name__ == "__main__":
    main()
