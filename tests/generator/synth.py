"""Synthetic songs for the generator tests, rendered at test time (no audio in git).

A song is a list of tempo segments; on every beat a drum "thump" (low sine burst + noise
click), and on a seeded rhythm of 8th/16th notes a harmonic tone with a sharp attack whose
pitch follows a random walk on the minor pentatonic scale. The true times of every beat and
every tone are known exactly, so tests can measure the generator against them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

SR = 44100  # written at CD rate so decoding goes through the resampler too
PENTATONIC = (0, 3, 5, 7, 10)


@dataclass(frozen=True)
class Synth:
    """Ground truth of one rendered song: times in seconds, MIDI pitches."""

    beats: np.ndarray
    tones: np.ndarray
    pitches: np.ndarray
    mix: np.ndarray  # the whole song (drums + tones), mono float32 at SR
    lead: np.ndarray  # the tones alone


def _tone(pitch: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    wave = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 7))
    # 2 ms attack; a 50 ms fade at the end, since a hard cut is a click (a false onset).
    envelope = (np.exp(-t / 0.25) * np.minimum(1.0, t / 0.002)
                * np.minimum(1.0, (seconds - t) / 0.05))
    return (wave * envelope * 0.12).astype(np.float32)


def _thump(rng: np.random.Generator) -> np.ndarray:
    # 0.25 s: the body has decayed below -70 dB, so the end is no click (a cut at 80 ms was
    # one, a false onset 75 ms after every beat).
    t = np.arange(int(0.25 * SR)) / SR
    body = np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.03)
    click = rng.standard_normal(len(t)) * np.exp(-t / 0.004) * 0.3
    return ((body + click) * 0.5).astype(np.float32)


def render(segments: list[tuple[float, int]], *, start: float = 0.5, seed: int = 1) -> Synth:
    """Song with ``segments`` = [(BPM, beats), …] starting ``start`` s in."""
    rng = np.random.default_rng(seed)
    beats, tones, pitches = [], [], []
    t, pitch_idx = start, 7
    for bpm, count in segments:
        period = 60.0 / bpm
        for beat in range(count):
            beats.append(t + beat * period)
            cell = rng.choice(4, p=[0.45, 0.25, 0.2, 0.1])  # 8ths, 16ths, quarter, rest
            offsets = {0: (0, 0.5), 1: (0, 0.25, 0.5, 0.75), 2: (0,), 3: ()}[int(cell)]
            for off in offsets:
                pitch_idx = int(np.clip(pitch_idx + rng.integers(-2, 3), 0, 14))
                tones.append(t + (beat + off) * period)
                pitches.append(40 + 12 * (pitch_idx // 5) + PENTATONIC[pitch_idx % 5])
        t += count * period
    length = int((t + 1.5) * SR)
    mix, lead = np.zeros(length, np.float32), np.zeros(length, np.float32)
    for b in beats:
        thump = _thump(rng)
        i = int(round(b * SR))
        mix[i:i + len(thump)] += thump
    for tone_t, p in zip(tones, pitches, strict=True):
        tone = _tone(p, 0.4)
        i = int(round(tone_t * SR))
        end = min(length, i + len(tone))
        lead[i:end] += tone[:end - i]
    mix += lead
    return Synth(np.array(beats), np.array(tones), np.array(pitches), mix, lead)


def _sixteenths(tones: Sequence[float], pitches: Sequence[int], gains: Sequence[float],
                seconds: float, length_s: float) -> np.ndarray:
    """Tones of ``seconds`` each at ``tones`` (s) with ``pitches`` and ``gains``, mono at SR."""
    lead = np.zeros(int(length_s * SR), np.float32)
    for tone_t, pitch, gain in zip(tones, pitches, gains, strict=True):
        tone = _tone(int(pitch), seconds) * gain
        i = int(round(tone_t * SR))
        lead[i:i + len(tone)] += tone[:max(0, len(lead) - i)]
    return lead


# Accented sixteenths of a bar grouped 3+3+3+3+4, a common metal/prog riff: its accents recur
# every 3 sixteenths (a dotted 8th, 4/3 of the tempo) more often than every 4.
DOTTED_ACCENTS = (0, 3, 6, 9, 12)


def syncopated(bpm: float, beats: int, *, drums: bool, start: float = 0.5,
               seed: int = 4) -> Synth:
    """Unbroken 16th-note tones accented 3+3+3+3+4 (``DOTTED_ACCENTS``; the others at a third
    of the level), and with ``drums`` a thump on every beat; ``beats`` at ``bpm`` from
    ``start`` s.

    The lead alone has no onset on the beat that is stronger than the syncopated accents
    between beats; only its subdivision into 8ths and 16ths tells the beat's length.
    """
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    steps = np.arange(beats * 4)
    tones = start + steps * period / 4
    beat_times = tones[::4]
    gains = np.where(np.isin(steps % 16, DOTTED_ACCENTS), 1.0, 1 / 3)
    pitches = 40 + np.array(PENTATONIC)[rng.integers(0, 5, len(steps))] + 12 * (steps % 8 == 0)
    lead = _sixteenths(tones, pitches, gains, period / 4, tones[-1] + 1.5)
    mix = lead.copy()
    if drums:
        for b in beat_times:
            thump = _thump(rng)
            i = int(round(b * SR))
            mix[i:i + len(thump)] += thump
    return Synth(beat_times, tones, pitches, mix, lead)


def fast_run(gap: float, *, start: float = 1.5, end: float = 11.0, seed: int = 3) -> Synth:
    """A crash (a full-scale noise burst at 0.5 s), then a scale run up and down with a tone
    every ``gap`` s from ``start`` to ``end``, each ringing on under the next.

    The crash is the onset envelope's maximum; every run note rises only a little above the
    previous notes' ringing, the way fast guitar runs do after a loud hit. ``beats`` is empty.
    """
    rng = np.random.default_rng(seed)
    length = int((end + 1.5) * SR)
    mix = np.zeros(length, np.float32)
    burst = int(0.2 * SR)
    i = int(0.5 * SR)
    mix[i:i + burst] = (0.9 * rng.standard_normal(burst)
                        * np.exp(-np.arange(burst) / SR / 0.05)).astype(np.float32)
    tones = np.arange(start, end, gap)
    steps = (0, 2, 4, 5, 7, 5, 4, 2)
    pitches = 57 + np.array([steps[k % len(steps)] for k in range(len(tones))])
    lead = np.zeros(length, np.float32)
    for tone_t, pitch in zip(tones, pitches, strict=True):
        tone = _tone(int(pitch), 1.0) * 0.4
        i = int(round(tone_t * SR))
        lead[i:i + len(tone)] += tone
    mix += lead
    return Synth(np.array([]), tones, pitches, mix, lead)


def shuffle(bpm: float, beats: int, *, start: float = 0.5, seed: int = 6) -> Synth:
    """A shuffle, ``beats`` at ``bpm`` from ``start`` s: on each beat the lead plays swung 8ths
    (on the beat and two thirds into it), a triplet, or a quarter note, on random pentatonic
    pitches; a kick (``_thump``) on beats 1 and 3 of each bar, a snare (``snares``) on 2 and
    4, and a hi-hat (a 10 ms noise tick) on the swung 8ths. ``lead`` is the tones, ``mix``
    all of it."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    beat_times = start + np.arange(beats) * period
    tones = swung_eighths(beat_times, rng)
    pitches = 45 + np.array(PENTATONIC)[rng.integers(0, 5, len(tones))]
    lead = _sixteenths(tones, pitches, np.ones(len(tones)), 0.3, beat_times[-1] + 1.5)
    mix = lead + snares(beat_times[1::2], len(lead))
    tick = np.arange(int(0.05 * SR)) / SR
    hat = (rng.standard_normal(len(tick)) * np.exp(-tick / 0.01) * 0.15).astype(np.float32)
    for swung in np.concatenate([beat_times, beat_times + 2 * period / 3]):
        i = int(round(swung * SR))
        mix[i:i + len(hat)] += hat[:max(0, len(mix) - i)]
    for b in beat_times[::2]:
        thump = _thump(rng)
        i = int(round(b * SR))
        mix[i:i + len(thump)] += thump
    return Synth(beat_times, tones, pitches, mix, lead)


def swung_eighths(beat_times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Note times (s) of a shuffle over evenly spaced ``beat_times`` (s): on each beat, at
    random, swung 8ths (on the beat and two thirds into it), a triplet or a quarter note."""
    period = float(np.median(np.diff(beat_times)))
    cells = ((0, 2), (0, 1, 2), (0,), (0, 2))
    return np.array([t + third * period / 3 for t in beat_times
                     for third in cells[rng.integers(0, len(cells))]])


def snares(times: Sequence[float], length: int, *, seed: int = 5) -> np.ndarray:
    """Snare-like hits at ``times`` (s), ``length`` samples mono at SR: full-band noise whose
    amplitude falls by e every 40 ms (T60 0.28 s). Each rises in the guitar's band as much as
    a note does, but its power is mostly gone 50 ms on, where a note's rings on."""
    rng = np.random.default_rng(seed)
    out = np.zeros(length, np.float32)
    t = np.arange(int(0.25 * SR)) / SR
    for hit in times:
        burst = rng.standard_normal(len(t)) * np.exp(-t / 0.04) * 0.3
        i = int(round(hit * SR))
        out[i:i + len(t)] += burst[:max(0, length - i)].astype(np.float32)
    return out


def write(path: Path, samples: np.ndarray) -> Path:
    soundfile.write(path, samples, SR)
    return path


def phrase_rhythm(beat_times: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Note times (s) and gains of 16th-note phrases over ``beat_times``: three bars of notes
    (each 16th after the beat left out one time in four), then a bar of rest. The note on
    the beat is accented (gain 1.0, others 0.4), except in the middle third of the song,
    where the 16th after it is: the pull that makes a tracker slip a 16th on a stem with no
    drums."""
    periods = np.diff(beat_times, append=2 * beat_times[-1] - beat_times[-2])
    tones, gains = [], []
    for beat, (beat_t, period) in enumerate(zip(beat_times, periods, strict=True)):
        if (beat // 4) % 4 == 3:
            continue
        middle = len(beat_times) // 3 < beat < 2 * len(beat_times) // 3
        for sixteenth in range(4):
            if sixteenth and rng.random() < 0.25:
                continue
            tones.append(beat_t + sixteenth * period / 4)
            gains.append(1.0 if sixteenth == (1 if middle else 0) else 0.4)
    return np.array(tones), np.array(gains)


def phrased(bpm: float, bars: int, *, start: float = 0.5, seed: int = 1) -> Synth:
    """A lone guitar stem playing ``phrase_rhythm`` on random pentatonic pitches, ``bars`` at
    ``bpm`` from ``start`` s. ``mix`` and ``lead`` are the same."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    beat_times = start + np.arange(bars * 4) * period
    tones, gains = phrase_rhythm(beat_times, rng)
    pitches = (40 + np.array(PENTATONIC)[rng.integers(0, 5, len(tones))]
               + 12 * rng.integers(0, 2, len(tones)))
    lead = _sixteenths(tones, pitches, gains, period / 4, beat_times[-1] + 2.0)
    return Synth(beat_times, tones, pitches, lead, lead)


def bass_line(beat_times: np.ndarray, *, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(note times in s, mono samples at SR) of a bass part over ``beat_times``: on each beat a
    quarter note or two 8ths (one beat in eight rests), low pentatonic pitches (E1…E3), each
    note held until the next."""
    rng = np.random.default_rng(seed)
    period = float(np.median(np.diff(beat_times)))
    times = [t + off * period for t in beat_times if rng.random() >= 0.125
             for off in ((0.0,) if rng.random() < 0.5 else (0.0, 0.5))]
    pitches = 28 + np.array(PENTATONIC)[rng.integers(0, 5, len(times))] + 12 * rng.integers(
        0, 2, len(times))
    samples = _sixteenths(times, pitches, np.ones(len(times)), period / 2,
                          beat_times[-1] + 2.0)
    return np.array(times), samples


def oom_pah(bpm: float, bars: int, per_bar: int, *, start: float = 0.5, seed: int = 2) -> Synth:
    """Bars of ``per_bar`` beats as a waltz's accompaniment plays them: the kick's thump on
    the bar's first beat, a short chord on the others ("oom-pah-pah"), and lead tones on 8th
    notes (one in five left out) over them; ``bars`` bars at ``bpm`` from ``start`` s. Bars
    start at ``beats[::per_bar]``."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    beats = start + np.arange(bars * per_bar) * period
    eighths = start + np.arange(bars * per_bar * 2) * period / 2
    tones = eighths[rng.random(len(eighths)) >= 0.2]
    pitches = 64 + np.array(PENTATONIC)[rng.integers(0, 5, len(tones))]
    lead = _sixteenths(tones, pitches, np.full(len(tones), 0.5), period / 2, beats[-1] + 2.0)
    mix = lead.copy()
    for beat, t in enumerate(beats):
        i = int(round(t * SR))
        sound = (_thump(rng) if beat % per_bar == 0
                 else sum(_tone(p, period / 2) for p in (52, 55, 59)) * 0.8)
        mix[i:i + len(sound)] += sound[:max(0, len(mix) - i)]
    return Synth(beats, tones, pitches, mix, lead)


# Triads (MIDI pitches) of I - IV - V - vi in C: each differs from the one before.
CHORDS = ((48, 52, 55), (53, 57, 60), (55, 59, 62), (57, 60, 64))


def chord_per_bar(bpm: float, bars: int, *, first_bar: int = 0, start: float = 0.5,
                  seed: int = 3) -> Synth:
    """A thump and a chord struck on every beat, the chord changing (``CHORDS`` in turn) at
    each bar of four beats, bars starting at beat ``first_bar``: the kick does not tell the
    bar, the harmony does. ``beats`` are every beat; ``tones`` the bar lines."""
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    beats = start + np.arange(first_bar + bars * 4) * period
    mix = np.zeros(int((beats[-1] + 2.0) * SR), np.float32)
    for beat, t in enumerate(beats):
        chord = CHORDS[((beat - first_bar) // 4) % len(CHORDS)]
        tones, thump = sum(_tone(p, period) for p in chord) * 0.8, _thump(rng)
        sound = np.zeros(max(len(tones), len(thump)), np.float32)
        sound[:len(tones)] += tones
        sound[:len(thump)] += thump
        i = int(round(t * SR))
        mix[i:i + len(sound)] += sound[:max(0, len(mix) - i)]
    return Synth(beats, beats[first_bar::4], np.array([]), mix, mix)
