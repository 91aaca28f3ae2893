"""Expert guitar notes: fret lanes from the pitch contour, chords, sustains.

Rules (chart-generation.md §5.2 "note consistency", §5.5 rule 3; C3 RBN "Guitar and Bass
Authoring"):

* Pitch: a harmonic-sum estimate from one 93 ms spectrum just after each onset (only at the
  notes, so no full-song pitch tracker — pYIN costs ~50 s per song, §4.2), among the notes
  the part's instrument can play: from ``GUITAR_LOWEST`` (B1, a seven-string guitar's low
  string) for guitar and rhythm, from E1 for bass and keys. In a full mix the bass line's
  fundamentals below B1 otherwise win the guitar's estimate: on the 54 rendered fixture
  mixes, consecutive notes moved as the human chart's lanes do 54.1 % of the time (median)
  against 51.6 % from E1, better on 26 songs and worse on 9 (``bench/bench_generator.py``,
  mix); the guitar stems' 89.7 % did not move. (From E2, a six-string's low string, scored
  59.0 %, but the renders play no guitar note below E2, which flatters that floor, and
  drop-tuned and seven-string guitars go lower.)
* Lanes: inside each section the distinct pitches are ranked; ≤ 5 pitches take consecutive
  lanes centred on the highway, more are bucketed by their occurrence-weighted rank, so the
  map is monotone (higher pitch → same or higher lane) and the same pitch keeps the same lane
  within the section. Where bucketing puts two different consecutive pitches on one lane the
  second note moves one lane in the direction of motion, so melodic motion stays visible.
* Chords: only on strong onsets (top ``CHORD_STRENGTH_Q`` of strengths) whose spectrum is
  harmonically rich (≥ ``CHORD_CLASSES`` pitch classes above half the strongest); 2 notes,
  3 when very rich.
* Sustains: where the lead's energy stays within ``HOLD_DB`` of the note's peak for ≥ ½ beat;
  the tail ends on the 1/16 grid at least ``SUSTAIN_GAP_S`` before the next note (scan-chart
  ``badSustainGap`` < 40 ms) and is dropped if shorter than ``MIN_SUSTAIN_S`` (``babySustain``
  < 100 ms). Otherwise length 0, because .chart sustains are never cut (§5.1).

Measured with bench/bench_generator.py on rendered guitar stems: consecutive notes move in
the same direction as the human chart's lanes 91 % of the time (median over 9 songs). Chord
detection is weak: its precision against the human chords is close to their base rate
(rendered single notes are already root + fifth, so pitch-class counts barely separate
chords from single notes; iterative harmonic subtraction did no better).
"""
from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from content.generator.audio import Audio
from content.generator.onsets import GridOnset
from content.generator.spectrum import Spectrum
from content.generator.tempo import RESOLUTION, TempoMap

LANES = 5
CHORD_STRENGTH_Q = 0.75
CHORD_CLASSES = 3
HOLD_DB = 12.0
SUSTAIN_GAP_S = 0.060
MIN_SUSTAIN_S = 0.110
_PITCH_WINDOW = 2048  # samples at 22 050 Hz = 93 ms
_PITCH_DELAY_S = 0.010  # skip the pick attack, whose noise has no pitch
LOWEST = 28  # MIDI E1: the lowest pitch candidate (bass, keys)
GUITAR_LOWEST = 35  # MIDI B1 (module text)
_HIGHEST = 88  # MIDI E6
_HARMONICS = 6


@dataclass(frozen=True, slots=True)
class Note:
    """One chart note (a chord is one ``Note`` with several lanes).

    tick: position (ticks at resolution 192). lanes: sorted lane numbers 0 (green) … 4
    (orange). length: sustain in ticks, 0 for none. strength: onset strength (envelope
    units), used to rank notes when reducing difficulties.
    """

    tick: int
    lanes: tuple[int, ...]
    length: int = 0
    strength: float = 0.0


@dataclass(frozen=True, slots=True)
class Tone:
    """The pitch content at one onset: ``midi`` (fractional MIDI number), ``classes``
    (how many pitch classes are above half the strongest one)."""

    midi: float
    classes: int


def tones(audio: Audio, onsets: list[GridOnset], *, lowest: int = LOWEST) -> list[Tone]:
    """Pitch estimate of each onset, from a short spectrum of ``audio`` just after it, among
    MIDI notes ``lowest`` … E6."""
    y, sr = audio.samples, audio.sr
    candidates = np.arange(lowest, _HIGHEST + 1)
    window = np.hanning(_PITCH_WINDOW)
    n_fft = 2 * _PITCH_WINDOW  # zero-padding: 5.4 Hz bins for the harmonic lookup
    freqs = librosa.midi_to_hz(candidates)
    weights = 0.8 ** np.arange(_HARMONICS)
    bins = np.outer(freqs, np.arange(1, _HARMONICS + 1)) * n_fft / sr
    freqs_fft = np.fft.rfftfreq(n_fft, 1 / sr)
    usable = (freqs_fft > 60) & (freqs_fft < 2000)  # guitar fundamentals and low harmonics
    pitch_class = np.rint(librosa.hz_to_midi(freqs_fft[usable])).astype(int) % 12
    starts = [int((o.seconds + _PITCH_DELAY_S) * sr) for o in onsets]
    frames = np.zeros((len(starts), _PITCH_WINDOW), dtype=np.float32)
    for row, start in zip(frames, starts, strict=True):
        piece = y[start:start + _PITCH_WINDOW]
        row[:len(piece)] = piece
    frames *= window
    mags = np.abs(np.fft.rfft(frames, n=n_fft, axis=1))
    idx = np.minimum(np.rint(bins).astype(int), mags.shape[1] - 1)
    level = np.log1p(mags / (mags.max(axis=1, keepdims=True) + 1e-12) * 100)
    salience = (level[:, idx] * weights).sum(axis=2)  # (notes, candidates)
    classes = (mags[:, usable] ** 2) @ np.eye(12)[pitch_class]  # (notes, 12)
    strong = (classes >= 0.5 * classes.max(axis=1, keepdims=True)).sum(axis=1)
    strong[classes.max(axis=1) <= 0] = 0
    best = candidates[np.argmax(salience, axis=1)]
    return [Tone(float(m), int(c)) for m, c in zip(best, strong, strict=True)]


def assign_lanes(tones_: list[Tone], groups: list[int]) -> list[int]:
    """Lane (0..4) of each note; ``groups`` gives each note's section number."""
    lanes = [0] * len(tones_)
    for group in sorted(set(groups)):
        members = [i for i, g in enumerate(groups) if g == group]
        pitches = np.array([round(tones_[i].midi) for i in members])
        distinct, counts = np.unique(pitches, return_counts=True)
        if len(distinct) <= LANES:
            offset = (LANES - len(distinct)) // 2
            lane_of = {p: offset + r for r, p in enumerate(distinct)}
        else:
            mid_rank = (np.cumsum(counts) - counts / 2) / counts.sum()
            lane_of = {p: min(LANES - 1, int(q * LANES)) for p, q in zip(distinct, mid_rank,
                                                                         strict=True)}
        previous: tuple[int, int] | None = None  # (pitch, lane) of the previous note
        for i, pitch in zip(members, pitches, strict=True):
            lane = lane_of[pitch]
            if previous and pitch != previous[0] and lane == previous[1]:
                step = 1 if pitch > previous[0] else -1
                lane = min(LANES - 1, max(0, lane + step))
            lanes[i] = lane
            previous = (pitch, lane)
    return lanes


def expert_notes(onsets: list[GridOnset], tones_: list[Tone], lanes: list[int],
                 lead: Spectrum, tempo: TempoMap, end_seconds: float) -> list[Note]:
    """[ExpertSingle]: one note per onset, with chords and sustains decided from the audio.

    end_seconds: the end of the audio (chart time); no sustain reaches past it.
    """
    if not onsets:
        return []
    strengths = np.array([o.strength for o in onsets])
    strong = np.quantile(strengths, CHORD_STRENGTH_Q)
    notes = []
    for i, (onset, tone, lane) in enumerate(zip(onsets, tones_, lanes, strict=True)):
        size = 1
        if onset.strength >= strong and tone.classes >= CHORD_CLASSES:
            size = 3 if tone.classes >= CHORD_CLASSES + 2 else 2
        low = min(lane, LANES - size)
        chord = tuple(range(low, low + size))
        next_s = onsets[i + 1].seconds if i + 1 < len(onsets) else end_seconds
        notes.append(Note(onset.tick, chord, sustain_ticks(onset, next_s, lead, tempo),
                          onset.strength))
    return notes


def sustain_ticks(onset: GridOnset, next_seconds: float, lead: Spectrum,
                  tempo: TempoMap) -> int:
    """Sustain length (ticks) of a note: 0 unless the sound is held for ≥ ½ beat.

    next_seconds: the next note (or the end of the audio); the sustain stops before it.
    """
    energy = lead.energy_db
    first = int(lead.frame_of(onset.seconds))
    peak = energy[first:first + 4].max()
    last = int(lead.frame_of(next_seconds))
    below = np.nonzero(energy[first:last] < peak - HOLD_DB)[0]
    end_frame = first + (int(below[0]) if below.size else last - first)
    end_s = min(end_frame * lead.frame_seconds, next_seconds - SUSTAIN_GAP_S)
    step = RESOLUTION // 4
    end_tick = int(tempo.ticks(end_s) // step) * step
    length = end_tick - onset.tick
    if length < RESOLUTION // 2 or tempo.seconds(end_tick) - onset.seconds < MIN_SUSTAIN_S:
        return 0
    return length
