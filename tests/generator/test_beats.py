"""Beat tracking on syncopated synthetic riffs whose true beats are known."""
from __future__ import annotations

from pathlib import Path

import mir_eval
import numpy as np
import pytest

import soxr

from content.generator import GeneratedSong, generate
from content.generator.audio import SR as ANALYSIS_SR
from content.generator.audio import Audio
from content.generator.spectrum import HOP, analyse
from content.generator.tempo import local_bpm, notes_level
from tests.generator.synth import SR, phrased, render, syncopated, write


def _beat_f(song: GeneratedSong, truth: np.ndarray) -> float:
    end = song.parts["guitar"].tracks["Expert"][-1].tick
    beats = np.array([song.tempo.seconds(t) for t in range(0, end, 192)]) - song.lead_in_s
    return mir_eval.beat.f_measure(truth, beats[beats >= 0])


def test_dotted_accents_do_not_make_the_tempo_four_thirds(tmp_path: Path) -> None:
    # A guitar stem alone, accents every 3 sixteenths: the beat is only told by the 8th and
    # 16th subdivision (a dotted-8th beat would be 128 BPM, nearer the 120 BPM prior).
    synth = syncopated(96.0, 96, drums=False)
    song = generate(write(tmp_path / "guitar.wav", synth.mix))
    assert song.bpm == pytest.approx(96.0, rel=0.01)
    assert _beat_f(song, synth.beats) >= 0.95


def test_syncopated_accents_leave_the_beats_on_the_drums(tmp_path: Path) -> None:
    # Most accents fall between beats; the thumps mark where the beats are.
    synth = syncopated(137.5, 96, drums=True, seed=6)
    song = generate(write(tmp_path / "song.wav", synth.mix))
    assert song.bpm == pytest.approx(137.5, rel=0.01)
    assert _beat_f(song, synth.beats) >= 0.95


def test_a_lone_stem_keeps_its_beat_where_accents_move_to_the_sixteenth_after_it(
        tmp_path: Path) -> None:
    # With no drums the tracker follows the accents a 16th late for the middle third (beat F
    # 0.79 when its beats are used); the notes' 16th grid keeps the beat (0.99).
    synth = phrased(110.0, 40, seed=3)
    song = generate(write(tmp_path / "guitar.wav", synth.mix))
    assert _beat_f(song, synth.beats) >= 0.95


def test_a_fast_song_is_charted_at_its_own_tempo_not_half(tmp_path: Path) -> None:
    # 170 BPM is as far above the tracker's 120 BPM prior as 85 is below it; tracked at 85,
    # the 16ths were 32nds and the 1/16 grid dropped them (lone stem onset F@50 0.85).
    synth = render([(170.0, 128)], seed=3)
    stem = generate(write(tmp_path / "guitar.wav", synth.lead))
    assert stem.bpm == pytest.approx(170.0, rel=0.01)
    notes = stem.note_seconds() - stem.lead_in_s
    assert mir_eval.onset.f_measure(synth.tones, notes, window=0.025)[0] >= 0.95
    assert generate(write(tmp_path / "song.wav", synth.mix)).bpm == pytest.approx(170.0, rel=0.01)


def test_beats_double_on_runs_of_32nds_only() -> None:
    beats = np.arange(0.0, 60.0, 0.6)  # 100 BPM: a 16th is 0.15 s, a 32nd 0.075 s
    eighths = np.arange(0.0, 60.0, 0.3)
    # A flam just after every beat is a lone short step: the level stays.
    flams = np.sort(np.concatenate([eighths, beats + 0.07]))
    assert notes_level(beats, flams) is beats
    # Runs of 32nds (16ths of a song at 200 BPM) outnumbering the 16ths: twice the tempo.
    run_starts = np.arange(0.0, 60.0, 1.2)[:, np.newaxis]
    runs = np.sort(np.concatenate([eighths, (run_starts + np.arange(1, 4) * 0.075).ravel()]))
    doubled = notes_level(beats, runs)
    assert np.allclose(doubled, np.arange(2 * len(beats) - 1) * 0.3)


def test_beats_double_where_notes_sit_on_every_odd_32nd() -> None:
    beats = np.arange(0.0, 60.0, 0.6)  # 100 BPM: a 16th is 0.15 s, a 32nd 0.075 s
    hats = np.arange(0.0, 60.0, 0.15)  # a mix's 8ths at 200 BPM: 16th steps at 100
    odd_32nds = np.arange(0.075, 59.4, 0.15)
    # A quarter of them holds a note (16ths at 200 BPM): too few 32nd steps for the runs.
    notes = np.random.default_rng(1).choice(odd_32nds, len(odd_32nds) // 4, replace=False)
    doubled = notes_level(beats, np.sort(np.concatenate([hats, notes])))
    assert np.allclose(doubled, np.arange(2 * len(beats) - 1) * 0.3)
    # As many notes, all a 32nd after each beat (a flam or a drum's decay): the level stays.
    flams = np.sort(np.concatenate([hats, beats[:len(notes)] + 0.075]))
    assert notes_level(beats, flams) is beats


def test_silence_before_the_music_does_not_change_its_tempo_curve() -> None:
    # Windows reaching from the silence into the music once gave the music's first seconds
    # extra weight: 30 s of silence before a 40 s cut of Tank! took it from 138 to 91 BPM.
    music = soxr.resample(render([(140.0, 48), (110.0, 40)], seed=2).mix, SR, ANALYSIS_SR)
    frames = 30 * ANALYSIS_SR // HOP
    silence = np.zeros(frames * HOP, np.float32)
    plain = local_bpm(analyse(Audio(Path("song.wav"), music.astype(np.float32))))
    padded = local_bpm(analyse(Audio(Path("song.wav"),
                                     np.concatenate([silence, music]).astype(np.float32))))
    assert np.array_equal(padded[frames:], plain)
