"""Builds small MIDI charts in memory for tests (with mido, so the bytes come from an independent
writer)."""
from __future__ import annotations

import io

import mido


def track(name: str | None, *events) -> mido.MidiTrack:
    """A track named ``name``; ``events`` are ``(abs_tick, message)`` pairs, sorted here."""
    out = mido.MidiTrack()
    if name is not None:
        out.append(mido.MetaMessage("track_name", name=name, time=0))
    now = 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        out.append(msg.copy(time=tick - now))
        now = tick
    return out


def note(tick: int, number: int, length: int = 0, velocity: int = 100, channel: int = 0):
    """A note-on/note-off pair (note-off ``length`` ticks later, at least 1)."""
    return [
        (tick, mido.Message("note_on", note=number, velocity=velocity, channel=channel)),
        (tick + max(length, 1),
         mido.Message("note_off", note=number, velocity=0, channel=channel)),
    ]


def text(tick: int, value: str):
    return (tick, mido.MetaMessage("text", text=value))


def sysex(tick: int, data: bytes):
    return (tick, mido.Message("sysex", data=list(data)))


def tempo_track(*events, bpm: float = 120.0) -> mido.MidiTrack:
    return track(None, (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))), *events)


def midi_bytes(*tracks: mido.MidiTrack, ticks_per_beat: int = 480, type: int = 1) -> bytes:
    mid = mido.MidiFile(type=type, ticks_per_beat=ticks_per_beat)
    mid.tracks.extend(tracks)
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def flat(*groups) -> list:
    """Flatten lists of (tick, message) pairs and single pairs into one list."""
    out = []
    for g in groups:
        if isinstance(g, list):
            out.extend(g)
        else:
            out.append(g)
    return out
