"""Beats for a lone melodic stem: the notes' 16th grid followed through the song, and one
beat phase voted for the whole song.

Why: with no drums, librosa's tracker (``tempo.track_beats``) holds one 16th phase for a
section, then slips to another where a different 16th carries more onset strength. Each slip
moves every later beat off the human beat; on 9 rendered guitar stems (bench_generator.py)
the tracked beats sat on the human beat 35 % of the time although the tempo was right.
The notes themselves sit on an exact grid, so here the 16th grid (the *tatum*) is followed
through the onsets instead, and its count never slips: a segment keeps one 16th period
(least squares through the notes that fit it, within ``TOLERANCE_S``); only where
``MISSES`` onsets in a row miss the grid does a new segment start, joined at the last note
that fit, with the period that fits most of the next ``LOOKAHEAD`` onsets (the old period
preferred on a tie). Through a rest the grid runs on at the last period.

The beat is then the one 16th phase (of four) with the most note weight over the whole
song, a note after a rest of ≥ ``REST_BEATS`` beats weighing ``1 + AFTER_REST_BONUS``
times as much: in the 55 human guitar charts among ``shared/fixtures/onyx``, 59 % of such
notes start on the beat, 29 % on the off-beat 8th and 5–8 % on the other 16ths (all notes:
36 / 31 / 16 / 17 %). Without the bonus, 2 of 21 benchmark stems lost their beat.

Measured (bench_generator.py, guitar stems, beat F of the tempo map against the human one):
median 0.37 → 0.72 on the 9 tuning songs, 0.39 → 0.40 on 12 held-out songs, mean of all 21
0.48 → 0.51; maps that are right (beat F ≥ 0.9) rose from 2 to 5 of 21, but 9 stems lost
some (a grid that holds the wrong 16th all song long scores lower than a tracker that
wanders onto the right one part of the time). What is left is mostly phase the audio does
not show (human charts whose notes spread evenly over the four 16ths) and tempo maps of
live recordings that change every few beats. On a full mix the tracker follows the drums and
does better (tuning mixes: beat F 0.78 against 0.55 with this), so the pipeline uses this
only when the lead stem is the whole input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

TOLERANCE_S = 0.020  # an onset this close to a 16th grid point fits it (≤ ⅕ of a 16th)
MISSES = 3  # onsets in a row off the grid that start a new segment
LOOKAHEAD = 8  # onsets a new segment's period is chosen on
# A candidate period's fit (onsets within tolerance) loses this much per unit of
# |log(period / old period)|: a tie-break towards keeping the tempo, never a veto.
_KEEP_TEMPO = 0.01
REST_BEATS = 2.0
AFTER_REST_BONUS = 2.0
_PHASE_WINDOW = 0.3  # an onset votes for a 16th if within this fraction of one of it
_PERIOD_SMOOTH = 9  # tracked beats whose median interval gives the local period


@dataclass(frozen=True, slots=True)
class Segment:
    """Grid points ``first_index`` … (the next segment's first index) at
    ``start_s + (index - first_index) * sixteenth_s`` seconds."""

    first_index: int
    start_s: float
    sixteenth_s: float


def stem_beats(tracked: np.ndarray, onsets: np.ndarray, strengths: np.ndarray) -> np.ndarray:
    """Beat times (s, ascending, > 0) on the onsets' continuous 16th grid.

    tracked: beats from ``tempo.track_beats`` (s) — only their local period is used, as the
    grid's starting period and the centre of the periods tried at a tempo change.
    onsets / strengths: the stem's note onsets (s, ascending) and their envelope strength.
    Returns ``tracked`` unchanged when there are too few of either to follow a grid.
    """
    if len(tracked) < 4 or len(onsets) < 2 * MISSES:
        return tracked
    intervals = np.diff(tracked)
    period = ndimage.median_filter(intervals, min(_PERIOD_SMOOTH, len(intervals)),
                                   mode="nearest")
    sixteenths = np.interp(onsets, tracked[:-1], period) / 4
    segments = follow_grid(onsets, sixteenths)
    index, times = grid_points(segments, tracked[-1])
    phase = beat_phase(index, times, onsets, strengths, sixteenths)
    beats = times[index % 4 == phase]
    return beats[beats > 0]


def follow_grid(onsets: np.ndarray, sixteenths: np.ndarray) -> list[Segment]:
    """Piecewise-constant 16th grid through ``onsets`` (s); ``sixteenths``: the tracker's
    16th period (s) at each onset. The first onset is grid point 0."""
    segments: list[Segment] = []
    seg = Segment(0, float(onsets[0]), float(sixteenths[0]))
    # Least squares through the segment's start: running sums of j·Δt and j² over the notes
    # that fit (j: 16ths since the segment's start, Δt: seconds since it).
    sum_jt = sum_jj = 0.0
    last_index = 0
    misses: list[int] = []
    i = 1
    while i < len(onsets):
        t = float(onsets[i])
        tolerance = min(TOLERANCE_S, 0.2 * seg.sixteenth_s)
        index = seg.first_index + round((t - seg.start_s) / seg.sixteenth_s)
        miss = t - (seg.start_s + (index - seg.first_index) * seg.sixteenth_s)
        if abs(miss) <= tolerance and index > last_index:
            steps = index - seg.first_index
            sum_jt += steps * (t - seg.start_s)
            sum_jj += steps * steps
            last_index, misses = index, []
            seg = Segment(seg.first_index, seg.start_s, sum_jt / sum_jj)
            i += 1
            continue
        misses.append(i)
        if len(misses) < MISSES:
            i += 1
            continue
        join_s = seg.start_s + (last_index - seg.first_index) * seg.sixteenth_s
        sixteenth = _best_period(onsets[misses[0]:misses[0] + LOOKAHEAD], join_s,
                                 seg.sixteenth_s, float(sixteenths[misses[0]]), tolerance)
        if sum_jj:
            segments.append(seg)
            i = misses[0]  # the missed onsets are read again against the new segment
        else:
            i = misses[-1] + 1  # a fresh segment that fit nothing: they are no notes of it
        seg = Segment(last_index, join_s, sixteenth)
        sum_jt = sum_jj = 0.0
        misses = []
    segments.append(seg)
    return segments


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


def grid_points(segments: list[Segment], end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(16th indices, seconds) of every grid point from 0 s to ``end_s``; the first
    segment runs back to 0 s and the last one on to ``end_s``."""
    first, last = segments[0], segments[-1]
    lo = first.first_index - int(first.start_s // first.sixteenth_s)
    hi = last.first_index + int((end_s - last.start_s) // last.sixteenth_s)
    index = np.arange(lo, hi + 1)
    starts = np.array([s.first_index for s in segments])
    which = np.clip(np.searchsorted(starts, index, side="right") - 1, 0, len(segments) - 1)
    first_index = starts[which]
    start_s = np.array([s.start_s for s in segments])[which]
    sixteenth_s = np.array([s.sixteenth_s for s in segments])[which]
    return index, start_s + (index - first_index) * sixteenth_s


def beat_phase(index: np.ndarray, times: np.ndarray, onsets: np.ndarray,
               strengths: np.ndarray, sixteenths: np.ndarray) -> int:
    """The grid index residue (0..3, mod 4) the beats fall on: the one with most note weight
    (strength relative to the median, after-rest notes weighted up, see the module text)."""
    position = np.interp(onsets, times, index)
    nearest = np.rint(position).astype(int)
    votes = np.abs(position - nearest) < _PHASE_WINDOW
    rest = np.diff(onsets, prepend=-np.inf) >= REST_BEATS * 4 * sixteenths
    weight = strengths / (np.median(strengths) + 1e-9) * (1 + AFTER_REST_BONUS * rest)
    totals = np.bincount(nearest[votes] % 4, weights=weight[votes], minlength=4)
    return int(np.argmax(totals))
