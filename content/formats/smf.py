"""A small, fast, tolerant Standard MIDI File tokenizer (bytes in, plain tuples out).

Why not ``mido.MidiFile``: it builds and validates a Python object per message (about 10 µs each:
28 s for the 246 onyx fixture songs) and its ``clip=True`` tolerance clips sysex data bytes to
127, which would turn the Phase Shift "all difficulties" byte 0xFF into 0x7F. Chart readers need
neither the objects nor the clipping, only notes, a few meta events and raw sysex bytes. mido
stays the reference in the tests (``tests/formats/test_smf.py`` compares every fixture).

Rules follow the SMF 1.0 spec, with the reading choices of the ``midi-file`` package that
scan-chart (the reference Clone Hero scanner) uses:

* running status is kept across meta and sysex events;
* a note-on with velocity 0 is a note-off;
* data bytes are not range-checked (a tolerant reader; values above 127 are kept as they are);
* chunks other than ``MTrk`` after the header are skipped (the spec says to ignore unknown chunks).

Anything that cannot be read — not a MIDI file, a chunk longer than the file, an event cut off at
the end of its chunk, an undefined status byte, running status before any status, a meta event of
the wrong fixed length — raises :class:`~content.formats.chartmodel.ChartError` naming the byte
offset. Nothing else escapes.
"""
from __future__ import annotations

from dataclasses import dataclass

from .chartmodel import ChartError

NOTE_OFF = 0x80
NOTE_ON = 0x90
META = 0xFF
SYSEX = 0xF0
SYSEX_ESCAPE = 0xF7

META_TEXT = 0x01
META_TRACK_NAME = 0x03
META_LYRICS = 0x05
META_END_OF_TRACK = 0x2F
META_TEMPO = 0x51
META_TIME_SIGNATURE = 0x58

# Meta events with a fixed payload size (midi-file rejects others; so do we).
_META_SIZES = {0x00: (2,), 0x20: (1,), 0x21: (1,), 0x2F: (0,), 0x51: (3,), 0x54: (5,),
               0x58: (2, 4), 0x59: (2,)}
# Channel message data sizes by high nibble.
_DATA_SIZES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
# Meta types handed to callers; the others are checked and skipped.
KEPT_META = frozenset({META_TEXT, META_TRACK_NAME, META_LYRICS, META_TEMPO, META_TIME_SIGNATURE})


@dataclass(frozen=True, slots=True)
class SmfFile:
    """The header and the track chunks of a MIDI file.

    ``format``: 0, 1 or 2. ``division``: the raw time-division word (ticks per quarter note when
    bit 15 is clear, SMPTE otherwise). ``tracks``: ``(start, end)`` byte ranges of each ``MTrk``
    chunk's body inside ``data``.
    """

    data: bytes
    format: int
    declared_tracks: int
    division: int
    tracks: list[tuple[int, int]]

    @property
    def is_smpte(self) -> bool:
        return bool(self.division & 0x8000)


def read_smf(data: bytes) -> SmfFile:
    """Split ``data`` into header and track chunks. Raises ChartError when it is not a whole MIDI
    file."""
    data = bytes(data)
    size = len(data)
    if size < 14 or data[:4] != b"MThd":
        raise ChartError("invalid .mid file: it does not start with a MIDI header ('MThd')")
    header_len = int.from_bytes(data[4:8], "big")
    if header_len < 6:
        raise ChartError(f"invalid .mid file: MIDI header is {header_len} bytes long, 6 expected")
    fmt = int.from_bytes(data[8:10], "big")
    declared = int.from_bytes(data[10:12], "big")
    division = int.from_bytes(data[12:14], "big")
    pos = 8 + header_len
    tracks: list[tuple[int, int]] = []
    while len(tracks) < declared:
        if pos >= size:
            raise ChartError(
                f"invalid .mid file: the header declares {declared} tracks but the file ends "
                f"after {len(tracks)} (truncated?)"
            )
        if pos + 8 > size:
            raise ChartError(f"invalid .mid file: chunk header cut off at byte {pos} (truncated?)")
        chunk_id = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "big")
        start = pos + 8
        end = start + length
        if end > size:
            raise ChartError(
                f"invalid .mid file: chunk at byte {pos} declares {length} bytes but only "
                f"{size - start} remain (truncated?)"
            )
        if chunk_id == b"MTrk":
            tracks.append((start, end))
        pos = end
    return SmfFile(data, fmt, declared, division, tracks)


def _truncated(pos: int) -> ChartError:
    return ChartError(f"invalid .mid file: event cut off at the end of its track (byte {pos})")


def decode_track(data: bytes, start: int, end: int, *, tick0_only: bool = False) -> list[tuple]:
    """The events of one track chunk ``data[start:end]``, with absolute ticks.

    Returns tuples, in file order:

    * ``(tick, NOTE_ON, channel, note, velocity)`` — velocity > 0;
    * ``(tick, NOTE_OFF, channel, note, velocity)`` — includes note-on with velocity 0;
    * ``(tick, META, meta_type, payload_bytes)`` — only the :data:`KEPT_META` types;
    * ``(tick, SYSEX or SYSEX_ESCAPE, payload_bytes)`` — payload after the length, as stored.

    Other channel messages are skipped. ``tick0_only`` stops at the first event after tick 0
    (enough to find a track's name). Raises ChartError on damage (see module doc).
    """
    out: list[tuple] = []
    append = out.append
    tick = 0
    status = -1
    pos = start
    # The common cases are tested first: one-byte delta times and note events (this loop is the
    # hot spot of MIDI parsing).
    while pos < end:
        b = data[pos]
        pos += 1
        if b < 0x80:
            tick += b
        else:  # multi-byte delta time
            delta = b & 0x7F
            while True:
                if pos >= end:
                    raise _truncated(pos)
                b = data[pos]
                pos += 1
                delta = (delta << 7) | (b & 0x7F)
                if b < 0x80:
                    break
            tick += delta
        if tick0_only and tick:
            break
        if pos >= end:
            raise _truncated(pos)
        b = data[pos]
        if b >= 0x80:
            pos += 1
            if b >= 0xF0:
                pos = _system_event(data, pos, end, b, tick, append)
                continue
            status = b
        elif status < 0:
            raise ChartError(
                f"invalid .mid file: running status without a previous status at byte {pos}"
            )
        kind = status & 0xF0
        if kind == NOTE_ON or kind == NOTE_OFF:
            if pos + 2 > end:
                raise _truncated(pos)
            velocity = data[pos + 1]
            if velocity and kind == NOTE_ON:
                append((tick, NOTE_ON, status & 0x0F, data[pos], velocity))
            else:
                append((tick, NOTE_OFF, status & 0x0F, data[pos], velocity))
            pos += 2
        else:
            pos += _DATA_SIZES[kind]
            if pos > end:
                raise _truncated(end)
    return out


def _system_event(data: bytes, pos: int, end: int, status: int, tick: int, append) -> int:
    """Read a meta or sysex event whose status byte was at ``pos - 1``; returns the next
    position."""
    if status == META:
        if pos >= end:
            raise _truncated(pos)
        meta_type = data[pos]
        length, pos = _varint(data, pos + 1, end)
        if pos + length > end:
            raise _truncated(pos)
        sizes = _META_SIZES.get(meta_type)
        if sizes is not None and length not in sizes:
            raise ChartError(
                f"invalid .mid file: meta event 0x{meta_type:02X} at byte {pos} has length "
                f"{length}, expected {' or '.join(map(str, sizes))}"
            )
        if meta_type in KEPT_META:
            append((tick, META, meta_type, data[pos : pos + length]))
        return pos + length
    if status == SYSEX or status == SYSEX_ESCAPE:
        length, pos = _varint(data, pos, end)
        if pos + length > end:
            raise _truncated(pos)
        append((tick, status, data[pos : pos + length]))
        return pos + length
    raise ChartError(f"invalid .mid file: undefined status byte 0x{status:02X} at byte {pos - 1}")


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    while True:
        if pos >= end:
            raise _truncated(pos)
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos


def text(payload: bytes) -> str:
    """A text meta event's payload as text: one byte per character (Latin-1), as midi-file reads
    it."""
    return payload.decode("latin-1")
