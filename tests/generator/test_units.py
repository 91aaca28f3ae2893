"""Unit checks of the generator's parts: decoding, tempo map maths, smoothing, reductions."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mir_eval
import numpy as np
import pytest
import soundfile

from content.generator import lanes
from content.generator.audio import decode
from content.generator.lanes import Note
from content.generator.onsets import GridOnset, detect, notes
from content.generator.reduce import EASY, HARD, MEDIUM, reduce_all
from content.generator.spectrum import HOP, N_FFT, Spectrum, analyse
from content.generator.structure import (MIN_SECTION_BARS, _merge_short, _names,
                                         _segment_starts)
from content.generator.tags import read_tags
from content.generator.tempo import (RESOLUTION, TempoMap, build_tempo_map, downbeat_phase,
                                     fit_segments)
from tests.generator.synth import (SR, bass_line, chord_per_bar, fast_run, render, snares,
                                  write)


def test_tempo_map_converts_ticks_both_ways() -> None:
    tempo = TempoMap(((0, 120_000), (768, 60_000)))
    assert tempo.seconds(768) == pytest.approx(2.0)
    assert tempo.seconds(960) == pytest.approx(3.0)
    for tick in (0, 100, 768, 1000, 5000):
        assert tempo.ticks(tempo.seconds(tick)) == pytest.approx(tick)


def test_jitter_is_smoothed_and_a_tempo_change_kept() -> None:
    rng = np.random.default_rng(0)
    steady = 1.0 + 0.5 * np.arange(40)
    changed = steady[-1] + 0.6 * np.arange(1, 30)
    beats = np.concatenate([steady, changed]) + rng.uniform(-0.006, 0.006, 69)
    segments = fit_segments(beats)
    assert len(segments) == 2
    assert segments[0][2] == pytest.approx(0.5, rel=0.002)
    assert segments[1][2] == pytest.approx(0.6, rel=0.002)



def test_the_downbeat_is_the_kick_whose_peak_comes_a_frame_after_the_beat() -> None:
    # The beats' frames are rounded times; a kick's flux can peak on the next frame, while
    # softer hits on the other beats peak on theirs.
    sr, frames = 22050, 2000
    beats = np.arange(10, 1900, 43) * HOP / sr
    low = np.zeros(frames)
    beat_frames = np.rint(beats * sr / HOP).astype(int)
    low[beat_frames] = 0.3
    low[beat_frames[2::4] + 1] = 1.0
    silent = np.zeros((1 + N_FFT // 2, frames))  # no harmony to tell the bar
    spec = Spectrum(sr, silent, silent, low, low, low, silent[0])
    assert downbeat_phase(spec, beats) == 2


@pytest.mark.parametrize("first_bar", [0, 1, 2, 3])
def test_the_downbeat_is_where_the_chords_change_under_a_kick_on_every_beat(
        tmp_path: Path, first_bar: int) -> None:
    synth = chord_per_bar(100.0, 10, first_bar=first_bar)
    spec = analyse(decode(write(tmp_path / "song.wav", synth.mix)))
    assert downbeat_phase(spec, synth.beats) == first_bar

def test_lead_in_puts_the_downbeat_on_a_bar_line() -> None:
    beats = 2.0 + 0.5 * np.arange(32)
    tempo = build_tempo_map(beats, downbeat=1)
    tick = tempo.ticks(beats[1])
    assert tick == pytest.approx(round(tick / 768) * 768, abs=1)
    assert tempo.bpm_at(tick) == pytest.approx(120.0, abs=0.01)



def test_a_downbeat_soon_after_the_start_does_not_squeeze_a_bar_into_the_lead_in() -> None:
    # The first beat is a downbeat 0.39 s in (140 BPM): a whole bar of lead-in before it
    # would be 609 BPM. The lead-in takes the first bar instead, at the song's tempo.
    beats = 0.39 + 60 / 140 * np.arange(64)
    tempo = build_tempo_map(beats, downbeat=0)
    assert 140 / 1.5 <= tempo.bpm_at(0) <= 140 * 1.5
    tick = tempo.ticks(beats[4])
    assert tick == pytest.approx(round(tick / 768) * 768, abs=1)
    assert tempo.bpm_at(tick) == pytest.approx(140.0, abs=0.01)


def test_a_late_first_beat_gets_a_lead_in_at_the_song_tempo() -> None:
    # 30 s of silence before the first tracked beat: once 17 lead-in beats at 25 BPM.
    beats = 30.0 + 0.5 * np.arange(64)
    tempo = build_tempo_map(beats, downbeat=1)
    assert tempo.bpm_at(0) == pytest.approx(120.0, rel=0.1)
    tick = tempo.ticks(beats[1])
    assert tick == pytest.approx(round(tick / 768) * 768, abs=1)
    assert tempo.main_bpm(int(tempo.ticks(beats[-1]))) == pytest.approx(120.0, abs=0.01)


def test_main_bpm_is_the_median_over_the_song() -> None:
    # A live map: every B value differs a little; the most-ticks rule took the lead-in's.
    tempo = TempoMap(((0, 90000), (1920, 120500), (2880, 119500), (3840, 121000),
                      (4800, 120000), (5760, 119000)))
    assert tempo.main_bpm(6720) == 119.5  # half the ticks are at or below 119.5 BPM


def _dense_expert() -> list[Note]:
    """Eight bars of varied rhythm (16ths, triplets, 8ths) on all five lanes, some chords."""
    rng = np.random.default_rng(5)
    notes, tick = [], 0
    while tick < 32 * RESOLUTION:
        lanes = tuple(sorted({int(rng.integers(0, 5)) for _ in range(int(rng.integers(1, 4)))}))
        length = RESOLUTION if rng.random() < 0.1 else 0
        notes.append(Note(tick, lanes, length, float(rng.uniform(1, 10))))
        tick += int(rng.choice([48, 64, 96, 96, 192]))
    return notes


def test_reduction_keeps_chord_lane_and_spacing_rules() -> None:
    expert = _dense_expert()
    tracks = reduce_all(expert, [0, 16 * RESOLUTION], TempoMap(((0, 120_000),)))
    for rules in (HARD, MEDIUM, EASY):
        notes = tracks[rules.name]
        ticks = [n.tick for n in notes]
        assert min(np.diff(ticks)) >= rules.min_gap
        assert len(notes) <= round(rules.density * len(expert))
        assert all(len(n.lanes) <= rules.chord_size for n in notes)
        assert all(n.lanes not in rules.forbidden_chords for n in notes)
        assert all(max(n.lanes) <= rules.max_lane for n in notes)
        # Lane consistency: every allowed lane Expert uses appears.
        assert {lane for n in notes for lane in n.lanes} == set(range(rules.max_lane + 1))
        for i, note in enumerate(notes[:-1]):
            if note.length:
                assert note.tick + note.length + rules.sustain_gap <= notes[i + 1].tick


def test_density_ratios_are_met_when_spacing_allows() -> None:
    # Quarter notes only: spacing never limits Hard or Medium, so the targets decide.
    expert = [Note(i * RESOLUTION, (i % 5,), 0, 1.0 + (i % 3)) for i in range(200)]
    tracks = reduce_all(expert, [0], TempoMap(((0, 120_000),)))
    assert len(tracks["Hard"]) == round(0.64 * 200)
    assert len(tracks["Medium"]) == round(0.37 * 200)
    assert len(tracks["Easy"]) == round(0.22 * 200)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg binary")
@pytest.mark.parametrize("ext", ["ogg", "mp3", "opus", "flac"])
def test_compressed_audio_decodes_to_the_right_length(tmp_path: Path, ext: str) -> None:
    wav = write(tmp_path / "in.wav", render([(120.0, 24)]).mix)
    out = tmp_path / f"song.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-metadata", "title=Tone Song",
                    "-metadata", "artist=Synth Band", str(out)], check=True)
    audio = decode(out)
    assert audio.sr == 22050 and audio.samples.dtype == np.float32
    assert audio.seconds == pytest.approx(soundfile.info(wav).duration, abs=0.08)
    tags = read_tags(out)
    assert (tags.title, tags.artist) == ("Tone Song", "Synth Band")


def test_fast_run_after_a_loud_crash_keeps_every_note(tmp_path: Path) -> None:
    # 16ths at 150 BPM that ring into each other rise little above their neighbours compared
    # with the crash that sets the envelope's maximum; the old peak threshold (0.03) found 65 %.
    synth = fast_run(0.1)
    found = np.array([o.seconds for o in detect(analyse(decode(write(tmp_path / "run.wav",
                                                                      synth.mix))))])
    _, precision, recall = mir_eval.onset.f_measure(synth.tones, found, window=0.025)
    assert recall >= 0.95 and precision >= 0.95


def test_drum_hits_in_a_mix_are_not_taken_for_guitar_notes(tmp_path: Path) -> None:
    # Snares between the tones, none within 100 ms of one: the plain detector finds them, the
    # full mix's guitar detector (focus) must not.
    synth = render([(120.0, 24)], seed=2)
    grid = np.arange(0.6, len(synth.lead) / SR - 1.0, 0.37)
    hits = grid[np.min(np.abs(grid[:, np.newaxis] - synth.tones), axis=1) > 0.1]
    mix = synth.lead + snares(hits, len(synth.lead))
    spec = analyse(decode(write(tmp_path / "mix.wav", mix)))

    def found(focus: bool) -> np.ndarray:
        return np.array([o.seconds for o in notes(detect(spec, focus=focus))])

    assert len(hits) >= 10
    _, _, snares_heard = mir_eval.onset.f_measure(hits, found(False), window=0.025)
    assert snares_heard >= 0.9
    _, precision, recall = mir_eval.onset.f_measure(synth.tones, found(True), window=0.025)
    assert precision >= 0.95 and recall >= 0.9
    # The snares are still onsets, marked unheld: the tempo steps count them.
    unheld = np.array([o.seconds for o in detect(spec, focus=True) if not o.held])
    assert mir_eval.onset.f_measure(hits, unheld, window=0.025)[2] >= 0.9


def _blocks(*parts: tuple[int, float]) -> np.ndarray:
    """Bar features (2 × bars): ``(bars, level)`` blocks of constant features."""
    return np.hstack([np.full((2, bars), level) for bars, level in parts])


def test_a_bass_line_as_loud_as_the_guitar_is_not_taken_for_its_pitch(tmp_path: Path) -> None:
    # A full mix: the guitar's tones (E2 up) over a bass line (E1 up) as loud. From E1 the
    # bass's low notes win a tenth of the guitar's estimates; from the guitar's own range
    # they cannot.
    synth = render([(120.0, 48)])
    _, bass = bass_line(synth.beats)
    audio = decode(write(tmp_path / "mix.wav", synth.lead + bass[:len(synth.lead)]))
    onsets = [GridOnset(0, float(t), 1.0) for t in synth.tones]
    found = {lowest: np.rint([t.midi for t in lanes.tones(audio, onsets, lowest=lowest)])
             for lowest in (lanes.LOWEST, lanes.GUITAR_LOWEST)}
    right = {lowest: np.mean(pitch == synth.pitches) for lowest, pitch in found.items()}
    assert found[lanes.GUITAR_LOWEST].min() >= lanes.GUITAR_LOWEST
    assert right[lanes.GUITAR_LOWEST] >= 0.6
    assert right[lanes.GUITAR_LOWEST] >= right[lanes.LOWEST] + 0.05


def test_a_short_segment_joins_the_neighbour_nearer_in_features() -> None:
    assert MIN_SECTION_BARS == 4
    # A 1-bar transition that sounds like what follows joins it, and one like what
    # precedes joins that; a 2-bar start joins the next segment.
    bars = _blocks((2, 0.0), (8, 1.0), (1, 2.9), (8, 3.0), (1, 3.1), (8, 5.0), (8, 7.0))
    assert _merge_short([0, 2, 10, 11, 19, 20, 28], bars) == [0, 10, 20, 28]
    # Never below MIN_SECTIONS (3) segments: a short song keeps its short ones.
    assert _merge_short([0, 2, 4], _blocks((2, 0.0), (2, 1.0), (8, 2.0))) == [0, 2, 4]


def test_segments_lost_to_one_bar_outliers_are_asked_for_again() -> None:
    # Six 8-bar parts, each a little different, and a loud 1-bar fill in three of them: asked
    # for six segments, the clustering spends three on the fills, which then merge away.
    bars = _blocks(*((8, float(level)) for level in range(6)))
    bars[:, [3, 19, 35]] = 50.0
    starts = _segment_starts(bars, 6)
    assert len(starts) >= 6
    assert min(np.diff([*starts, bars.shape[1]])) >= MIN_SECTION_BARS
    # A song too short for six segments of MIN_SECTION_BARS gets what fits.
    assert len(_segment_starts(_blocks((6, 0.0), (6, 1.0)), 6)) <= 3


def test_a_part_running_on_is_named_with_a_letter() -> None:
    # labels: quiet start, verse twice, chorus three times, verse, chorus, a one-off, chorus.
    labels = [1, 2, 2, 3, 3, 3, 2, 3, 4, 3]
    energy = np.array([-20.0, 0, 0, 1, 1, 1, 0, 1, 0, 1])
    assert _names(labels, energy) == ["Intro", "Verse 1", "Verse 1A", "Chorus 1", "Chorus 1A",
                                      "Chorus 1B", "Verse 2", "Chorus 2", "Bridge", "Chorus 3"]
