"""Note onsets: peak picking on one onset envelope, latency correction, grid quantisation.

chart-generation.md §0.2/§2.3 measured librosa's default onsets +31…+34 ms late on rendered
instruments (hop 512, and ``onset_strength`` shifting a centred envelope by another
n_fft / 2). Here the envelope comes from our own centred 1024-point STFT with ``center=False``
(no extra shift) at hop 256, peaks are picked by librosa, and each onset is then timed where
the envelope's rise into the peak first passes ``RISE_FRACTION`` of its height (linear
interpolation between frames) rather than at the peak: the peak comes one or two frames
late on some attacks (a bimodal 0 / +22 ms error on fast repeated notes), the rise does not.
On the benchmark's rendered guitar stems this raised the share of onsets within ±12.5 ms of
the song's median offset from 0.80 to 0.89 (median over 9 songs) and guitar-stem F@25 from
0.935 to 0.949. ``LAG_S`` is the systematic lag left, calibrated with
bench/bench_generator.py: rise times were a median 12.9 ms *early* against the human notes
(median over the 9 songs' medians, spread −17…−3 ms), so 12.9 ms are added back. Synthetic
tones with a 2 ms attack come out ~7 ms early (tests/generator hold ±10 ms).

In a full mix (``focus``), 80–95 % of the onsets that match no guitar note sit on drum hits
(raw onsets on the 54 rendered fixture mixes: recall 0.92, precision 0.59). A drum hit's power
is mostly gone within ~50 ms; a note rings on (a sustained note for its length, a short one
until the next). So an onset is charted (``notes``) only where at least ``HELD_SHARE`` of the
power it adds to the focus band is still there ``HELD_FRAMES`` frames (58 ms) after its peak
(``held_share``); every onset still counts as evidence of the tempo (the drums' 16ths tell a
tempo from its half: from the held ones alone, Sleep Deprived Cooked Alive was tracked at half
its tempo). On those 54 mixes raw onset F@50 rose from a median 0.675 to 0.742 (precision 0.59
→ 0.72, recall 0.92 → 0.87; 48 songs better by more than 0.01, 3 worse by at most 0.02), and
the charts' F@50 from 0.678 to 0.735 and F@25 from 0.650 to 0.708, their beat F unchanged
(``bench/bench_generator.py``). Chosen on half of the songs (odd / even), the best delay and
share raised the other half's median by 0.021 and 0.085. 46 ms / 0.2 scored 0.749 on all 54,
but a snare with a 0.28 s T60 still held a third of its power at 46 ms; 70 ms / 0.2 scored
0.725. The renders' notes without sustain stop short where a played guitar note would ring,
which favours the shorter delays. Harmonic–percussive separation by median filtering
(Fitzgerald, DAFx 2010) scored 0.70–0.72 on the same mixes and kept snares over held tones on
synthetic audio. Where fewer than ``MIN_HELD`` of a mix's onsets hold (drums alone: synthetic
thumps keep none; the 54 mixes keep 20–99 %), every onset is charted: a rhythm to play beats no
chart. The cost: a clean note whose amplitude falls by e every 40 ms decays as that snare (T60
0.28 s) does, and about half of a run of them (synthetic 16ths) are dropped; through an amp's
saturation, which flattens the decay as in palm-muted chugs, 76–83 % are kept. Spectral
flatness of the rise, to keep tonal onsets, kept drum hits as well (precision 0.72 → 0.64), and
a share of 0.15 scored as 0.25 on the renders but let most such snares through.

A steady background (an amp's hiss, a separated stem's bleed, a live room) keeps every band's
dB level moving, so the flux between notes is a string of small peaks, and librosa's peak
picking, whose threshold sits a fixed ``PEAK_DELTA`` above the local mean of an envelope scaled
by its highest peak, takes many of them for notes: in the rests, and in the bands a held note
leaves free. Renders are digitally silent there; recordings never are. So an onset must also
stand out of the background (``_over_background``): the envelope at least
``BACKGROUND_RATIO`` times its running median over ``BACKGROUND_S`` (the background's own
flux), and the frame's power at least ``FLOOR_MARGIN_DB`` over the song's noise floor (its
quietest ``FLOOR_PERCENTILE`` % of frames), which no flux peak of the noise in a rest reaches.
With pink noise 40 and 27 dB below the playing level of the 54 rendered fixture guitar stems,
raw onset F@50 rose from a median 0.909 to 0.963 and from 0.739 to 0.933 (precision 0.86 →
0.97 and 0.59 → 0.93; the ratio alone gave 0.937 and 0.879, the floor alone 0.955 and 0.905);
on the clean stems no song moved by more than 0.003 (median 0.962 → 0.961). On 30 full mixes
(focus onsets, held ones) no clean song moved by more than 0.001, and with the noise F@50 rose
from 0.753 to 0.765 and from 0.732 to 0.750. A ratio of 1.75 cost 12 clean stems up to 0.02;
a floor from the quietest 10 % with a 15 dB margin cost 2 clean stems 0.12 (a part that never
rests is its own floor), while the quietest 2 % or 5 % with margins of 6 to 15 dB cost none.

Quantisation (§5.5 rule 2): each onset moves to the nearer of the tempo map's 1/16-note
(48-tick) and 1/12-note (64-tick, eighth-triplet) grid points if that point is within
``SNAP_S``; onsets farther from both grids are dropped (they are flams, ornaments or errors).
"""
from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
from scipy import ndimage

from content.generator.spectrum import HOP, Spectrum, focus_bands
from content.generator.tempo import RESOLUTION, TempoMap

LAG_S = -0.0129  # systematic lag to subtract, seconds (calibration above)
RISE_FRACTION = 0.3  # an onset is where its envelope rise passes 30 % of the way to the peak
RISE_FRAMES = 3  # how far before the peak the rise is looked for (35 ms)
# Peak threshold above the local mean, on the envelope normalised to 0..1. librosa's 0.07
# missed repeated and fast notes on rendered guitar stems (bench: recall 0.84, onset F@50
# 0.914); 0.03 gave recall 0.96 at precision 1.00 (F 0.979); 0.01 let noise through (P 0.85).
# A held-out set of 12 stems still lost notes at 0.03 (raw onset F@50 median 0.917, recall
# down to 0.47): fast runs ring into each other, so each note rises only ~0.02 above the
# local mean of an envelope scaled by the song's loudest hit. 0.02 keeps them (held-out
# median 0.952, precision ≥ 0.97 but one song at 0.88) and leaves the tuning set as it was
# (0.979 → 0.980); 0.015 gains 0.004 held-out and loses 0.008 on the tuning set.
PEAK_DELTA = 0.02
BACKGROUND_RATIO = 1.5  # least height of an onset over the envelope's running median
BACKGROUND_S = 1.0  # the running median's window (module text)
FLOOR_PERCENTILE = 2.0  # the quietest 2 % of frames: the noise floor between notes
FLOOR_MARGIN_DB = 10.0  # least power of an onset over that floor (module text)
HELD_SHARE = 0.25  # least share of its added power a full mix's onset holds (module text)
HELD_FRAMES = 5  # how much later that share is measured (58 ms)
MIN_HELD = 0.1  # fewer of a mix's onsets held: none are dropped (module text)
SNAP_S = 0.025  # the widest move onto the grid
MIN_GAP_S = 0.020  # scan-chart's brokenNote fires at ≤ 15 ms between notes; keep a margin
_GRID = sorted({*range(0, RESOLUTION + 1, RESOLUTION // 4), *range(0, RESOLUTION + 1,
                                                                  RESOLUTION // 3)})


@dataclass(frozen=True, slots=True)
class Onset:
    """A detected note start: ``seconds`` (lag-corrected), ``strength`` (envelope units),
    ``held``: it rings on as a note does (``held_share``; always true but in a full mix)."""

    seconds: float
    strength: float
    held: bool = True


@dataclass(frozen=True, slots=True)
class GridOnset:
    """An onset placed on the chart grid: ``tick``, its exact grid ``seconds``, ``strength``."""

    tick: int
    seconds: float
    strength: float


def detect(spec: Spectrum, *, focus: bool = False) -> list[Onset]:
    """Onsets of the signal ``spec`` describes, lag-corrected, in time order.

    focus: listen only to the guitar's band (``spectrum.FOCUS_BAND_HZ``), for a full mix, and
    mark which onsets are held (``Onset.held``; ``notes`` keeps those).
    """
    env = spec.focus_envelope if focus else spec.envelope
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=spec.sr, hop_length=HOP,
                                        units="frames", delta=PEAK_DELTA)
    frames = frames[frames >= RISE_FRAMES]
    frames = frames[_over_background(spec, env, frames)]
    held = held_share(spec, frames) >= HELD_SHARE if focus else np.ones(len(frames), bool)
    # The envelope over the peak frame and the RISE_FRAMES before it, shape (onsets, R + 1).
    window = env[frames[:, np.newaxis] + np.arange(-RISE_FRAMES, 1)]
    base = window.min(axis=1)
    level = base + RISE_FRACTION * (window[:, -1] - base)
    above = window >= level[:, np.newaxis]
    # Length of the run of frames at or above the level that ends at the peak.
    run = np.where(above.all(axis=1), RISE_FRAMES + 1, np.argmin(above[:, ::-1], axis=1))
    first = RISE_FRAMES + 1 - run  # index in the window of the first frame of that run
    rows = np.arange(len(frames))
    before = window[rows, np.maximum(first - 1, 0)]
    after = window[rows, first]
    # Where the envelope crosses the level, linearly interpolated between the two frames.
    step = np.where((first > 0) & (after > before),
                    (level - before) / np.where(after > before, after - before, 1.0), 1.0)
    crossing = frames - RISE_FRAMES + first - 1 + np.clip(step, 0.0, 1.0)
    seconds = crossing * spec.frame_seconds - LAG_S
    return [Onset(float(t), float(s), bool(h))
            for t, s, h in zip(seconds, env[frames], held, strict=True) if t >= 0]


def _over_background(spec: Spectrum, envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Which peak ``frames`` (int) of ``envelope`` (``spec``'s, or its focus band's) stand out
    of a steady background (bool, shape of ``frames``; module text): the envelope at least
    ``BACKGROUND_RATIO`` times its running median over ``BACKGROUND_S``, and the power of the
    peak frame or the next two at least ``FLOOR_MARGIN_DB`` dB over the noise floor, the
    ``FLOOR_PERCENTILE``-th percentile of every frame's power."""
    width = 2 * int(BACKGROUND_S / spec.frame_seconds / 2) + 1
    median = ndimage.median_filter(envelope, width, mode="nearest")
    power = ndimage.maximum_filter1d(spec.energy_db, 3, origin=-1, mode="nearest")
    floor = np.percentile(spec.energy_db, FLOOR_PERCENTILE)
    return ((envelope[frames] >= BACKGROUND_RATIO * median[frames])
            & (power[frames] >= floor + FLOOR_MARGIN_DB))


def notes(onsets: list[Onset]) -> list[Onset]:
    """The ``onsets`` to chart as notes: the held ones, or all of them where fewer than
    ``MIN_HELD`` are held (a mix of drums alone has only its hits to chart)."""
    held = [o for o in onsets if o.held]
    return held if len(held) >= MIN_HELD * len(onsets) else onsets


def held_share(spec: Spectrum, frames: np.ndarray) -> np.ndarray:
    """For each peak frame in ``frames`` (int), the share (0..1) of the power an onset adds to
    the focus band that is still there ``HELD_FRAMES`` frames later (module text).

    Per mel band, in power: the rise from two frames before the peak to the highest of the
    peak frame and the two after, and how much of that rise is left at the later frame (at
    most all of it, so a next note sounding by then counts as held, not as more).
    """
    band_db = spec.mel_db[focus_bands(spec.sr)]

    def power(at: np.ndarray) -> np.ndarray:  # (bands, *at.shape)
        return 10 ** (band_db[:, np.clip(at, 0, spec.frames - 1)] / 10)

    before = power(frames - 2)
    peak = power(frames[:, np.newaxis] + np.arange(3)).max(axis=-1)
    later = power(frames + HELD_FRAMES)
    rise = np.maximum(peak - before, 0)
    left = np.clip(later - before, 0, rise)
    return left.sum(axis=0) / np.maximum(rise.sum(axis=0), 1e-12)


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
