"""End-to-end checks of the chart generator on synthetic songs with known beats and notes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mir_eval
import numpy as np
import pytest
import soundfile

from content.formats.analysis import analyse_chart
from content.formats.scan import scan_folder
from content.generator import GeneratedSong, GeneratorError, generate, write_song_folder
from content.generator.audio import SR as ANALYSIS_SR
from content.generator.audio import _ffmpeg_decode
from content.generator.tags import FRONT_COVER
from tests.generator.synth import SR, Synth, oom_pah, render, shuffle, write
from tests.synthaudio import image, tagged_audio

MUST_PASS = {"noNotes", "noExpert", "noSections", "noStarPower", "isDefaultBPM",
             "smallLeadingSilence", "brokenNote", "babySustain", "difficultyNotReduced"}


@pytest.fixture(scope="module")
def steady_song(steady: tuple[Synth, Path]) -> GeneratedSong:
    return generate(steady[1], name="Steady", artist="Tests")


@pytest.fixture(scope="module")
def change_song(change: tuple[Synth, Path]) -> GeneratedSong:
    return generate(change[1])


def _ini(song: GeneratedSong) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in song.song_ini.splitlines()[1:] if " = " in line)


def _beats(song: GeneratedSong) -> np.ndarray:
    end = song.parts["guitar"].tracks["Expert"][-1].tick
    return np.array([song.tempo.seconds(t) for t in range(0, end, 192)]) - song.lead_in_s


def test_steady_tempo_within_half_a_percent(steady_song: GeneratedSong) -> None:
    assert steady_song.bpm == pytest.approx(128.0, rel=0.005)


def test_tempo_change_is_followed(change: tuple[Synth, Path], change_song: GeneratedSong) -> None:
    synth = change[0]
    first = change_song.tempo.ticks(synth.beats[10] + change_song.lead_in_s)
    last = change_song.tempo.ticks(synth.beats[-10] + change_song.lead_in_s)
    assert change_song.tempo.bpm_at(first) == pytest.approx(140.0, rel=0.02)
    assert change_song.tempo.bpm_at(last) == pytest.approx(110.0, rel=0.02)
    beats = _beats(change_song)
    assert mir_eval.beat.f_measure(synth.beats, beats[beats >= 0]) >= 0.95


@pytest.mark.parametrize("stem", ["mix", "lead"])
def test_a_slow_shuffle_gets_its_own_tempo_not_three_halves(tmp_path: Path, stem: str) -> None:
    # librosa tracks 70-95 BPM shuffles at 3/2 of their tempo (two triplet 8ths a beat), the
    # full mix (kick and snare) as much as the lead alone (guitar.wav: a lone stem).
    synth = shuffle(80.0, 64)
    path = write(tmp_path / ("song.wav" if stem == "mix" else "guitar.wav"), getattr(synth, stem))
    song = generate(path)
    assert song.bpm == pytest.approx(80.0, rel=0.01)
    beats = _beats(song)
    assert mir_eval.beat.f_measure(synth.beats, beats[beats >= 0]) >= 0.95


def test_onsets_land_within_25_ms(steady: tuple[Synth, Path], steady_song: GeneratedSong) -> None:
    synth = steady[0]
    notes = steady_song.note_seconds("Expert") - steady_song.lead_in_s
    f25 = mir_eval.onset.f_measure(synth.tones, notes, window=0.025)[0]
    pairs = mir_eval.util.match_events(synth.tones, notes, 0.025)
    offset = np.median([notes[j] - synth.tones[i] for i, j in pairs])
    assert f25 >= 0.95
    assert abs(offset) <= 0.010


def test_lead_in_of_two_seconds_is_added_to_chart_and_audio(
        steady: tuple[Synth, Path], steady_song: GeneratedSong, tmp_path: Path) -> None:
    # The synthetic song's first note is at 0.5 s: the generator must add silence.
    assert steady_song.lead_in_s >= 1.5
    assert steady_song.note_seconds("Expert")[0] >= 2.0
    out = write_song_folder(steady_song, tmp_path / "song")
    # song.wav is the full mix: it holds guitar.wav and drums.wav, which stay out of the folder.
    assert steady_song.held_in_song == ("guitar", "drums")
    assert {p.name for p in out.iterdir()} == {"notes.chart", "song.ini", "song.ogg"}
    padded, sr = soundfile.read(out / "song.ogg")
    original = steady[0].mix
    assert len(padded) / sr == pytest.approx(len(original) / SR + steady_song.lead_in_s,
                                             abs=0.05)
    first_sound = np.argmax(np.abs(padded) > 0.01) / sr
    assert first_sound == pytest.approx(0.5 + steady_song.lead_in_s, abs=0.01)


def test_chart_passes_analysis_and_reparses_to_the_same_counts(
        steady_song: GeneratedSong, change_song: GeneratedSong) -> None:
    for song in (steady_song, change_song):
        summary = analyse_chart(song.chart_bytes, kind="chart", ini=_ini(song))
        assert [i for i in summary.issues if i.type in MUST_PASS] == []
        for instrument, expected in (*song.note_counts.items(), ("drums", song.drum_counts)):
            counts = {t.difficulty: t.note_count for t in summary.tracks
                      if t.instrument == instrument}
            assert counts == {d.lower(): n for d, n in expected.items()}
        assert summary.sections and summary.star_power_count > 0



@pytest.mark.parametrize(("per_bar", "bpm"), [(3, 100.0), (3, 140.0), (4, 120.0)])
def test_bars_have_the_three_or_four_beats_the_accompaniment_repeats(
        tmp_path: Path, per_bar: int, bpm: float) -> None:
    # A waltz's kick on each bar's first beat, chords on the others: in 4/4 its bar lines,
    # sections and star power phrases would cut across its bars.
    synth = oom_pah(bpm, 16, per_bar)
    song = generate(write(tmp_path / "song.wav", synth.mix))
    assert f"  0 = TS {per_bar}" in song.chart_text.splitlines()
    end = int(song.tempo.ticks(song.song_length_ms / 1000))
    bars = np.array([song.tempo.seconds(t) for t in range(0, end, song.tempo.bar_ticks)])
    bars -= song.lead_in_s
    assert mir_eval.beat.f_measure(synth.beats[::per_bar], bars[bars >= 0]) >= 0.9
    summary = analyse_chart(song.chart_bytes, kind="chart", ini=_ini(song))
    assert [i.type for i in summary.issues if i.type in MUST_PASS] == []
    assert summary.sections and summary.star_power_count > 0

def test_song_ini_names_and_lengths(steady_song: GeneratedSong) -> None:
    ini = _ini(steady_song)
    assert ini["name"] == "Steady" and ini["artist"] == "Tests" and ini["charter"] == "chmanager"
    assert int(ini["song_length"]) == steady_song.song_length_ms
    assert 0 <= int(ini["preview_start_time"]) < steady_song.song_length_ms
    assert 0 <= int(ini["diff_guitar"]) <= 6


def test_untagged_file_named_artist_dash_title_gives_both(steady: tuple[Synth, Path],
                                                          tmp_path: Path) -> None:
    song = generate(write(tmp_path / "The Band - A Riff.wav", steady[0].mix))
    assert (song.name, song.artist) == ("A Riff", "The Band")
    # A stem-named file is named after its part: its folder names the song.
    (tmp_path / "The Band - A Riff").mkdir()
    song = generate(write(tmp_path / "The Band - A Riff" / "guitar.wav", steady[0].mix))
    assert (song.name, song.artist) == ("A Riff", "The Band")


def test_difficulties_follow_the_reduction_rules(steady_song: GeneratedSong,
                                                 change_song: GeneratedSong) -> None:
    for song in (steady_song, change_song):
        tracks = song.parts["guitar"].tracks
        expert = len(tracks["Expert"])
        for name, ratio, gap, max_lane in (("Hard", 0.64, 64, 4), ("Medium", 0.37, 96, 3),
                                           ("Easy", 0.22, 192, 2)):
            notes = tracks[name]
            assert len(notes) <= round(ratio * expert) + 1
            assert len(notes) >= 0.6 * ratio * expert
            assert min(np.diff([n.tick for n in notes])) >= gap
            assert max(max(n.lanes) for n in notes) <= max_lane
        assert all(len(n.lanes) <= 2 and n.lanes != (0, 4) for n in tracks["Hard"])
        assert all(len(n.lanes) == 1 or n.lanes in {(0, 1), (1, 2), (2, 3), (1, 3), (0, 2)}
                   for n in tracks["Medium"])
        assert all(len(n.lanes) == 1 for n in tracks["Easy"])
        # Cascade: a lower difficulty only has ticks of the one above it.
        for upper, lower in (("Expert", "Hard"), ("Hard", "Medium"), ("Medium", "Easy")):
            assert {n.tick for n in tracks[lower]} <= {n.tick for n in tracks[upper]}


def test_drum_stem_gives_a_drum_chart_on_the_beats(steady: tuple[Synth, Path],
                                                   steady_song: GeneratedSong) -> None:
    drums = steady_song.drums
    assert set(drums) == {"Expert", "Hard", "Medium", "Easy"}
    kicks = np.array([steady_song.tempo.seconds(n.tick) for n in drums["Expert"] if 0 in n.lanes])
    f50 = mir_eval.onset.f_measure(steady[0].beats, kicks - steady_song.lead_in_s, window=0.05)
    assert f50[0] >= 0.9
    assert all(len([x for x in n.lanes if x]) <= 1 for n in drums["Easy"])
    assert len(drums["Easy"]) < len(drums["Medium"]) < len(drums["Hard"]) < len(drums["Expert"])


def _drums_only(song: GeneratedSong) -> None:
    """A drum chart with no guitar part that passes the chart checks."""
    assert song.parts == {} and set(song.drums) == {"Expert", "Hard", "Medium", "Easy"}
    assert "Single]" not in song.chart_text and "diff_guitar" not in _ini(song)
    summary = analyse_chart(song.chart_bytes, kind="chart", ini=_ini(song))
    assert [i.type for i in summary.issues if i.type in MUST_PASS] == []
    assert {t.instrument for t in summary.tracks} == {"drums"}


def test_a_lone_drum_stem_file_gets_a_drum_chart_only(tmp_path: Path) -> None:
    synth = render([(120.0, 48)], seed=3)
    song = generate(write(tmp_path / "drums.wav", synth.mix - synth.lead))
    kicks = np.array([song.tempo.seconds(n.tick) for n in song.drums["Expert"] if 0 in n.lanes])
    assert mir_eval.onset.f_measure(synth.beats, kicks - song.lead_in_s, window=0.05)[0] >= 0.9
    _drums_only(song)
    # The same audio under a mix's name is charted as a mix: guitar, no drum chart.
    mix = generate(write(tmp_path / "drums and bass.wav", synth.mix - synth.lead))
    assert mix.drums == {} and mix.note_counts["guitar"]["Expert"] > 0


def test_a_folder_of_drum_stems_alone_gets_a_drum_chart_only(tmp_path: Path) -> None:
    synth = render([(120.0, 48)], seed=3)
    write(tmp_path / "drums_1.wav", synth.mix - synth.lead)
    write(tmp_path / "drums_2.wav", (synth.mix - synth.lead) * 0.5)
    (tmp_path / "preview.wav").symlink_to(tmp_path / "drums_2.wav")  # no music: not charted
    _drums_only(generate(tmp_path))


def test_a_long_silent_intro_keeps_the_song_tempo(tmp_path: Path) -> None:
    synth = render([(128.0, 48)], start=30.0, seed=3)
    song = generate(write(tmp_path / "song.wav", synth.mix))
    assert song.bpm == pytest.approx(128.0, rel=0.005)
    assert song.tempo.bpm_at(0) == pytest.approx(128.0, rel=0.1)  # was 17 beats at 34 BPM
    notes = song.note_seconds() - song.lead_in_s
    assert mir_eval.onset.f_measure(synth.tones, notes, window=0.025)[0] >= 0.9


def test_stem_folder_takes_notes_from_the_guitar(tmp_path: Path) -> None:
    synth = render([(120.0, 48)], seed=3)
    drums_only = synth.mix - synth.lead
    write(tmp_path / "song.wav", drums_only)
    write(tmp_path / "guitar.wav", synth.lead)
    song = generate(tmp_path)
    notes = song.note_seconds("Expert") - song.lead_in_s
    assert mir_eval.onset.f_measure(synth.tones, notes, window=0.025)[0] >= 0.9


def test_stems_named_in_another_case_are_found_and_written_lower_case(tmp_path: Path) -> None:
    synth = render([(120.0, 48)], seed=3)
    stems = tmp_path / "stems"
    stems.mkdir()
    write(stems / "Song.WAV", synth.mix - synth.lead)
    write(stems / "Guitar.wav", synth.lead)
    song = generate(stems)
    assert sorted(stem for _, stem in song.audio_files) == ["guitar", "song"]
    notes = song.note_seconds("Expert") - song.lead_in_s
    assert mir_eval.onset.f_measure(synth.tones, notes, window=0.025)[0] >= 0.9
    out = write_song_folder(song, tmp_path / "out")
    scan = scan_folder({p.name: p.stat().st_size for p in out.iterdir()},
                       lambda name: (out / name).read_bytes())
    assert sorted(name.split(".")[0] for name in scan.audio) == ["guitar", "song"]
    assert not any(i.type in {"invalidAudio", "noAudio"} for i in scan.issues)


def test_tagged_audio_brings_album_year_and_cover_into_the_folder(steady: tuple[Synth, Path],
                                                                  tmp_path: Path) -> None:
    cover = image(tmp_path / "cover.jpg")
    song = generate(tagged_audio(tmp_path / "song.mp3", steady[0].mix, [(FRONT_COVER, cover)]))
    ini = _ini(song)
    assert (song.name, song.artist) == ("Tagged Song", "Tag Band")
    assert (ini["album"], ini["genre"], ini["year"], ini["album_track"]) == (
        "Tag Album", "Rock", "2004", "3")
    out = write_song_folder(song, tmp_path / "out")
    assert (out / "album.jpg").read_bytes() == cover
    scan = scan_folder({p.name: p.stat().st_size for p in out.iterdir()},
                       lambda name: (out / name).read_bytes())
    assert scan.album_art == "album.jpg"
    assert not {"noAlbumArt", "missingValue"} & {issue.type for issue in scan.issues}
    # A stems folder's own album art wins over the tags' cover.
    stems = tmp_path / "stems"
    stems.mkdir()
    (stems / "song.mp3").symlink_to(tmp_path / "song.mp3")
    (stems / "Album.PNG").write_bytes(image(tmp_path / "own.png"))
    assert generate(stems).album_art == ("png", (tmp_path / "own.png").read_bytes())
    # Its own song.ini names it; the audio's tags fill in what it leaves out, the arguments
    # override both.
    (stems / "song.ini").write_text("[song]\nname = Own Name\nartist = Own Band\nyear = 1999\n")
    song = generate(stems)
    ini = _ini(song)
    assert (song.name, song.artist, ini["year"], ini["album"]) == (
        "Own Name", "Own Band", "1999", "Tag Album")
    assert generate(stems, name="Given").name == "Given"
    # A stem-named file stands for its folder too.
    song = generate(stems / "song.mp3")
    assert (song.name, song.artist) == ("Own Name", "Own Band")
    assert song.album_art == ("png", (tmp_path / "own.png").read_bytes())


def test_progress_reports_every_step(steady: tuple[Synth, Path]) -> None:
    calls: list[tuple[int, int, str]] = []
    generate(steady[1] / "guitar.wav", progress=lambda *a: calls.append(a))
    steps = [c[0] for c in calls]
    assert steps == sorted(steps) and steps[0] == 0 and calls[-1][:2] == (calls[-1][1],) * 2
    assert all(isinstance(c[2], str) and c[2] for c in calls)


def test_text_renamed_to_ogg_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "song.ogg"
    fake.write_text("this is not audio\n" * 100)
    with pytest.raises(GeneratorError) as err:
        generate(fake)
    assert err.value.path == fake and "song.ogg" in str(err.value)


def test_random_bytes_named_mp3_say_why_ffmpeg_refused_them(tmp_path: Path) -> None:
    # libsndfile refuses them, so ffmpeg is tried: its reason, not its last line (a failed
    # filter graph), is what the user reads.
    fake = tmp_path / "song.mp3"
    fake.write_bytes(np.random.default_rng(5).bytes(200_000))
    with pytest.raises(GeneratorError, match=r"song\.mp3: not a readable audio file "
                                             r"\(.*Invalid data found") as err:
        generate(fake)
    assert "filter graph" not in str(err.value)


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "song.mp3"
    empty.touch()
    with pytest.raises(GeneratorError, match="empty"):
        generate(empty)


def test_five_seconds_is_too_short(tmp_path: Path) -> None:
    short = write(tmp_path / "short.wav", render([(120.0, 8)]).mix[: 5 * SR])
    with pytest.raises(GeneratorError, match="10 s"):
        generate(short)


def test_audio_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    long = write(tmp_path / "long.wav", render([(120.0, 70)]).mix[: 30 * SR])
    with pytest.raises(GeneratorError, match="longer than 20 s") as err:
        generate(long, max_seconds=20)
    assert err.value.path == long
    assert generate(long, max_seconds=40).seconds > 0  # the same file within the limit


def test_a_stem_longer_than_the_limit_names_that_stem(tmp_path: Path) -> None:
    song = render([(120.0, 70)]).mix
    write(tmp_path / "song.wav", song[: 15 * SR])
    write(tmp_path / "guitar.wav", song[: 30 * SR])
    with pytest.raises(GeneratorError, match="longer than 20 s") as err:
        generate(tmp_path, max_seconds=20)
    assert err.value.path == tmp_path / "guitar.wav"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg binary")
def test_ffmpeg_decodes_no_more_than_the_limit(tmp_path: Path) -> None:
    # AAC is not libsndfile's: ffmpeg decodes it, and stops a second past the limit.
    wav = write(tmp_path / "in.wav", render([(120.0, 70)]).mix[: 30 * SR])
    aac = tmp_path / "song.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(aac)],
                   check=True)
    with pytest.raises(GeneratorError, match="longer than 20 s") as err:
        generate(aac, max_seconds=20)
    assert err.value.path == aac
    assert len(_ffmpeg_decode(aac, 12)) / ANALYSIS_SR == pytest.approx(13, abs=0.1)


def test_folder_without_stems_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(GeneratorError, match="no audio"):
        generate(tmp_path)


def test_notes_up_to_the_end_of_the_audio_keep_the_end_event_valid(tmp_path: Path) -> None:
    # Noise bursts every 0.2 s up to the last 30 ms: the end event must still fit inside the
    # audio. (Steady noise is no notes: onsets.FLOOR_MARGIN_DB.)
    rng = np.random.default_rng(0)
    bursts = np.zeros(15 * SR, np.float32)
    decay = np.exp(-np.arange(int(0.03 * SR)) / (0.01 * SR))
    for start in np.arange(len(bursts) - len(decay), 0, -int(0.2 * SR)):
        bursts[start:start + len(decay)] = rng.standard_normal(len(decay)) * decay * 0.3
    song = generate(write(tmp_path / "bursts.wav", bursts))
    summary = analyse_chart(song.chart_bytes, kind="chart", ini=_ini(song))
    assert [i.type for i in summary.issues if i.type in MUST_PASS | {"badEndEvent"}] == []
    assert summary.length_ms <= song.song_length_ms


def test_nearly_silent_audio_is_refused_with_a_reason(tmp_path):
    import numpy as np
    import soundfile

    rate = 22_050
    quiet = np.random.default_rng(1).normal(0, 1e-4, rate * 20).astype("float32")
    quiet[rate * 5] = 0.5  # one stray click
    path = tmp_path / "quiet.wav"
    soundfile.write(path, quiet, rate)
    with pytest.raises(GeneratorError, match="quiet.wav"):
        generate(path)


def test_drum_chart_gets_star_power_and_fills_that_end_on_a_note(
        steady_song: GeneratedSong) -> None:
    phrases, fills = steady_song.drum_star_power, steady_song.drum_fills
    assert phrases and fills
    for tick, length in fills:
        # The activation note: the fill's last tick (a phrase does not cover its end tick).
        assert all(tick + length - 1 in {n.tick for n in notes}
                   for notes in steady_song.drums.values())
        assert tick >= phrases[0][0] + phrases[0][1]
        assert not any(p < tick + length and tick < p + span for p, span in phrases)
    summary = analyse_chart(steady_song.chart_bytes, kind="chart", ini=_ini(steady_song))
    assert [t.star_power_count for t in summary.tracks if t.instrument == "drums"] == \
        [len(phrases)] * 4
    assert steady_song.chart_text.count(" = S 64 ") == 4 * len(fills)
