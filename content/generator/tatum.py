"""Beats for a lone melodic stem: the notes' 16th grid followed through the song, and the
beat's phase on that grid chosen stretch by stretch.

Why: with no drums, librosa's tracker (``tempo.track_beats``) holds one 16th phase for a
section, then slips to another where a different 16th carries more onset strength. Each slip
moves every later beat off the human beat. The notes themselves sit on an exact grid, so here
the 16th grid (the *tatum*) is followed through the onsets instead:

- **Grid.** Each onset is given the 16th index nearest to a line fitted through the notes
  before it (least squares, weights falling by ``exp(-age / MEMORY_BEATS beats)``), and
  fits when within ``TOLERANCE_S``. Recent notes count most, so the grid follows the tempo
  of a live recording as it drifts, while a note's jitter is averaged out. Where
  ``MISSES`` onsets in a row miss, the grid is re-joined at the last note that fit, with the
  period that fits most of the next ``LOOKAHEAD`` onsets (the old one preferred on a tie).
  The 16th count runs on through a re-join, but it may have slipped there: on the 54
  rendered fixture stems 68 % of re-joins keep the human chart's count
  (``bench/bench_beat_phase.py --library``).
- **Dotted beats.** The tracker sometimes takes three 16ths (a dotted 8th) as the beat, and
  a quarter of that is no 16th. Where a third of the tracked beat fits at least
  ``THIRDS_GAIN`` more of the onsets than a quarter does, and the notes on that finer grid
  group by four (their indices mod 4 are less even than mod 3, stretch by stretch), the
  grid's 16th is the third (``sixteenth_grid``). Where they group by three, the part is
  in triplets or a shuffle, and the tracked beat is the beat: a third of it is a triplet
  8th, and four of those would be no beat. On the 54 rendered fixture stems this set Lines
  in the Sand and Brooklyn (tracked at 4/3 of the chart's tempo) to the chart's tempo,
  beat F 0.38 → 0.59 and 0.33 → 0.56, and no other song moved by 0.01; without the grouping
  test, These Walls gained too (0.33 → 0.55), but synthetic shuffles at 110 and 140 BPM
  fell from beat F 0.98 to 0.28.
- **Triplets.** Where the notes on the grid followed group by three (their indices mod 3
  less even than mod 4, as above), the grid's step is a triplet 8th and a beat is three
  steps (``beat_steps``): the tracker took four triplet 8ths for the beat. On the rendered
  stems this set Dwelling of Doom (half its notes triplets, tracked at ¾ of the chart's
  tempo) from beat F 0.28 to 0.995 and These Walls from 0.33 to 0.50; no other song moved,
  and synthetic shuffles, whose notes on a 16th grid still group by four, kept 0.98.
  A slow shuffle (70–95 BPM) is tracked at 3/2 of its tempo, two triplet 8ths to the beat:
  the grid's step is then a triplet 16th, nearly all notes (≥ ``PARITY``) sit on every other
  step, and those group clearly by three (``_CLEARLY``): a beat is six steps. Synthetic
  shuffles at 70–95 BPM went from beat F 0.39 to 0.98; no fixture song moved (New
  Millennium, 88 % of its notes on one parity, groups by three and four alike).
- **Phase.** Which 16th of four (or step of three or six) is the beat is chosen for each
  stretch between re-joins, by a Viterbi pass: a stretch's evidence is the log-probability
  of its notes' 16ths, and a change of phase at a re-join has probability ``SLIP``. The
  probabilities are those of the 54 human guitar charts among ``shared/fixtures/onyx``
  (``bench/bench_beat_phase.py`` prints them), the beat being the one their tempo maps
  draw from each bar line: a note after a rest of ≥ ``REST_BEATS`` beats starts on the beat
  72 % of the time, on the off-beat 8th 20 % and on the other 16ths 3–5 %; other notes 34 /
  18 / 31 / 18 %. A note's weight is its onset strength relative to the median (at most 3).
  For a beat of three or six steps the on-beat shares are the same and the rest is shared
  evenly (the fixtures' triplet passages are too few for a table of their own).

Even with a human chart's exact notes and grid, this finds the beat for ≥ 90 % of the notes
in 27 of the 54 charts, for a median 89 % (``bench/bench_beat_phase.py``): where a part
spreads its notes evenly over the four 16ths, the audio of that part alone does not show the
beat, and after an odd bar (a 7/8) the beat moves to another 16th of the running count.

Measured in the whole pipeline on 32 rendered guitar stems (``bench/bench_generator.py``: the
tuning set, ``--held-out`` and ``--held-out 2``), beat F of the tempo map against the human
one: median 0.39 → 0.58, mean 0.48 → 0.57 against one least-squares period per stretch and
one phase vote for the whole song; onset F@50 median 0.935 → 0.939. ``MEMORY_BEATS``
8 / 16 / 32 gave means 0.52 / 0.56 / 0.53 and ``SLIP`` 0.005 / 0.01 / 0.02 / 0.05 gave
0.54 / 0.55 / 0.56 / 0.55 against beats counted from tick 0, which put every beat after an
odd bar an 8th off; against the drawn beats and with the tables above, ``SLIP`` 0.005 /
0.01 / 0.02 / 0.05 / 0.2 gave 0.574 / 0.568 / 0.570 / 0.562 / 0.562 (0.005: a phase change
needs three notes after rests, not two). Live recordings gain most (Last Night 0.06 →
0.62, Moonlight 0.34 → 0.68); a sparse part can still slip where the old fit held (Seven
0.99 → 0.68). Running the grid on to the audio's end at its own period, not stopping at the
tracker's last beat, brings Seven back to 0.99 (it plays the first 130 s of 320): on all 54
fixture guitar stems, mean 0.564 → 0.569, 7 → 8 songs ≥ 0.95, median 0.561 either way.

On a full mix the tracker follows the drums and does better, so the pipeline uses this only
when the lead stem is the whole input, or where a mix's onsets show a slow shuffle tracked at
3/2 of its tempo (``tracked_at_three_halves``): synthetic shuffles with drums at 75 and 85
BPM went from beat F 0.39 to 0.98, and none of the 54 rendered fixture mixes is one.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

TOLERANCE_S = 0.020  # an onset this close to a 16th grid point fits it (≤ ⅕ of a 16th)
MISSES = 3  # onsets in a row off the grid that re-join it
LOOKAHEAD = 8  # onsets a re-joined grid's period is chosen on
MEMORY_BEATS = 16.0  # a note's weight in the grid's fit falls by e per this many beats
# A candidate period's fit (onsets within tolerance) loses this much per unit of
# |log(period / old period)|: a tie-break towards keeping the tempo, never a veto.
_KEEP_TEMPO = 0.01
_MAX_STEP = 1.25  # the fitted 16th period never moves by more than this factor at one note
_END_NOTES = 64  # notes whose fit extends the grid before the first and after the last
REST_BEATS = 2.0
SLIP = 0.005  # (module text)
# P(16th of the beat a note starts on), 0 = on the beat (module text).
_AFTER_REST = np.array([0.721, 0.049, 0.199, 0.031])
_AFTER_NOTE = np.array([0.336, 0.175, 0.306, 0.183])
PARITY = 0.8  # share of the notes on every other grid step, for a beat of six (module text)
_CLEARLY = 2.0  # how much more those notes must group by three than by four
# Notes spread evenly over every residue group by three and four alike (both ≈ 0 nats);
# the least grouping (nats) that tells three: Dwelling of Doom's is 0.050, a shuffle's 0.18.
_MIN_GROUPING = 0.02
_MAX_WEIGHT = 3.0
_PERIOD_SMOOTH = 9  # tracked beats whose median interval gives the local period
MIN_NOTES = 8  # fewer notes on the grid: keep the tracker's beats
THIRDS_GAIN = 0.10  # share of the onsets a third of the beat must fit beyond a quarter


@dataclass(frozen=True, slots=True)
class Grid:
    """The onsets that fit the 16th grid: ``index`` (16ths, ascending), ``onset`` (their
    positions in the onsets array) and ``restarts`` (positions in these arrays where the
    grid was re-joined after misses; the count may have slipped there)."""

    index: np.ndarray
    onset: np.ndarray
    restarts: np.ndarray


PhaseChoice = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


class _Line:
    """t = mean_t + (x - mean_x) · sixteenth through weighted notes (x: 16th index,
    t: seconds), older notes weighing less (MEMORY_BEATS)."""

    def __init__(self, x: int, t: float, sixteenth: float) -> None:
        self.x0, self.t0, self.sixteenth, self.last_t = x, t, sixteenth, t
        self.w, self.sx, self.st, self.sxx, self.sxt = 1.0, 0.0, 0.0, 0.0, 0.0

    def at(self, x: int) -> float:
        mean_x, mean_t = self.sx / self.w, self.st / self.w
        return self.t0 + mean_t + (x - self.x0 - mean_x) * self.sixteenth

    def nearest(self, t: float) -> int:
        mean_x, mean_t = self.sx / self.w, self.st / self.w
        return self.x0 + round(mean_x + (t - self.t0 - mean_t) / self.sixteenth)

    def add(self, x: int, t: float) -> None:
        decay = np.exp(-(t - self.last_t) / (MEMORY_BEATS * 4 * self.sixteenth))
        dx, dt = x - self.x0, t - self.t0
        self.w = self.w * decay + 1
        self.sx = self.sx * decay + dx
        self.st = self.st * decay + dt
        self.sxx = self.sxx * decay + dx * dx
        self.sxt = self.sxt * decay + dx * dt
        self.last_t = t
        mean_x, mean_t = self.sx / self.w, self.st / self.w
        spread = self.sxx / self.w - mean_x * mean_x
        if spread > 1.0:  # notes over more than a 16th: the slope is measured
            slope = (self.sxt / self.w - mean_x * mean_t) / spread
            if self.sixteenth / _MAX_STEP < slope < self.sixteenth * _MAX_STEP:
                self.sixteenth = slope


def stem_beats(tracked: np.ndarray, onsets: np.ndarray, strengths: np.ndarray, *,
               end_s: float, choose: PhaseChoice | None = None) -> np.ndarray:
    """Beat times (s, ascending, > 0) on the onsets' 16th grid, from 0 s to ``end_s``.

    tracked: beats from ``tempo.track_beats`` (s) — only their local period is used, as the
    grid's starting period and the centre of the periods tried where it is re-joined.
    onsets / strengths: the stem's note onsets (s, ascending) and their envelope strength.
    end_s: the audio's length (s). After the last note the grid runs on at the period fitted
    through the last notes: where the part falls silent long before the song ends, that
    period (not the tracker's last beats, which stop with the sound) keeps the beats on the
    song's for the rest of it.
    choose: replaces the phase choice (``beat_phases``): called with every grid point's
    stretch (0, 1, … between re-joins), index and time (s), and the grid steps per beat
    (``beat_steps``); returns each stretch's phase (0 .. steps - 1). A full mix passes
    ``accent_phases``; benchmarks pass the best phases for a human tempo map, to tell grid
    following from phase choice.
    Returns ``tracked`` unchanged when fewer than ``MIN_NOTES`` onsets fit a grid.
    """
    if len(tracked) < 4 or len(onsets) < MIN_NOTES:
        return tracked
    sixteenths, grid = sixteenth_grid(tracked, onsets)
    if len(grid.index) < MIN_NOTES:
        return tracked
    steps = beat_steps(grid)
    index, times = grid_points(grid, onsets, end_s)
    stretch = np.searchsorted(grid.index[grid.restarts], index, side="right")
    if choose is None:
        after_rest = np.diff(onsets, prepend=-np.inf) >= REST_BEATS * steps * sixteenths
        phases = beat_phases(grid, strengths, after_rest, steps)
    else:
        phases = choose(stretch, index, times, steps)
    on_beat = np.flatnonzero(index % steps == phases[stretch])
    # Where the phase changes, a beat one step after the one before would be a beat at 3x or
    # 4x the tempo (2x: two 16ths): it is left out, and the beat before lasts longer.
    on_beat = on_beat[np.diff(index[on_beat], prepend=index[on_beat[0]] - steps) >= steps - 1]
    beats = times[on_beat]
    return beats[beats > 0]


def accent_phases(envelope: np.ndarray, frame_seconds: float) -> PhaseChoice:
    """A phase choice for ``stem_beats`` on a full mix: in each stretch, the phase whose grid
    points carry the most of ``envelope`` (onset strength per frame of ``frame_seconds`` s,
    its highest within ±2 frames, as an onset's peak may come a frame or two after it): the
    low band's rise in power (``spectrum.low_band_rise``), where the kick and the bass mark
    the beat."""
    peaks = ndimage.maximum_filter1d(envelope, 5)

    def choose(stretch: np.ndarray, index: np.ndarray, times: np.ndarray,
               steps: int) -> np.ndarray:
        frames = np.clip(np.rint(times / frame_seconds).astype(int), 0, len(peaks) - 1)
        totals = np.zeros((stretch.max() + 1, steps))
        np.add.at(totals, (stretch, index % steps), peaks[frames])
        return np.argmax(totals, axis=1)
    return choose


def tracked_at_three_halves(tracked: np.ndarray, onsets: np.ndarray) -> bool:
    """Whether the ``tracked`` beats (s) are two triplet 8ths of a slow shuffle, 3/2 of its
    tempo, as librosa tracks 70–95 BPM shuffles with drums too: the ``onsets``' (s) grid has
    beats of six steps (``beat_steps``). Then ``stem_beats`` gives the song's beats, the
    mix's kick and bass their phase (``accent_phases``)."""
    if len(tracked) < 4 or len(onsets) < MIN_NOTES:
        return False
    grid = sixteenth_grid(tracked, onsets)[1]
    return len(grid.index) >= MIN_NOTES and beat_steps(grid) == 6


def tracked_sixteenths(tracked: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """The 16th period (s) of the ``tracked`` beats (s, ≥ 2) at each of ``onsets`` (s): a
    quarter of the median interval over ``_PERIOD_SMOOTH`` beats, the grid's starting period
    (``follow_grid``)."""
    intervals = np.diff(tracked)
    period = ndimage.median_filter(intervals, min(_PERIOD_SMOOTH, len(intervals)),
                                   mode="nearest")
    return np.interp(onsets, tracked[:-1], period) / 4


def sixteenth_grid(tracked: np.ndarray, onsets: np.ndarray) -> tuple[np.ndarray, Grid]:
    """The grid's starting 16th period (s) at each of ``onsets`` (s), and the grid followed
    from it (``follow_grid``). The period is a quarter of the ``tracked`` beats' period
    (``tracked_sixteenths``), or a third of it where the tracker took a dotted 8th for the
    beat (module text, "Dotted beats")."""
    quarters = tracked_sixteenths(tracked, onsets)
    thirds = quarters * 4 / 3
    by_quarters, by_thirds = follow_grid(onsets, quarters), follow_grid(onsets, thirds)
    if (len(by_thirds.index) - len(by_quarters.index) >= THIRDS_GAIN * len(onsets)
            and _grouping(by_thirds, 4) > _grouping(by_thirds, 3)):
        return thirds, by_thirds
    return quarters, by_quarters


def beat_steps(grid: Grid) -> int:
    """Grid steps per beat (module text, "Triplets"): 3 where ``grid``'s notes group by three
    (the step is a triplet 8th); 6 where at least ``PARITY`` of them sit on every other step
    and those group clearly by three (the step is a triplet 16th); else 4."""
    thirds = _grouping(grid, 3)
    if thirds > max(_grouping(grid, 4), _MIN_GROUPING):
        return 3
    halved, share = _every_other(grid)
    thirds = _grouping(halved, 3)
    if share >= PARITY and thirds > max(_CLEARLY * _grouping(halved, 4), _MIN_GROUPING):
        return 6
    return 4


def _every_other(grid: Grid) -> tuple[Grid, float]:
    """The notes of ``grid`` on the commoner parity of each stretch's indices, as a grid of
    twice the step (indices halved), and their share of all its notes."""
    kept = []
    for start, stop in _stretches(grid):
        parity = grid.index[start:stop] % 2
        kept.append(start + np.flatnonzero(parity == np.argmax(np.bincount(parity,
                                                                           minlength=2))))
    keep = np.concatenate(kept)
    restarts = np.unique(np.searchsorted(keep, grid.restarts))
    halved = Grid(grid.index[keep] // 2, grid.onset[keep], restarts[restarts < len(keep)])
    return halved, len(keep) / len(grid.index)


def _stretches(grid: Grid) -> list[tuple[int, int]]:
    """(start, stop) positions in ``grid``'s arrays of each stretch between re-joins."""
    bounds = [0, *grid.restarts.tolist(), len(grid.index)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _step_shares(shares: np.ndarray, steps: int) -> np.ndarray:
    """``shares`` (per 16th of the beat) for a beat of ``steps`` grid steps: as they are for
    four, else the on-beat share kept and the rest split evenly (module text, "Phase")."""
    if steps == 4:
        return shares
    return np.concatenate([shares[:1], np.full(steps - 1, (1 - shares[0]) / (steps - 1))])


def _grouping(grid: Grid, size: int) -> float:
    """How unevenly ``grid``'s notes fall on their indices mod ``size``: the Kullback–Leibler
    divergence (nats) of that histogram from the uniform one, per stretch between re-joins
    (where the count may slip), weighted by the stretch's notes. Notes grouped in beats of
    ``size`` grid steps favour some residues (the beat, the off-beat)."""
    total = 0.0
    for start, stop in _stretches(grid):
        shares = np.bincount(grid.index[start:stop] % size, minlength=size) / max(stop - start, 1)
        used = shares > 0
        total += (stop - start) * float(np.sum(shares[used] * np.log(shares[used] * size)))
    return total / len(grid.index)


def follow_grid(onsets: np.ndarray, sixteenths: np.ndarray) -> Grid:
    """The 16th grid through ``onsets`` (s, ascending); ``sixteenths``: the tracker's 16th
    period (s) at each onset. The first onset is grid point 0."""
    index, used, restarts = [0], [0], []
    line = _Line(0, float(onsets[0]), float(sixteenths[0]))
    fitted_since_join = True
    misses: list[int] = []
    i = 1
    while i < len(onsets):
        t = float(onsets[i])
        tolerance = min(TOLERANCE_S, 0.2 * line.sixteenth)
        x = line.nearest(t)
        if abs(t - line.at(x)) <= tolerance and x > index[-1]:
            line.add(x, t)
            index.append(x)
            used.append(i)
            fitted_since_join, misses = True, []
            i += 1
            continue
        misses.append(i)
        if len(misses) < MISSES:
            i += 1
            continue
        join_s = float(onsets[used[-1]])
        sixteenth = _best_period(onsets[misses[0]:misses[0] + LOOKAHEAD], join_s,
                                 line.sixteenth, float(sixteenths[misses[0]]), tolerance)
        # A join that fit nothing since the last one: those onsets are no notes of the grid.
        i = misses[0] if fitted_since_join else misses[-1] + 1
        if fitted_since_join:
            restarts.append(len(index))
        line = _Line(index[-1], join_s, sixteenth)
        fitted_since_join, misses = False, []
    restarts = [r for r in restarts if r < len(index)]  # a last join that fit nothing
    return Grid(np.array(index), np.array(used), np.array(restarts, dtype=int))


def _best_period(coming: np.ndarray, join_s: float, old: float, tracked: float,
                 tolerance: float) -> float:
    """The 16th period (s) from ``join_s`` that fits most ``coming`` onsets: tried within
    ±3 % of the ``old`` one and ±10 % of the ``tracked`` one."""
    candidates = np.concatenate([old * np.linspace(0.97, 1.03, 61),
                                 tracked * np.linspace(0.9, 1.1, 81)])
    steps = (coming[np.newaxis, :] - join_s) / candidates[:, np.newaxis]
    nearest = np.rint(steps)
    fits = ((np.abs(steps - nearest) * candidates[:, np.newaxis] <= tolerance)
            & (nearest > 0)).sum(axis=1)
    return float(candidates[np.argmax(fits - _KEEP_TEMPO * np.abs(np.log(candidates / old)))])


def grid_points(grid: Grid, onsets: np.ndarray, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(16th indices, seconds) of every grid point from 0 s to ``end_s``: between notes on
    the grid, by their times; before the first and after the last, at the period fitted
    through the first / last ``_END_NOTES`` notes of the first / last stretch."""
    x, t = grid.index, onsets[grid.onset]
    first_end = grid.restarts[0] if len(grid.restarts) else len(x)
    last_start = grid.restarts[-1] if len(grid.restarts) else 0
    head = slice(0, max(min(first_end, _END_NOTES), MIN_NOTES))
    tail = slice(min(max(last_start, len(x) - _END_NOTES), len(x) - MIN_NOTES), len(x))
    first_period = float(np.polyfit(x[head], t[head], 1)[0])
    last_period = float(np.polyfit(x[tail], t[tail], 1)[0])
    lo = x[0] - int(t[0] // first_period)
    hi = x[-1] + int(max(end_s - t[-1], 0.0) // last_period)
    index = np.arange(lo, hi + 1)
    times = np.interp(index, x, t)
    times = np.where(index < x[0], t[0] + (index - x[0]) * first_period, times)
    times = np.where(index > x[-1], t[-1] + (index - x[-1]) * last_period, times)
    return index, times


def beat_phases(grid: Grid, strengths: np.ndarray, after_rest: np.ndarray,
                steps: int = 4) -> np.ndarray:
    """For each stretch of ``grid`` (between re-joins, in order), the index residue (0 ..
    ``steps`` - 1, mod ``steps``, the grid steps per beat) its beats fall on (Viterbi pass,
    see the module text). ``strengths`` and ``after_rest`` are per onset."""
    stretches = len(grid.restarts) + 1
    stretch = np.searchsorted(grid.restarts, np.arange(len(grid.index)), side="right")
    weight = np.minimum(strengths[grid.onset] / (np.median(strengths) + 1e-9), _MAX_WEIGHT)
    rest, note = (np.log(_step_shares(shares, steps)) for shares in (_AFTER_REST, _AFTER_NOTE))
    table = np.where(after_rest[grid.onset, np.newaxis], rest, note)
    evidence = np.zeros((stretches, steps))
    for phase in range(steps):
        step = (grid.index - phase) % steps
        evidence[:, phase] = np.bincount(stretch, minlength=stretches,
                                         weights=weight * table[np.arange(len(step)), step])
    change = np.full((steps, steps), np.log(SLIP / (steps - 1)))
    np.fill_diagonal(change, np.log(1 - SLIP))
    score, back = evidence[0], []
    for row in evidence[1:]:
        candidates = score[:, np.newaxis] + change
        back.append(np.argmax(candidates, axis=0))
        score = candidates.max(axis=0) + row
    phases = [int(np.argmax(score))]
    for pointers in reversed(back):
        phases.append(int(pointers[phases[-1]]))
    return np.array(phases[::-1])
