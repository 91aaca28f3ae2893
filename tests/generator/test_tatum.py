"""The 16th grid of a lone stem's notes keeps the beat where the tracker slips a 16th."""
from __future__ import annotations

import numpy as np

from content.generator.tatum import follow_grid, stem_beats
from tests.generator.synth import phrase_rhythm


def _riff(beats: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Onsets (s, detected within a few ms) and strengths of ``synth.phrase_rhythm``."""
    times, gains = phrase_rhythm(beats, rng)
    return times + rng.normal(0, 0.003, len(times)), gains


def _near(found: np.ndarray, truth: np.ndarray, inside: tuple[float, float]) -> float:
    """Share of the true beats within ``inside`` (s) with a found beat within 15 ms."""
    truth = truth[(truth > inside[0]) & (truth < inside[1])]
    gaps = np.abs(found[:, np.newaxis] - truth[np.newaxis, :]).min(axis=0)
    return float(np.mean(gaps < 0.015))


def test_beats_stay_on_the_beat_where_the_tracker_slipped_a_sixteenth() -> None:
    rng = np.random.default_rng(3)
    truth = 1.0 + np.arange(240) * 0.5  # 120 BPM
    onsets, strengths = _riff(truth, rng)
    # What the tracker does on such a stem: the middle third a 16th late, pulled by accents.
    tracked = truth + np.where((truth > truth[80]) & (truth < truth[160]), 0.125, 0.0)
    beats = stem_beats(tracked, onsets, strengths)
    assert _near(beats, truth, (truth[2], truth[-6])) >= 0.98
    assert _near(tracked, truth, (truth[2], truth[-6])) < 0.7  # the test's premise


def test_the_grid_follows_a_tempo_change_without_losing_its_count() -> None:
    rng = np.random.default_rng(5)
    slow = 1.0 + np.arange(97) * 0.5  # 120 BPM, then 150 BPM from 49 s
    truth = np.concatenate([slow, slow[-1] + np.arange(1, 121) * 0.4])
    onsets, strengths = _riff(truth, rng)
    beats = stem_beats(truth, onsets, strengths)
    assert _near(beats, truth, (truth[2], truth[-6])) >= 0.95
    segments = follow_grid(onsets, np.interp(onsets, truth[:-1], np.diff(truth)) / 4)
    # 16th periods found: 125 ms, then 100 ms, each within 0.5 %.
    periods = [s.sixteenth_s for s in segments]
    assert abs(periods[0] - 0.125) < 0.000625 and abs(periods[-1] - 0.1) < 0.0005


def test_too_few_onsets_leave_the_tracked_beats_as_they_are() -> None:
    tracked = np.arange(1, 20) * 0.5
    assert stem_beats(tracked, np.array([1.0, 2.0]), np.array([1.0, 1.0])) is tracked
