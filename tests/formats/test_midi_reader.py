""".mid reader (content/formats/midi.py) on every fixture MIDI, synthetic charts and damaged
copies."""
from __future__ import annotations

import json
import random

import mido
import pytest

from content.formats.analysis import analyse_chart
from content.formats.chartmodel import ChartError, DrumType, NoteFlag, NoteType
from content.formats.chartmodifiers import ChartModifiers
from content.formats.midi import parse_midi, read_midi_raw
from content.formats.smf import META, META_TEMPO, META_TIME_SIGNATURE, decode_track, read_smf

from .midibuild import flat, midi_bytes, note, sysex, tempo_track, text, track

HIGH_SYSEX_SONGS = ("casiopea/asayake", "dream-theater/new-millennium",
                    "liquid-tension-experiment/rhapsody-in-blue-live")


@pytest.fixture(scope="module")
def manifest(fixtures):
    return {s["path"]: s
            for s in json.loads((fixtures / "onyx/manifest.json").read_text())["songs"]}


@pytest.fixture(scope="module")
def onyx(fixtures, manifest):
    """Every onyx song: path → (bytes, ParsedChart)."""
    songs = {}
    for path in sorted((fixtures / "onyx").rglob("notes.mid")):
        key = str(path.parent.relative_to(fixtures / "onyx"))
        data = path.read_bytes()
        songs[key] = (data, parse_midi(data))
    return songs


def test_every_onyx_song_parses(onyx, manifest):
    assert len(onyx) == 246
    assert set(onyx) == set(manifest)


def test_every_chart_fixture_midi_parses(fixtures):
    paths = sorted((fixtures / "charts").rglob("*.mid"))
    assert len(paths) >= 16
    for path in paths:
        assert parse_midi(path.read_bytes()).resolution > 0


def test_onyx_matches_its_manifest(onyx, manifest):
    for key, (data, chart) in onyx.items():
        midi = manifest[key]["midi"]
        assert midi["format"] == 1
        assert chart.resolution == midi["ticks_per_quarter"], key
        smf = read_smf(data)
        first = decode_track(smf.data, *smf.tracks[0])
        tempo_ticks = [e[0] for e in first if e[1] == META and e[2] == META_TEMPO]
        signature_ticks = [e[0] for e in first if e[1] == META and e[2] == META_TIME_SIGNATURE]
        assert len(tempo_ticks) == midi["tempo_events"], key
        assert len(signature_ticks) == midi["time_signature_events"], key
        # Clone Hero's implicit 120 BPM / 4/4 is added when the file has none at tick 0.
        assert len(chart.tempo_map) == (
            len(tempo_ticks) + (0 if tempo_ticks[:1] == [0] else 1)), key
        assert len(chart.time_signatures) == (
            len(signature_ticks) + (0 if signature_ticks[:1] == [0] else 1)), key


def test_note_counts_are_bounded_by_the_manifest_note_ons(onyx, manifest):
    """A chart note is one note-on (chords once on guitar), so no track can count more notes."""
    names = {"drums": "PART DRUMS", "guitar": "PART GUITAR", "bass": "PART BASS",
             "keys": "PART KEYS", "rhythm": "PART RHYTHM", "guitarghl": "PART GUITAR GHL"}
    checked = 0
    for key, (_, chart) in onyx.items():
        note_ons = {t["name"]: t["note_ons"] for t in manifest[key]["midi"]["tracks"]}
        for (instrument, _difficulty), parsed in chart.tracks.items():
            assert parsed.note_count <= note_ons[names[instrument]], (key, instrument)
            checked += 1
        if sum(note_ons.get(n, 0) for n in names.values()) == 0:
            assert chart.tracks == {}, key
    assert checked > 300


def test_songs_without_notes(onyx, fixtures):
    empty = ["bonobo/1009", "chon/knot", "dream-theater/wait-for-sleep",
             "sungazer/dream-of-mahjong"]
    for key in empty:
        data, chart = onyx[key]
        assert chart.tracks == {}
        summary = analyse_chart(data, kind="mid", ini={})
        assert "noNotes" in {i.type for i in summary.issues}


def test_lyrics_come_from_part_vocals(onyx, manifest):
    for key, (_, chart) in onyx.items():
        tracks = {t["name"]: t for t in manifest[key]["midi"]["tracks"]}
        vocals = tracks.get("PART VOCALS")
        if vocals and (vocals.get("lyrics") or vocals.get("text_events")):
            assert chart.has_lyrics, key
        if "PART VOCALS" not in tracks:
            assert not chart.has_lyrics and not chart.has_vocals, key


@pytest.mark.parametrize("song", HIGH_SYSEX_SONGS)
def test_sysex_bytes_above_127_are_read(onyx, song):
    """These files make strict mido fail; their Phase Shift sysex must still mark taps/opens."""
    _, chart = onyx[song]
    assert chart.tracks


def test_phase_shift_sysex_for_all_difficulties(onyx):
    """new-millennium's bass taps use difficulty byte 0xFF (mido's clip=True would make
    it 0x7F)."""
    _, chart = onyx["dream-theater/new-millennium"]
    assert any(n.flags & NoteFlag.TAP for n in chart.track("bass", "expert").notes())


def test_phase_shift_sysex_open_on_one_difficulty(onyx):
    _, chart = onyx["casiopea/asayake"]
    assert any(n.type == NoteType.OPEN for n in chart.track("guitar", "expert").notes())
    assert not any(n.type == NoteType.OPEN for n in chart.track("guitar", "hard").notes())


def test_chorus_lol_mid(fixtures):
    chart = parse_midi((fixtures / "charts/chorus/mids/lol.mid").read_bytes())
    guitar = chart.track("guitar", "expert")
    by_tick = {g[0].tick: g for g in guitar.note_groups}
    assert all(by_tick[t][0].flags == NoteFlag.TAP for t in by_tick if t < 97)
    assert by_tick[144][0].type == NoteType.OPEN
    assert chart.track("guitarghl", "expert").note_count > 0


def test_chorus_solo_section(fixtures):
    data = (fixtures / "charts/chorus/mids/solo-section.mid").read_bytes()
    chart = parse_midi(data, ChartModifiers(multiplier_note=116))
    guitar = chart.track("guitar", "expert")
    assert guitar.solos and not guitar.star_power
    assert len(chart.tempo_map) > 1


# --- synthetic charts ---------------------------------------------------------------------------


def guitar_chart(*events, name="PART GUITAR", ticks_per_beat=480, **kw) -> bytes:
    return midi_bytes(tempo_track(), track(name, *flat(*events)), ticks_per_beat=ticks_per_beat,
                      **kw)


def test_five_fret_notes_forcing_tap_and_phrases():
    data = guitar_chart(
        note(0, 96), note(480, 97), note(480, 101),  # expert G, R forced HOPO
        note(960, 98), note(960, 102, 10),  # Y forced strum
        note(1040, 99),  # natural HOPO: 80 ticks after a different fret (threshold 161)
        note(1120, 100), note(1120, 104, 10),  # tap
        note(0, 116, 1200),  # star power over everything
        note(0, 103, 500),  # solo
        note(0, 84), note(0, 72), note(0, 60),  # hard, medium, easy greens
    )
    chart = parse_midi(data)
    expert = chart.track("guitar", "expert")
    assert [(g[0].tick, g[0].type, g[0].flags) for g in expert.note_groups] == [
        (0, NoteType.GREEN, NoteFlag.STRUM),
        (480, NoteType.RED, NoteFlag.HOPO),
        (960, NoteType.YELLOW, NoteFlag.STRUM),
        (1040, NoteType.BLUE, NoteFlag.HOPO),
        (1120, NoteType.ORANGE, NoteFlag.TAP),
    ]
    assert [(p.tick, p.length) for p in expert.star_power] == [(0, 1200)]
    assert [(p.tick, p.length) for p in expert.solos] == [(0, 500)]
    assert expert.has_forced
    assert [chart.track("guitar", d).note_count for d in ("hard", "medium", "easy")] == [1, 1, 1]
    # Instrument-wide markers reach every charted difficulty.
    assert chart.track("guitar", "easy").star_power


def test_enhanced_opens_and_note_on_velocity_zero():
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    mid.tracks.append(tempo_track())
    t = mido.MidiTrack()
    t.append(mido.MetaMessage("track_name", name="PART BASS"))
    # ignored: no ENHANCED_OPENS yet
    t.append(mido.Message("note_on", note=95, velocity=100, time=0))
    t.append(mido.Message("note_on", note=95, velocity=0, time=100))
    t.append(mido.MetaMessage("text", text="[ENHANCED_OPENS]", time=0))
    t.append(mido.Message("note_on", note=95, velocity=100, time=380))
    t.append(mido.Message("note_on", note=95, velocity=0, time=960))  # velocity 0 = note off
    t.append(mido.Message("note_on", note=96, velocity=100, time=0))
    t.append(mido.Message("note_on", note=96, velocity=0, time=100))
    mid.tracks.append(t)
    import io

    buffer = io.BytesIO()
    mid.save(file=buffer)
    bass = parse_midi(buffer.getvalue()).track("bass", "expert")
    assert [(n.tick, n.type, n.length) for n in bass.notes()] == [
        (480, NoteType.OPEN, 960), (1440, NoteType.GREEN, 0)]


def test_midi_sustains_are_cut_below_a_third_beat():
    # 480 ticks per beat: sustains up to 480 // 3 + 1 = 161 ticks become 0.
    data = guitar_chart(note(0, 96, 161), note(480, 97, 162))
    assert [n.length for n in parse_midi(data).track("guitar", "expert").notes()] == [0, 162]


def test_multiplier_note_103_makes_solos_star_power():
    data = guitar_chart(note(0, 96), note(480, 97), note(0, 103, 100), note(480, 103, 100),
                        note(0, 116, 600))
    default = parse_midi(data).track("guitar", "expert")
    assert len(default.star_power) == 1 and len(default.solos) == 2
    legacy = parse_midi(data, ChartModifiers(multiplier_note=103)).track("guitar", "expert")
    assert (len(legacy.star_power) == 2 and not legacy.solos
            and len(legacy.rejected_star_power) == 1)
    summary = analyse_chart(data, kind="mid", ini={"multiplier_note": "103"})
    assert [i.type for i in summary.issues].count("badStarPower") == 1
    # Without 116 phrases, two or more 103 phrases are GH star power even with the default setting.
    gh = guitar_chart(note(0, 96), note(480, 97), note(0, 103, 100), note(480, 103, 100))
    assert len(parse_midi(gh).track("guitar", "expert").star_power) == 2


def test_drums_pro_markers_2x_kick_and_dynamics():
    data = midi_bytes(
        tempo_track(),
        track(
            "PART DRUMS",
            text(0, "[ENABLE_CHART_DYNAMICS]"),
            *note(0, 96),  # kick
            *note(0, 98, velocity=127),  # yellow, accent -> cymbal (no tom marker)
            *note(480, 95),  # 2x kick
            *note(480, 98, velocity=1),  # yellow, ghost
            *note(480, 110, 10),  # yellow tom marker
            *note(960, 100),  # green cymbal
            *note(960, 112, 10),  # green tom marker
        ),
    )
    chart = parse_midi(data)
    assert chart.drum_type == DrumType.FOUR_LANE_PRO
    groups = chart.track("drums", "expert").note_groups
    assert [[(n.type, n.flags) for n in g] for g in groups] == [
        [(NoteType.KICK, 0), (NoteType.YELLOW_DRUM, NoteFlag.CYMBAL | NoteFlag.ACCENT)],
        [(NoteType.KICK, NoteFlag.DOUBLE_KICK),
         (NoteType.YELLOW_DRUM, NoteFlag.TOM | NoteFlag.GHOST)],
        [(NoteType.GREEN_DRUM, NoteFlag.TOM)],
    ]
    assert chart.track("drums", "expert").note_count == 5


def test_ghl_track():
    data = guitar_chart(note(0, 94), note(480, 95), note(960, 98), note(1440, 100),
                        name="PART GUITAR GHL")
    ghl = parse_midi(data).track("guitarghl", "expert")
    assert [n.type for n in ghl.notes()] == [NoteType.OPEN, NoteType.WHITE1, NoteType.BLACK1,
                                             NoteType.BLACK3]


def test_phase_shift_sysex_tap():
    # mido refuses data bytes above 127: write 0x7F and patch in the "all difficulties" byte 0xFF.
    tap_on = bytes([0x50, 0x53, 0, 0, 0x7F, 4, 1])
    tap_off = bytes([0x50, 0x53, 0, 0, 0x7F, 4, 0])
    data = guitar_chart(note(0, 96), note(0, 84), sysex(0, tap_on), sysex(100, tap_off),
                        note(480, 97))
    data = data.replace(b"\x50\x53\x00\x00\x7f", b"\x50\x53\x00\x00\xff")
    chart = parse_midi(data)
    for difficulty in ("expert", "hard"):
        assert chart.track("guitar", difficulty).note_groups[0][0].flags == NoteFlag.TAP
    assert chart.track("guitar", "expert").note_groups[1][0].flags == NoteFlag.STRUM


def test_sections_and_end_from_events_track():
    data = midi_bytes(
        tempo_track(),
        track("PART GUITAR", *note(0, 96)),
        track("EVENTS", text(0, "[section intro]"), text(960, "[prc_verse_1]"),
              text(1920, "[end]")),
    )
    chart = parse_midi(data)
    assert [(s.tick, s.name) for s in chart.sections] == [(0, "intro"), (960, "verse_1")]
    assert [e.tick for e in chart.end_events] == [1920]
    assert chart.sections[1].ms == pytest.approx(1000.0)


def test_unknown_and_unread_tracks_are_ignored():
    data = midi_bytes(
        tempo_track(),
        track("PART REAL_KEYS_X", *note(0, 60)),
        track("VENUE", *note(0, 60)),
        track("PART GUITAR", *note(0, 96)),
    )
    chart = parse_midi(data)
    assert chart.instruments == ["guitar"]
    assert chart.ignored_tracks == ["PART REAL_KEYS_X"]


# --- unreadable files ---------------------------------------------------------------------------


@pytest.mark.parametrize("midi_type", [0, 2])
def test_midi_types_0_and_2_are_rejected(midi_type):
    tracks = ([track("PART GUITAR", *note(0, 96))] if midi_type == 0
              else [tempo_track(), tempo_track()])
    with pytest.raises(ChartError, match=f"MIDI type {midi_type}"):
        parse_midi(midi_bytes(*tracks, type=midi_type))


def test_smpte_timing_is_rejected():
    data = bytearray(guitar_chart(note(0, 96)))
    data[12:14] = bytes([0xE7, 0x28])  # -25 fps, 40 ticks per frame
    with pytest.raises(ChartError, match="SMPTE"):
        parse_midi(bytes(data))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "MIDI header"),
        (b"RIFF\x00\x00\x00\x04RMID" + b"\x00" * 10, "MIDI header"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0", "declares 2 tracks"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x10\x00\xff",
         "declares 16 bytes"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x03\x00\x40\x40",
         "running status"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x02\x00\xf4",
         "undefined status byte 0xF4"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x05\x00\xff\x51\x01\x00",
         "length 1"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x03\x00\x90\x40",
         "cut off"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0", "no tracks"),
    ],
)
def test_garbage_raises_chart_error(data, message):
    with pytest.raises(ChartError, match=message):
        parse_midi(data)


@pytest.mark.parametrize("fraction", [0.02, 0.3, 0.6, 0.99])
@pytest.mark.parametrize("song", ["allegaeon/roundabout", "dream-theater/new-millennium",
                                  "bonobo/1009"])
def test_truncated_copies_raise_chart_error(fixtures, tmp_path, song, fraction):
    data = (fixtures / "onyx" / song / "notes.mid").read_bytes()
    copy = tmp_path / "notes.mid"
    copy.write_bytes(data[: max(1, int(len(data) * fraction))])
    with pytest.raises(ChartError):
        parse_midi(copy.read_bytes())


def test_damaged_files_never_raise_anything_but_chart_error(fixtures):
    """Random byte damage: analyse_chart either succeeds or raises ChartError, nothing else."""
    rng = random.Random(20240320)
    sources = [
        (fixtures / "charts/chorus/mids/lol.mid").read_bytes(),
        (fixtures / "charts/chorus/mids/solo-section.mid").read_bytes(),
        (fixtures / "onyx/bonobo/1009/notes.mid").read_bytes(),
    ]
    outcomes = {"ok": 0, "error": 0}
    for i in range(600):
        data = bytearray(sources[i % len(sources)])
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if i % 5 == 0:
            del data[rng.randrange(len(data)) :]
        try:
            analyse_chart(bytes(data), kind="mid", ini={})
            outcomes["ok"] += 1
        except ChartError:
            outcomes["error"] += 1
    assert outcomes["ok"] and outcomes["error"]


def test_damaged_charts_never_raise_anything_but_chart_error(fixtures):
    rng = random.Random(7)
    source = (fixtures / "charts/chartparse/test.chart").read_bytes()
    for _ in range(400):
        data = bytearray(source)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.choice(b"[]{}=\n\r 0123456789NSEB\"\xff\x00")
        try:
            analyse_chart(bytes(data), kind="chart", ini={})
        except ChartError:
            pass


def test_tracks_follow_file_order_then_difficulty(fixtures):
    raw = read_midi_raw((fixtures / "charts/yarg-core/test.mid").read_bytes())
    keys = [(t.instrument, t.difficulty) for t in raw.tracks]
    assert keys[:4] == [("guitar", "expert"), ("guitar", "hard"), ("guitar", "medium"),
                        ("guitar", "easy")]
    assert len(keys) == len(set(keys)) == 32
