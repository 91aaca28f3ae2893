"""Note onsets: peak picking on one onset envelope, latency correction, grid quantisation.

chart-generation.md §0.2/§2.3 measured librosa's default onsets +31…+34 ms late on rendered
instruments (hop 512, and ``onset_strength`` shifting a centred envelope by another
n_fft / 2). Here the envelope comes from our own centred 1024-point STFT with ``center=False``
(no extra shift), hop 256, and each peak is refined to sub-frame precision by parabolic
interpolation, so the 11.6 ms frame grid adds no ±5.8 ms error of its own. ``LAG_S`` is the
systematic lag left, calibrated with bench/bench_generator.py's songs: the median signed
offset of raw onsets vs the human notes was +1.0 ms on the rendered guitar stems and −2.6 ms
with the full-mix band focus (medians over 7 songs), so the calibrated correction is 0 ms. Synthetic tones with a 2 ms attack come out ~8 ms
early (tests/generator), an instrument with a slower attack later; the tests hold the
end-to-end offset to ±10 ms.

Quantisation (§5.5 rule 2): each onset moves to the nearer of the tempo map's 1/16-note
(48-tick) and 1/12-note (64-tick, eighth-triplet) grid points if that point is within
``SNAP_S``; onsets farther from both grids are dropped (they are flams, ornaments or errors).
"""
from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from content.generator.spectrum import HOP, Spectrum
from content.generator.tempo import RESOLUTION, TempoMap

LAG_S = 0.0  # systematic lag to subtract, seconds (calibration above)
# Peak threshold above the local mean, on the envelope normalised to 0..1. librosa's 0.07
# missed repeated and fast notes on rendered guitar stems (bench: recall 0.84, onset F@50
# 0.914); 0.03 gave recall 0.96 at precision 1.00 (F 0.979); 0.01 let noise through (P 0.85).
PEAK_DELTA = 0.03
SNAP_S = 0.025  # the widest move onto the grid
MIN_GAP_S = 0.020  # scan-chart's brokenNote fires at ≤ 15 ms between notes; keep a margin
_GRID = sorted({*range(0, RESOLUTION + 1, RESOLUTION // 4), *range(0, RESOLUTION + 1,
                                                                  RESOLUTION // 3)})


@dataclass(frozen=True, slots=True)
class Onset:
    """A detected note start: ``seconds`` (lag-corrected), ``strength`` (envelope units)."""

    seconds: float
    strength: float


@dataclass(frozen=True, slots=True)
class GridOnset:
    """An onset placed on the chart grid: ``tick``, its exact grid ``seconds``, ``strength``."""

    tick: int
    seconds: float
    strength: float


def detect(spec: Spectrum, *, focus: bool = False) -> list[Onset]:
    """Onsets of the signal ``spec`` describes, lag-corrected, in time order.

    focus: listen only to the guitar's band (``spectrum.FOCUS_BAND_HZ``), for a full mix.
    """
    env = spec.focus_envelope if focus else spec.envelope
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=spec.sr, hop_length=HOP,
                                        units="frames", delta=PEAK_DELTA)
    frames = frames[(frames > 0) & (frames < len(env) - 1)]
    left, mid, right = env[frames - 1], env[frames], env[frames + 1]
    # Vertex of the parabola through the peak and its neighbours, in frames (|offset| ≤ ½).
    denom = left - 2 * mid + right
    offset = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1), 0.0)
    seconds = (frames + np.clip(offset, -0.5, 0.5)) * spec.frame_seconds - LAG_S
    return [Onset(float(t), float(s)) for t, s in zip(seconds, mid, strict=True) if t >= 0]


def quantise(onsets: list[Onset], tempo: TempoMap) -> list[GridOnset]:
    """``onsets`` snapped to the 1/16 + 1/12 grid of ``tempo``; unsnappable ones dropped.

    Two onsets that land on one tick, or closer than ``MIN_GAP_S``, keep the stronger.
    """
    placed: list[GridOnset] = []
    for onset in onsets:
        beat_tick = int(tempo.ticks(onset.seconds) // RESOLUTION) * RESOLUTION
        best = min((beat_tick + g for g in _GRID),
                   key=lambda t: abs(tempo.seconds(t) - onset.seconds))
        grid_s = tempo.seconds(best)
        if abs(grid_s - onset.seconds) > SNAP_S:
            continue
        if placed and (best == placed[-1].tick or grid_s - placed[-1].seconds < MIN_GAP_S):
            if onset.strength > placed[-1].strength:
                placed[-1] = GridOnset(best, grid_s, onset.strength)
            continue
        placed.append(GridOnset(best, grid_s, onset.strength))
    return placed
