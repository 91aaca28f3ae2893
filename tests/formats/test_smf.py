"""The SMF tokenizer (content/formats/smf.py) against mido, the reference MIDI reader, and the
onyx manifest."""
from __future__ import annotations

import io
import json

import mido
import pytest

from content.formats.smf import (
    META,
    META_LYRICS,
    META_TEMPO,
    META_TEXT,
    META_TIME_SIGNATURE,
    META_TRACK_NAME,
    NOTE_OFF,
    NOTE_ON,
    SYSEX,
    decode_track,
    read_smf,
    text,
)

_META_NAMES = {META_TEXT: "text", META_TRACK_NAME: "track_name", META_LYRICS: "lyrics"}


def ours(data: bytes, clip: bool) -> list[list[tuple]]:
    """Our events in mido's terms: notes, text-like metas, tempo, time signature, sysex data."""
    smf = read_smf(data)
    tracks = []
    for start, end in smf.tracks:
        events = []
        for e in decode_track(smf.data, start, end):
            if e[1] in (NOTE_ON, NOTE_OFF):
                events.append((e[0], "note_on" if e[1] == NOTE_ON else "off", e[2], e[3],
                               e[4] if e[1] == NOTE_ON else 0))
            elif e[1] == META and e[2] in _META_NAMES:
                events.append((e[0], _META_NAMES[e[2]], text(e[3])))
            elif e[1] == META and e[2] == META_TEMPO:
                events.append((e[0], "set_tempo", int.from_bytes(e[3], "big")))
            elif e[1] == META and e[2] == META_TIME_SIGNATURE:
                events.append((e[0], "time_signature", e[3][0], 1 << e[3][1]))
            elif e[1] == SYSEX:
                payload = bytes(e[2][:-1] if e[2][-1:] == b"\xf7" else e[2])
                events.append((e[0], "sysex",
                               tuple(min(b, 127) for b in payload) if clip else tuple(payload)))
        tracks.append(events)
    return tracks


def reference(data: bytes) -> list[list[tuple]]:
    mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
    tracks = []
    for t in mid.tracks:
        events = []
        tick = 0
        for msg in t:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity:
                events.append((tick, "note_on", msg.channel, msg.note, msg.velocity))
            elif msg.type in ("note_on", "note_off"):
                events.append((tick, "off", msg.channel, msg.note, 0))
            elif msg.type in ("text", "track_name", "lyrics"):
                events.append((tick, msg.type, msg.text if msg.type != "track_name" else msg.name))
            elif msg.type == "set_tempo":
                events.append((tick, "set_tempo", msg.tempo))
            elif msg.type == "time_signature":
                events.append((tick, "time_signature", msg.numerator, msg.denominator))
            elif msg.type == "sysex":
                events.append((tick, "sysex", tuple(msg.data)))
        tracks.append(events)
    return tracks


def sample(fixtures):
    onyx = sorted((fixtures / "onyx").rglob("notes.mid"))
    high = [p for p in onyx
            if any(s in str(p) for s in ("asayake", "new-millennium", "rhapsody-in-blue-live"))]
    charts = sorted((fixtures / "charts").rglob("*.mid"))
    return onyx[::12] + high + charts


def test_events_match_mido(fixtures):
    """mido (clip=True) is slow, so a sample: every 12th onyx song, the high-sysex ones, all chart
    MIDIs."""
    paths = sample(fixtures)
    assert len(paths) > 35
    for path in paths:
        data = path.read_bytes()
        assert ours(data, clip=True) == reference(data), path


def test_note_ons_and_texts_match_the_manifest(fixtures):
    songs = json.loads((fixtures / "onyx/manifest.json").read_text())["songs"]
    for song in songs:
        data = (fixtures / "onyx" / song["path"] / "notes.mid").read_bytes()
        smf = read_smf(data)
        assert (smf.format == song["midi"]["format"]
                and smf.division == song["midi"]["ticks_per_quarter"])
        assert len(smf.tracks) == song["midi"]["declared_tracks"]
        for (start, end), expected in zip(smf.tracks, song["midi"]["tracks"], strict=True):
            events = decode_track(smf.data, start, end)
            assert sum(1 for e in events if e[1] == NOTE_ON) == expected["note_ons"], (
                song["path"], expected["name"])
            lyrics = sum(1 for e in events if e[1] == META and e[2] == META_LYRICS)
            assert lyrics == expected.get("lyrics", 0), (song["path"], expected["name"])


def test_high_sysex_bytes_are_kept_unclipped(fixtures):
    data = (fixtures / "onyx/dream-theater/new-millennium/notes.mid").read_bytes()
    smf = read_smf(data)
    payloads = [e[2] for s, t in smf.tracks for e in decode_track(smf.data, s, t) if e[1] == SYSEX]
    assert b"\x50\x53\x00\x00\xff\x04\x01\xf7" in payloads
    with pytest.raises((ValueError, OSError)):
        mido.MidiFile(file=io.BytesIO(data))  # what strict readers do with these files


def test_running_status_survives_meta_events():
    # delta 0: note on ch0 60 100; delta 0: text meta; delta 10: running-status data 60 0
    # (note off)
    body = b"\x00\x90\x3c\x64" + b"\x00\xff\x01\x01x" + b"\x0a\x3c\x00" + b"\x00\xff\x2f\x00"
    data = (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk" + len(body).to_bytes(4, "big")
            + body)
    smf = read_smf(data)
    events = decode_track(smf.data, *smf.tracks[0])
    assert events == [(0, NOTE_ON, 0, 60, 100), (0, META, META_TEXT, b"x"),
                      (10, NOTE_OFF, 0, 60, 0)]


def test_alien_chunks_are_skipped():
    body = b"\x00\x90\x3c\x64\x0a\x80\x3c\x00"
    data = (
        b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0"
        + b"XFIH\x00\x00\x00\x02ab"
        + b"MTrk" + len(body).to_bytes(4, "big") + body
    )
    smf = read_smf(data)
    assert len(smf.tracks) == 1
    assert len(decode_track(smf.data, *smf.tracks[0])) == 2


def test_track_name_scan_stops_after_tick_zero():
    body = b"\x00\xff\x03\x04ABCD" + b"\x10\xff\x03\x04EFGH"
    data = (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk" + len(body).to_bytes(4, "big")
            + body)
    smf = read_smf(data)
    names = [text(e[3]) for e in decode_track(smf.data, *smf.tracks[0], tick0_only=True)]
    assert names == ["ABCD"]
