"""How often a lone guitar part shows where the beat is (one command; not a test).

    .venv/bin/python bench/bench_beat_phase.py [--library DIR]

A lone guitar stem's tempo map (``content.generator.tatum``) follows the notes' 16th grid and
then chooses which of the four 16ths is the beat (``tatum.beat_phases``). This runs that
choice on the *human* charts' own Expert guitar notes, as one stretch, for every fixture
song with a guitar part (``../shared/fixtures/onyx``): exact times, no missed or extra
onsets, the grid known.
So it is the best the choice can do from the audio, and the share of a song's notes whose
beat it finds bounds that song's lone-stem beat F in ``bench_generator.py``: where the
choice lands a 16th or an 8th off, beat F is ≈ 0 even with a perfect grid. The beat is the
one the chart's tempo map draws, counted from each bar line (``bench_generator.beat_lines``),
so one phase cannot fit every note of a song whose odd bars (a 7/8) move the beat to
another 16th of the running count. It also prints the share of notes on each 16th of the
beat, after a rest of ≥ ``tatum.REST_BEATS`` beats and not, which are the probabilities
``tatum`` uses.

Reference, in the same run: the 16th with the most notes. Bound: the best single phase (the
one right for most of the song's notes), which no choice of one phase per song can beat; it
falls short where the meter changes. A second bound (``four_four_ceiling``): beat F of a 4/4
tempo map with each chart's own tempo and phase, which is what the generator writes at
best. A third (``unheard_share``): the share of a chart's beat lines more than ``_UNHEARD_S``
from every guitar note, where a lone guitar stem is silent and its tempo map can only run on
at the tempo around the silence; where the song's own tempo moves there, no analysis of the
stem can follow it.
The choice and the second bound together: the charts whose beat the choice finds and whose
ceiling reaches 0.95 bound how many rendered stems can reach lone-stem beat F 0.95.
Notes off the 16th grid (triplets) are left out; note strength is 1 (the renders of
``build_sample_library.py`` play every note at velocity 100).

With ``--library DIR`` (a library ``bench_generator.py`` rendered, e.g. ``--limit 0``), it
also runs the lone-stem beats on each rendered ``guitar.ogg`` twice: with the phase choice,
and with the best phase per stretch for the human tempo map (``best_phases``). Beat F of
the second is about what a perfect phase choice would reach on the 16th grid ``tatum``
followed, so the two tell losses of the phase choice from losses of grid following (missed
re-joins, slips of the 16th count, a tempo at half or double the chart's, triplet and swing
parts).
Reference, in the same run: librosa's tracker (``tempo.track_beats``) on the same stem.
It also counts how often a re-join of the grid (``tatum.follow_grid``, after ``MISSES``
onsets off it) keeps the 16th count: the 16ths between the last note before and the first
after, against the human chart's, where both notes match a chart note within ``_MATCH_S``.
A slipped count moves the beat's phase for the rest of the song unless the phase choice
notices, which is why the phase is chosen again per stretch.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import mir_eval  # noqa: E402
import numpy as np  # noqa: E402
from bench_generator import (FIXTURES, Human, fixture_manifest, guitar_songs,  # noqa: E402
                             read_human)

from content.generator.audio import open_source  # noqa: E402
from content.generator.onsets import detect  # noqa: E402
from content.generator.spectrum import analyse  # noqa: E402
from content.generator.tatum import (REST_BEATS, Grid, PhaseChoice, beat_phases,  # noqa: E402
                                     sixteenth_grid, stem_beats)
from content.generator.tempo import notes_level, track_beats  # noqa: E402

_ON_GRID = 0.1  # a note within this fraction of a 16th of the grid is on it
_FOUND = 0.9  # the choice finds a song's beat when it is right for this share of its notes
_UNHEARD_S = 4.0  # a beat line this far from every guitar note is not heard in the stem
_MATCH_S = 0.030  # an onset this near a chart note is that note (re-join counts)


def guitar_charts() -> list[tuple[str, Path]]:
    """(song path, its MIDI chart) of every fixture song with a guitar part."""
    return [(song["path"], mid) for song in guitar_songs(fixture_manifest()["songs"])
            for mid in sorted((FIXTURES / "onyx" / song["path"]).glob("*.mid"))[:1]]


def votes(human: Human) -> tuple[float, float, float, np.ndarray] | None:
    """(share of notes whose beat ``beat_phases`` finds, the same for the 16th with the
    most notes and for the best single phase, each note's 16th of its beat and whether it
    follows a rest: shape (2, notes)) for one chart's Expert guitar notes. A note's beat is
    the quarter note counted from its bar line (``bench_generator.beat_lines``), so after an
    odd bar (a 7/8) the beat sits on another 16th of the running count than before it. None
    with fewer than 20 notes on the 16th grid."""
    sixteenth = human.ticks_per_quarter / 4
    index = human.onset_ticks / sixteenth  # the running 16th count, as the generator's grid
    beat = human.quarters[np.searchsorted(human.quarters, human.onset_ticks, side="right") - 1]
    on_grid = ((np.abs(index - np.rint(index)) < _ON_GRID)
               & (np.abs(beat / sixteenth - np.rint(beat / sixteenth)) < _ON_GRID))
    if on_grid.sum() < 20:
        return None
    index = np.rint(index[on_grid]).astype(int)
    truth = np.rint(beat[on_grid] / sixteenth).astype(int) % 4  # each note's beat phase
    after_rest = np.diff(index, prepend=-(10 ** 6)) >= REST_BEATS * 4
    grid = Grid(index, np.arange(len(index)), np.array([], dtype=int))
    chosen = int(beat_phases(grid, np.ones(len(index)), after_rest)[0])
    plain = int(np.argmax(np.bincount(index % 4, minlength=4)))
    best = np.bincount(truth, minlength=4).max() / len(truth)
    return (float(np.mean(truth == chosen)), float(np.mean(truth == plain)), float(best),
            np.stack([(index - truth) % 4, after_rest]))


def four_four_ceiling(human: Human) -> tuple[float, float]:
    """Beat F against the chart's beat lines of two tempo maps that know its tempo: (quarter
    notes counted from each bar line: every meter change found, and written as x/4; quarter
    notes from tick 0 at the best of the four 16th shifts: one 4/4 signature, as the
    generator writes). The second bounds any tempo map without meter changes: where a chart
    draws 8ths or 16ths as beats (x/8, x/16) or an odd bar moves the beat, it falls short."""
    tpq, end = human.ticks_per_quarter, int(human.quarters[-1])
    from_bars = beat_f(human.beats, human.seconds(human.quarters), human.beats[-1])
    from_zero = max(beat_f(human.beats, human.seconds(np.arange(shift, end + 1, tpq)),
                           human.beats[-1]) for shift in range(0, tpq, tpq // 4))
    return from_bars, from_zero


def unheard_share(human: Human) -> float:
    """Share of the chart's beat lines (after mir_eval's first 5 s, as beat F counts them)
    more than ``_UNHEARD_S`` seconds from every Expert guitar note."""
    beats = mir_eval.beat.trim_beats(human.beats)
    slot = np.clip(np.searchsorted(human.onsets, beats), 1, len(human.onsets) - 1)
    gap = np.minimum(np.abs(beats - human.onsets[slot - 1]), np.abs(beats - human.onsets[slot]))
    return float(np.mean(gap > _UNHEARD_S))


def best_phases(reference: np.ndarray) -> PhaseChoice:
    """A ``tatum.stem_beats`` phase choice that knows the answer: for each stretch, the phase
    whose grid points fall within mir_eval's ±70 ms of a ``reference`` beat (s) most often."""
    def choose(stretch: np.ndarray, index: np.ndarray, times: np.ndarray,
               steps: int) -> np.ndarray:
        slot = np.clip(np.searchsorted(reference, times), 1, len(reference) - 1)
        near = np.minimum(np.abs(times - reference[slot - 1]),
                          np.abs(times - reference[slot])) <= 0.07
        hits = np.zeros((stretch.max() + 1, steps))
        np.add.at(hits, (stretch, index % steps), near)
        return np.argmax(hits, axis=1)
    return choose


def beat_f(reference: np.ndarray, beats: np.ndarray, end_s: float) -> float:
    """mir_eval beat F of ``beats`` continued to ``end_s`` at their last period, as the tempo
    map's last ``B`` continues to the end of the audio."""
    period = float(np.median(np.diff(beats[-8:])))
    beats = np.concatenate([beats, np.arange(beats[-1] + period, end_s, period)])
    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference),
                                         mir_eval.beat.trim_beats(beats)))


def rejoins_kept(human: Human, onsets: np.ndarray, level: np.ndarray) -> tuple[int, int]:
    """(re-joins of the stem's 16th grid that keep the human chart's 16th count, re-joins
    checked): ``onsets`` (s) and ``level`` (the beats ``stem_beats`` starts from) as the
    pipeline gives them; only re-joins between two onsets that match chart notes count."""
    grid = sixteenth_grid(level, onsets)[1]
    slot = np.clip(np.searchsorted(human.onsets, onsets), 1, len(human.onsets) - 1)
    nearest = np.where(np.abs(human.onsets[slot - 1] - onsets)
                       < np.abs(human.onsets[slot] - onsets), slot - 1, slot)
    matched = np.abs(human.onsets[nearest] - onsets) < _MATCH_S
    ticks = human.onset_ticks[nearest] / (human.ticks_per_quarter / 4)
    before, after = grid.onset[grid.restarts - 1], grid.onset[grid.restarts]
    checked = matched[before] & matched[after]
    human_steps = ticks[after] - ticks[before]
    grid_steps = grid.index[grid.restarts] - grid.index[grid.restarts - 1]
    kept = np.abs(human_steps - grid_steps) < 0.25
    return int((kept & checked).sum()), int(checked.sum())


def audio_rows(library: Path) -> list[tuple[str, float, float, float, int, int]]:
    """(song, beat F of the tracker's beats, of the lone-stem beats, of the lone-stem beats
    with ``best_phases``, re-joins that keep the count, re-joins checked: ``rejoins_kept``)
    for every rendered guitar stem in ``library``."""
    rows = []
    for folder in sorted(p.parent for p in library.glob("*/*/notes.mid")):
        if not (folder / "guitar.ogg").exists():
            continue
        human = read_human(folder / "notes.mid")
        if len(human.onsets) < 20:
            continue
        audio = open_source(folder / "guitar.ogg").mix
        spec = analyse(audio)
        onsets = detect(spec)
        times = np.array([o.seconds for o in onsets])
        tracked = track_beats(spec)
        level = notes_level(tracked, times)  # the beats the pipeline gives stem_beats
        strengths = np.array([o.strength for o in onsets])
        chosen = stem_beats(level, times, strengths, end_s=audio.seconds)
        best = stem_beats(level, times, strengths, end_s=audio.seconds,
                          choose=best_phases(human.beats))
        row = (folder.name, *(beat_f(human.beats, b, audio.seconds)
                              for b in (tracked, chosen, best)),
               *rejoins_kept(human, times, level))
        print(f"{row[0][:40]:40s} beat F: tracker {row[1]:.2f}, lone stem {row[2]:.2f}, "
              f"best phases {row[3]:.2f}; re-joins keeping the count {row[4]} of {row[5]}",
              flush=True)
        rows.append(row)
    return rows


def print_audio_summary(rows: list[tuple[str, float, float, float, int, int]]) -> None:
    scores = np.array([r[1:4] for r in rows])
    median = np.median(scores, axis=0)
    print(f"\n{len(rows)} rendered guitar stems, beat F median (≥ 0.95 / ≥ 0.90 songs): "
          + ", ".join(f"{label} {m:.3f} ({(col >= 0.95).sum()} / {(col >= 0.9).sum()})"
                      for label, m, col in zip(("tracker", "lone stem", "best phases"), median,
                                               scores.T, strict=True))
          + f". Ratios to the tracker: lone stem {median[1] / median[0]:.2f}, best phases "
            f"{median[2] / median[0]:.2f}.")
    kept, checked = (sum(r[k] for r in rows) for k in (4, 5))
    print(f"Re-joins of the 16th grid that keep the chart's 16th count: {kept} of {checked} "
          f"({100 * kept / max(checked, 1):.0f} %).")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", type=Path,
                    help="also run on the guitar stems bench_generator.py rendered here")
    args = ap.parse_args()
    humans = [(name, read_human(path)) for name, path in guitar_charts()]
    rows = [(name, v) for name, human in humans if (v := votes(human)) is not None]
    for name, (chosen, plain, best, _) in rows:
        print(f"{name[:50]:50s} beat found for {100 * chosen:3.0f} % of the notes "
              f"(most notes: {100 * plain:3.0f} %, best single phase: {100 * best:3.0f} %)")
    ceilings = np.array([four_four_ceiling(human) for _, human in humans])
    notes = np.concatenate([v[-1] for _, v in rows], axis=1)
    for label, rest in (("after a rest", 1), ("other notes", 0)):
        share = np.bincount(notes[0][notes[1] == rest], minlength=4) / (notes[1] == rest).sum()
        print(f"{label:12s}: 16ths of the beat 0/1/2/3: "
              + " / ".join(f"{100 * s:.1f} %" for s in share))
    hits = sum(chosen >= _FOUND for _, (chosen, *_) in rows)
    plain_hits = sum(plain >= _FOUND for _, (_, plain, *_) in rows)
    bound = sum(best >= _FOUND for _, (_, _, best, _) in rows)
    found = np.median([chosen for _, (chosen, *_) in rows])
    print(f"\n{len(rows)} guitar charts: the choice finds the beat (for ≥ {100 * _FOUND:.0f} % "
          f"of the notes) in {hits} ({100 * hits / len(rows):.0f} %), the most-notes 16th in "
          f"{plain_hits} ({100 * plain_hits / len(rows):.0f} %); ratio "
          f"{hits / max(plain_hits, 1):.2f}. Median share of notes whose beat it finds: "
          f"{found:.2f}. The best single phase holds for ≥ {100 * _FOUND:.0f} % of the notes "
          f"in {bound} (meter changes move the beat in the others); median "
          f"{np.median([best for _, (_, _, best, _) in rows]):.2f}.")
    print(f"Tempo maps that know each chart's tempo, beat F against its beat lines (median; "
          f"≥ 0.95 in how many of {len(ceilings)}): every meter change found, beats as quarter "
          f"notes {np.median(ceilings[:, 0]):.3f} ({(ceilings[:, 0] >= 0.95).sum()}); one 4/4 "
          f"signature at the best 16th shift, as the generator writes "
          f"{np.median(ceilings[:, 1]):.3f} ({(ceilings[:, 1] >= 0.95).sum()}).")
    # Beat F ≥ 0.95 needs both: the beat's phase found and a tempo map that can reach it.
    found_in = {name for name, (chosen, *_) in rows if chosen >= _FOUND}
    both = [sum(name in found_in and ceiling >= 0.95
                for (name, _), ceiling in zip(humans, ceilings[:, k], strict=True))
            for k in (1, 0)]
    print(f"Charts whose beat the choice finds and whose tempo map can reach beat F 0.95 (a "
          f"bound on lone-stem songs ≥ 0.95 with every note heard and the 16th grid exact): "
          f"{both[0]} of {len(humans)} with one 4/4 signature, {both[1]} with every meter change "
          f"found; a median ≥ 0.95 needs {len(humans) // 2 + 1}.")
    unheard = np.array([unheard_share(human) for _, human in humans])
    print(f"Beat lines more than {_UNHEARD_S:g} s from every guitar note (a lone stem is silent "
          f"there): median {100 * np.median(unheard):.0f} % of a chart's; over 10 % in "
          f"{(unheard > 0.1).sum()} of {len(unheard)} charts, over 25 % in "
          f"{(unheard > 0.25).sum()}.")
    if args.library:
        print()
        print_audio_summary(audio_rows(args.library))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
