"""Five-fret parts from their own stems: rhythm, bass and keys get charts of their own."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import mir_eval
import numpy as np
import pytest

from content.formats.analysis import analyse_chart
from content.generator import GeneratedSong, generate
from content.generator.audio import Audio, held_in
from content.library.generation import held_note
from tests.generator.synth import SR, Synth, bass_line, render, write
from tests.generator.test_generator import MUST_PASS

DIFFICULTIES = ("expert", "hard", "medium", "easy")


@pytest.fixture(scope="module")
def band(tmp_path_factory: pytest.TempPathFactory) -> tuple[Synth, np.ndarray, np.ndarray]:
    """A 36 s song at 120 BPM: the synthetic guitar and drums, and a bass line of its own
    (note times, samples)."""
    synth = render([(120.0, 72)], seed=6)
    times, bass = bass_line(synth.beats)
    return synth, times, bass


def _ini(song: GeneratedSong) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in song.song_ini.splitlines()[1:] if " = " in line)


def _onset_f(song: GeneratedSong, instrument: str, truth: np.ndarray) -> float:
    notes = song.note_seconds("Expert", instrument) - song.lead_in_s
    return mir_eval.onset.f_measure(truth, notes, window=0.05)[0]


def _checked(song: GeneratedSong) -> dict[str, dict[str, int]]:
    """Re-parse the chart: no issue of the must-pass types; return instrument → difficulty →
    note count and assert every part has star power in every difficulty."""
    summary = analyse_chart(song.chart_bytes, kind="chart", ini=_ini(song))
    assert [(i.type, i.message) for i in summary.issues if i.type in MUST_PASS] == []
    counts: dict[str, dict[str, int]] = {}
    for track in summary.tracks:
        counts.setdefault(track.instrument, {})[track.difficulty] = track.note_count
        assert track.star_power_count > 0, track
    return counts


def test_a_bass_stem_beside_the_others_gets_a_bass_part(band, tmp_path: Path) -> None:
    synth, bass_times, bass = band
    n = len(synth.mix)
    write(tmp_path / "song.wav", synth.mix + np.pad(bass, (0, max(0, n - len(bass))))[:n])
    write(tmp_path / "guitar.wav", synth.lead)
    write(tmp_path / "bass.wav", bass)
    write(tmp_path / "drums.wav", synth.mix - synth.lead)
    song = generate(tmp_path, name="Band", artist="Tests")
    assert list(song.parts) == ["guitar", "bass"] and song.drums
    assert _onset_f(song, "bass", bass_times) >= 0.9
    assert _onset_f(song, "guitar", synth.tones) >= 0.9
    assert "[ExpertDoubleBass]" in song.chart_text and "[EasyDoubleBass]" in song.chart_text
    counts = _checked(song)
    assert counts["bass"] == {d.lower(): n for d, n in song.note_counts["bass"].items()}
    assert counts["guitar"] == {d.lower(): n for d, n in song.note_counts["guitar"].items()}
    assert set(counts) == {"guitar", "bass", "drums"}
    ini = _ini(song)
    assert 0 <= int(ini["diff_bass"]) <= 6 and 0 <= int(ini["diff_guitar"]) <= 6
    assert not song.beats_from_notes


def test_a_lone_bass_stem_gives_a_bass_chart_only(band, tmp_path: Path) -> None:
    _, bass_times, bass = band
    song = generate(write(tmp_path / "bass.wav", bass))
    assert list(song.parts) == ["bass"] and not song.drums and song.beats_from_notes
    assert song.bpm == pytest.approx(120.0, rel=0.01)
    assert _onset_f(song, "bass", bass_times) >= 0.9
    assert "Single]" not in song.chart_text and "diff_guitar" not in _ini(song)
    assert set(_checked(song)) == {"bass"}


def test_rhythm_and_keys_stems_alone_are_written_as_their_own_tracks(band, tmp_path: Path) -> None:
    synth, bass_times, bass = band
    write(tmp_path / "rhythm.wav", synth.lead)
    write(tmp_path / "keys.wav", bass)
    song = generate(tmp_path, name="Parts", artist="Tests")
    # No song.ogg and no guitar stem: no guitar part made of the other parts' mix.
    assert list(song.parts) == ["rhythm", "keys"]
    assert _onset_f(song, "rhythm", synth.tones) >= 0.9
    assert _onset_f(song, "keys", bass_times) >= 0.9
    sections = [line for line in song.chart_text.splitlines() if line.startswith("[")]
    assert [s for s in sections if s.startswith("[Expert")] == ["[ExpertDoubleRhythm]",
                                                                 "[ExpertKeyboard]"]
    assert set(_checked(song)) == {"rhythm", "keys"}
    assert {"diff_rhythm", "diff_keys"} <= set(_ini(song)) and "diff_guitar" not in _ini(song)


def test_a_silent_stem_beside_others_is_left_out(band, tmp_path: Path) -> None:
    synth, _, _ = band
    write(tmp_path / "guitar.wav", synth.lead)
    write(tmp_path / "keys.wav", np.zeros_like(synth.lead))
    song = generate(tmp_path, name="Quiet keys", artist="Tests")
    assert list(song.parts) == ["guitar"] and "diff_keys" not in _ini(song)


def test_song_beside_other_stems_is_the_backing_track_not_the_whole_song(tmp_path: Path) -> None:
    # Clone Hero plays every stem together: here song.wav holds only a held chord, and the
    # beat is in drums.wav. The tempo must come from all the stems, the guitar from its stem.
    synth = render([(128.0, 72)], seed=8)
    t = np.arange(len(synth.mix)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 138.6, 164.8)) * 0.05
    write(tmp_path / "song.wav", chord.astype(np.float32))
    write(tmp_path / "drums.wav", synth.mix - synth.lead)
    write(tmp_path / "guitar.wav", synth.lead)
    song = generate(tmp_path, name="Backing", artist="Tests")
    assert song.bpm == pytest.approx(128.0, rel=0.01) and not song.beats_from_notes
    assert song.held_in_song == () and len(song.audio_files) == 3
    assert _onset_f(song, "guitar", synth.tones) >= 0.9
    kicks = np.array([song.tempo.seconds(n.tick) for n in song.drums["Expert"] if 0 in n.lanes])
    assert mir_eval.onset.f_measure(synth.beats, kicks - song.lead_in_s, window=0.05)[0] >= 0.9


def test_a_full_mix_given_as_song_keeps_the_stems_it_holds_out_of_the_folder(
        band, tmp_path: Path) -> None:
    # song.wav is the whole band (guitar and drums), quieter and 26 ms late as an MP3 encoder
    # leaves it; bass.wav is not in it. Clone Hero plays song.* with every stem, so guitar and
    # drums beside it would sound twice: they are charted, but not put in the folder.
    synth, _, bass = band
    late = np.concatenate([np.zeros(int(0.026 * SR), np.float32), 0.6 * synth.mix])
    write(tmp_path / "song.wav", late)
    write(tmp_path / "guitar.wav", synth.lead)
    write(tmp_path / "drums.wav", synth.mix - synth.lead)
    write(tmp_path / "bass.wav", bass)
    song = generate(tmp_path, name="Full mix", artist="Tests")
    assert song.held_in_song == ("guitar", "drums")
    assert held_note(song).startswith("song.wav already holds the guitar and drums stems (it "
                                      "is the full mix), so the song folder leaves them out")
    assert "The guitar and drums stems still chart their parts." in held_note(song)
    # A held vocals stem has no chart to speak of.
    vocals = held_note(dataclasses.replace(song, held_in_song=("vocals",)))
    assert "leaves it out" in vocals and "chart" not in vocals.split("twice.")[1]
    assert [p.name for p, _ in song.audio_files] == ["song.wav", "bass.wav"]
    assert _onset_f(song, "guitar", synth.tones) >= 0.9 and "bass" in song.parts
    kicks = np.array([song.tempo.seconds(n.tick) for n in song.drums["Expert"] if 0 in n.lanes])
    assert mir_eval.onset.f_measure(synth.beats, kicks - song.lead_in_s, window=0.05)[0] >= 0.9


def test_held_in_tells_a_mix_from_a_backing_track(band) -> None:
    synth, _, bass = band

    def audio(samples: np.ndarray) -> Audio:
        return Audio(Path("x.wav"), samples.astype(np.float32))

    guitar, drums = audio(synth.lead), audio(synth.mix - synth.lead)
    assert held_in(audio(synth.mix), guitar) and held_in(audio(synth.mix + bass), drums)
    assert not held_in(drums, guitar) and not held_in(audio(bass), drums)
    assert not held_in(audio(synth.mix), audio(np.zeros_like(synth.lead)))  # a silent stem
    assert not held_in(audio(synth.mix), audio(synth.lead[: SR // 2]))  # under a second


def test_drums_beside_numbered_drum_stems_is_not_heard(tmp_path: Path) -> None:
    # Players ignore drums.* when drums_1..4 exist: its hits (off the song's beat here) must
    # not reach the drum chart or the tempo.
    synth = render([(120.0, 48)], seed=3)
    kit = synth.mix - synth.lead
    write(tmp_path / "drums_1.wav", kit)
    write(tmp_path / "drums.wav", np.roll(kit, int(0.19 * SR)))
    song = generate(tmp_path, name="Numbered", artist="Tests")
    hits = np.array([song.tempo.seconds(n.tick) for n in song.drums["Expert"]])
    assert mir_eval.onset.f_measure(synth.beats, hits - song.lead_in_s, window=0.05)[1] >= 0.9
    assert {p.name for p, _ in song.audio_files} == {"drums_1.wav", "drums.wav"}
