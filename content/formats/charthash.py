"""scan-chart's chart hashes: ``chartHash`` (the file plus its parsing modifiers) and track hashes.

Both are identifiers shared with Clone Hero tools (Encore, Bridge), so they are byte-for-byte
scan-chart 7.0.1 (``src/chart/chart-scanner.ts`` ``getChartHash``, ``src/chart/track-hasher.ts``):
blake3, 32 bytes, base64url *with* ``=`` padding (``rfc4648``'s ``base64url.stringify``).
"""
from __future__ import annotations

import base64
import math
import struct

from blake3 import blake3

from .chartmodel import ChartTrack, ParsedChart, Phrase
from .chartmodifiers import ChartModifiers

# Modifier → the value that is *not* hashed (scan-chart compares with defaultMetadata in
# ini-scanner.ts).
_HASHED_MODIFIERS = (
    ("hopo_frequency", 0),
    ("eighthnote_hopo", False),
    ("multiplier_note", 0),
    ("sustain_cutoff_threshold", -1),
    ("chord_snap_threshold", 0),
    ("five_lane_drums", False),
    ("pro_drums", False),
)


def _int32(value: float | bool) -> bytes:
    """``DataView.setInt32(value, littleEndian)``: JavaScript ToInt32, little-endian."""
    if isinstance(value, bool):
        number = int(value)
    elif not math.isfinite(value):
        number = 0
    else:
        number = int(value) & 0xFFFFFFFF
        if number >= 0x80000000:
            number -= 0x100000000
    return struct.pack("<i", number)


def _b64url(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).decode("ascii")


def chart_hash(data: bytes, modifiers: ChartModifiers) -> str:
    """``chartHash``: base64url(blake3(file bytes ++ for each non-default modifier:
    name ++ int32 LE)).

    Modifiers are taken in the order hopo_frequency, eighthnote_hopo, multiplier_note,
    sustain_cutoff_threshold, chord_snap_threshold, five_lane_drums, pro_drums; booleans hash as
    1/0.
    """
    hasher = blake3(bytes(data))
    for name, default in _HASHED_MODIFIERS:
        value = getattr(modifiers, name)
        if value != default:
            hasher.update(name.encode("ascii") + _int32(value))
    return _b64url(hasher.digest())


def non_empty_phrases(phrases: list, groups: list) -> list:
    """The phrases that cover at least one note group (scan-chart ``pruneEmptyPhrases``).

    ``phrases`` must be sorted by tick. A zero-length phrase covers its own tick.
    """
    kept = []
    index = 0
    count = len(groups)
    for phrase in phrases:
        while index < count and groups[index][0].tick < phrase.tick:
            index += 1
        if index < count and groups[index][0].tick < phrase.tick + (phrase.length or 1):
            kept.append(phrase)
    return kept


def _last_per_tick(items: list) -> list:
    """Stable sort by tick and keep the last item on each tick."""
    out: dict[int, object] = {}
    for item in sorted(items, key=lambda x: x.tick):
        out[item.tick] = item
    return list(out.values())


def track_hash(chart: ParsedChart, track: ChartTrack) -> str:
    """scan-chart's track hash: changes only when scoring or difficulty of this track changes.

    Hashes the "bchart" binary: header ``CHNF``/20240320/resolution, then tempos, time signatures,
    non-empty star power, solos and roll lanes, activation lanes and every note (tick, length,
    type, flags), little-endian.
    """
    # "CHNF" is big-endian, everything else little-endian.
    parts: list[bytes] = [
        struct.pack(">I", 0x43484E46),
        struct.pack("<II", 20240320, int(chart.resolution) & 0xFFFFFFFF),
    ]
    tempos = _last_per_tick(chart.tempo_map.tempos)
    parts.append(struct.pack("<I", len(tempos)))
    parts.extend(struct.pack("<qd", t.tick, t.bpm) for t in tempos)
    signatures = _last_per_tick(chart.time_signatures)
    parts.append(struct.pack("<I", len(signatures)))
    parts.extend(
        struct.pack("<qII", s.tick, s.numerator & 0xFFFFFFFF, s.denominator & 0xFFFFFFFF)
        for s in signatures
    )
    groups = track.note_groups
    for phrases in (track.star_power, track.solos):
        kept: list[Phrase] = non_empty_phrases(phrases, groups)
        parts.append(struct.pack("<I", len(kept)))
        parts.extend(struct.pack("<qq", p.tick, p.length) for p in kept)
    lanes = non_empty_phrases(track.flex_lanes, groups)
    parts.append(struct.pack("<I", len(lanes)))
    parts.extend(struct.pack("<qqB", f.tick, f.length, f.is_double) for f in lanes)
    parts.append(struct.pack("<i", len(track.freestyle)))
    parts.extend(struct.pack("<qqB", f.tick, f.length, f.is_coda) for f in track.freestyle)
    notes = [n for group in groups for n in group]
    parts.append(struct.pack("<i", len(notes)))
    pack = struct.Struct("<qqII").pack
    parts.extend(pack(n.tick, n.length, n.type, n.flags) for n in notes)
    return _b64url(blake3(b"".join(parts)).digest())
