"""Clone Hero's note rules, shared by the .chart and .mid readers: raw events →
:class:`ParsedChart`.

This is scan-chart 7.0.1 ``src/chart/notes-parser.ts`` (``parseChartFile``), rule for rule:

* drum type: song.ini ``pro_drums`` / ``five_lane_drums`` first, else pro when any drum track has a
  cymbal (.chart) or tom (.mid) marker on a note, else 5-lane when a lane-5 green is used, else
  4-lane;
* sustains: ``length <= sustain_cutoff_threshold`` ticks becomes 0; without that song.ini value
  .mid cuts sustains up to ``resolution // 3 + 1`` ticks and .chart never cuts;
* guitar forcing: a note is a natural HOPO when it starts at most the HOPO threshold after the
  previous note, is a single note and is not the same fret as the previous note (and, in .mid,
  not a fret of a previous chord). The threshold is song.ini ``hopo_frequency``, else
  ``1 + resolution // 2`` with ``eighthnote_hopo``, else ``1 + resolution/3`` (.mid) or
  ``65/192 × resolution`` (.chart), floored. Tap beats HOPO-forcing beats strum-forcing; .chart's
  ``N 5`` flips the natural state;
* ``chord_snap_threshold``: notes closer than that join the previous chord;
* duplicate notes on a tick keep the longest; a sustain is cut where the next note of its lane
  starts;
* star power / solo phrases: duplicates on a tick keep the longest, overlaps are cut.
"""
from __future__ import annotations

import math

from .chartmodel import (
    ChartTrack,
    DrumType,
    EndEvent,
    FlexLane,
    FreestyleSection,
    Note,
    NoteFlag,
    NoteType,
    ParsedChart,
    Phrase,
    Section,
    TempoMap,
    TimeSignature,
)
from .chartmodifiers import ChartModifiers
from .chartraw import (DRUM_DYNAMICS, DRUM_NOTES, FORCING_MODIFIERS, FRET_NOTES, Ev, RawChart,
                       RawEvent, RawTrack)

# Event codes used in the per-note loops, as module globals (cheaper to read than class
# attributes).
E_DISCO_FLIP_OFF = Ev.DISCO_FLIP_OFF
E_DISCO_FLIP_ON = Ev.DISCO_FLIP_ON
E_FIVE_GREEN_DRUM = Ev.FIVE_GREEN_DRUM
E_FIVE_ORANGE_FOUR_GREEN_DRUM = Ev.FIVE_ORANGE_FOUR_GREEN_DRUM
E_FORCE_FLAM = Ev.FORCE_FLAM
E_FORCE_HOPO = Ev.FORCE_HOPO
E_FORCE_OPEN = Ev.FORCE_OPEN
E_FORCE_STRUM = Ev.FORCE_STRUM
E_FORCE_TAP = Ev.FORCE_TAP
E_FORCE_UNNATURAL = Ev.FORCE_UNNATURAL
E_KICK = Ev.KICK
E_KICK_2X = Ev.KICK_2X
E_OPEN = Ev.OPEN

_FRET_NOTE_TYPE = {
    Ev.OPEN: NoteType.OPEN,
    Ev.GREEN: NoteType.GREEN,
    Ev.RED: NoteType.RED,
    Ev.YELLOW: NoteType.YELLOW,
    Ev.BLUE: NoteType.BLUE,
    Ev.ORANGE: NoteType.ORANGE,
    Ev.BLACK1: NoteType.BLACK1,
    Ev.BLACK2: NoteType.BLACK2,
    Ev.BLACK3: NoteType.BLACK3,
    Ev.WHITE1: NoteType.WHITE1,
    Ev.WHITE2: NoteType.WHITE2,
    Ev.WHITE3: NoteType.WHITE3,
}
_FRET_NOTE_TYPE = {k: int(v) for k, v in _FRET_NOTE_TYPE.items()}

_STRUM, _HOPO, _TAP = int(NoteFlag.STRUM), int(NoteFlag.HOPO), int(NoteFlag.TAP)
_TOM, _CYMBAL = int(NoteFlag.TOM), int(NoteFlag.CYMBAL)
_GHOST, _ACCENT, _FLAM = int(NoteFlag.GHOST), int(NoteFlag.ACCENT), int(NoteFlag.FLAM)
_DOUBLE_KICK = int(NoteFlag.DOUBLE_KICK)
_DISCO, _DISCO_NOFLIP = int(NoteFlag.DISCO), int(NoteFlag.DISCO_NOFLIP)

_KICK, _RED_DRUM, _YELLOW_DRUM = (
    int(NoteType.KICK),
    int(NoteType.RED_DRUM),
    int(NoteType.YELLOW_DRUM),
)
_BLUE_DRUM, _GREEN_DRUM = int(NoteType.BLUE_DRUM), int(NoteType.GREEN_DRUM)

_CYMBAL_OR_TOM_MARKERS = frozenset(
    {
        Ev.YELLOW_CYMBAL_MARKER,
        Ev.BLUE_CYMBAL_MARKER,
        Ev.GREEN_CYMBAL_MARKER,
        Ev.YELLOW_TOM_MARKER,
        Ev.BLUE_TOM_MARKER,
        Ev.GREEN_TOM_MARKER,
    }
)
_DISCO_TYPES = (Ev.DISCO_FLIP_OFF, Ev.DISCO_FLIP_ON, Ev.DISCO_NO_FLIP_ON)
# Pro drums: note code → the marker that changes its default (.mid tom markers, .chart cymbal
# markers).
_MID_TOM_MARKER = {
    Ev.YELLOW_DRUM: Ev.YELLOW_TOM_MARKER,
    Ev.BLUE_DRUM: Ev.BLUE_TOM_MARKER,
    Ev.FIVE_ORANGE_FOUR_GREEN_DRUM: Ev.GREEN_TOM_MARKER,
}
_CHART_CYMBAL_MARKER = {
    Ev.YELLOW_DRUM: Ev.YELLOW_CYMBAL_MARKER,
    Ev.BLUE_DRUM: Ev.BLUE_CYMBAL_MARKER,
    Ev.FIVE_ORANGE_FOUR_GREEN_DRUM: Ev.GREEN_CYMBAL_MARKER,
}
_FIVE_LANE_PADS = {
    Ev.RED_DRUM: _TOM,
    Ev.YELLOW_DRUM: _CYMBAL,
    Ev.BLUE_DRUM: _TOM,
    Ev.FIVE_ORANGE_FOUR_GREEN_DRUM: _CYMBAL,
    Ev.FIVE_GREEN_DRUM: _TOM,
}


def build_chart(raw: RawChart, modifiers: ChartModifiers) -> ParsedChart:
    """Apply Clone Hero's rules (module doc) to ``raw`` and time everything in ms."""
    fmt = raw.format
    resolution = raw.resolution
    tempo_map = TempoMap(resolution, raw.tempos)
    drum_type = _drum_type(raw.tracks, modifiers)

    tracks: dict[tuple[str, str], ChartTrack] = {}
    for raw_track in raw.tracks:
        key = (raw_track.instrument, raw_track.difficulty)
        if key in tracks:
            # Only .mid can repeat a part (two "PART DRUMS" tracks); the first one is kept.
            continue
        tracks[key] = _build_track(raw_track, fmt, resolution, tempo_map, drum_type, modifiers)

    def at(tick: int) -> float:
        return tempo_map.tick_to_ms(tick)

    return ParsedChart(
        format=fmt,
        resolution=resolution,
        tempo_map=tempo_map,
        time_signatures=[TimeSignature(t, n, d, at(t)) for t, n, d in raw.time_signatures],
        sections=[Section(t, name, at(t)) for t, name in raw.sections],
        end_events=[EndEvent(t, at(t)) for t in raw.end_events],
        tracks=tracks,
        metadata=dict(raw.metadata),
        has_lyrics=raw.has_lyrics,
        has_vocals=raw.has_vocals,
        drum_type=drum_type,
        ignored_tracks=list(raw.ignored_tracks),
    )


def _drum_type(raw_tracks: list[RawTrack], modifiers: ChartModifiers) -> DrumType | None:
    drum_tracks = [t for t in raw_tracks if t.instrument == "drums"]
    if not drum_tracks:
        return None
    if modifiers.pro_drums:
        return DrumType.FOUR_LANE_PRO
    if modifiers.five_lane_drums:
        return DrumType.FIVE_LANE
    if any(e.type in _CYMBAL_OR_TOM_MARKERS for t in drum_tracks for e in t.events):
        return DrumType.FOUR_LANE_PRO
    if any(e.type == Ev.FIVE_GREEN_DRUM for t in drum_tracks for e in t.events):
        return DrumType.FIVE_LANE
    return DrumType.FOUR_LANE


def _build_track(
    raw: RawTrack,
    fmt: str,
    resolution: float,
    tempo_map: TempoMap,
    drum_type: DrumType | None,
    modifiers: ChartModifiers,
) -> ChartTrack:
    events = raw.events
    _trim_sustains(events, modifiers.sustain_cutoff_threshold, resolution, fmt)
    by_tick: dict[int, list[RawEvent]] = {}
    for event in events:
        group = by_tick.get(event.tick)
        if group is None:
            by_tick[event.tick] = [event]
        else:
            group.append(event)
    event_groups = [by_tick[tick] for tick in sorted(by_tick)]

    if raw.instrument == "drums":
        groups = _resolve_drums(event_groups, drum_type, fmt)
    else:
        groups = _resolve_frets(event_groups, modifiers, resolution, fmt)
    groups = _snap_chords(groups, modifiers.chord_snap_threshold, raw.instrument)
    _fix_note_overlaps(groups)
    _time_notes(groups, tempo_map)

    def phrase(e: RawEvent) -> Phrase:
        return Phrase(e.tick, e.length, *tempo_map.span_ms(e.tick, e.length))

    flex = [
        FlexLane(
            e.tick, e.length, e.type == Ev.FLEX_LANE_DOUBLE, *tempo_map.span_ms(e.tick, e.length)
        )
        for e in raw.flex_lanes
    ]
    return ChartTrack(
        instrument=raw.instrument,
        difficulty=raw.difficulty,
        note_groups=groups,
        star_power=_fix_phrase_overlaps([phrase(e) for e in raw.star_power]),
        rejected_star_power=[phrase(e) for e in raw.rejected_star_power],
        solos=_fix_phrase_overlaps([phrase(e) for e in raw.solos]),
        flex_lanes=_fix_flex_lane_overlaps(flex),
        freestyle=[
            FreestyleSection(t, n, coda, *tempo_map.span_ms(t, n)) for t, n, coda in raw.freestyle
        ],
        has_forced=raw.instrument != "drums" and any(e.type in FORCING_MODIFIERS for e in events),
    )


def _trim_sustains(events: list[RawEvent], cutoff: float, resolution: float, fmt: str) -> None:
    if cutoff != -1:
        threshold = cutoff
    elif fmt == "mid":
        threshold = math.floor(resolution / 3) + 1
    else:
        threshold = 0
    if threshold > 0:
        for event in events:
            if event.length <= threshold:
                event.length = 0


def _resolve_frets(
    event_groups: list[list[RawEvent]], modifiers: ChartModifiers, resolution: float, fmt: str
) -> list[list[Note]]:
    """Guitar-style groups → notes with STRUM/HOPO/TAP (scan-chart ``resolveFretModifiers``)."""
    if modifiers.hopo_frequency:
        threshold = modifiers.hopo_frequency
    elif modifiers.eighthnote_hopo:
        threshold = math.floor(1 + resolution / 2)
    elif fmt == "mid":
        threshold = math.floor(1 + resolution / 3)
    else:
        threshold = math.floor((65 / 192) * resolution)
    is_mid = fmt == "mid"
    note_type = _FRET_NOTE_TYPE
    out: list[list[Note]] = []
    last_notes: list[RawEvent] | None = None
    last_types: set[int] = set()
    for events in event_groups:
        kinds = {e.type for e in events}
        if E_FORCE_OPEN in kinds:
            # .mid Phase Shift open marker: the chord becomes one open note, the longest sustain
            # kept.
            frets = [e for e in events if e.type in FRET_NOTES]
            if frets:
                longest = frets[0]
                for e in frets:
                    if e.length > longest.length:
                        longest = e
                events = [e for e in events if e.type not in FRET_NOTES and e.type != E_FORCE_OPEN]
                longest.type = E_OPEN
                events.append(longest)
                kinds = {e.type for e in events}
        notes = [e for e in events if e.type in FRET_NOTES]
        if not notes:
            continue  # modifiers without a note
        types = {e.type for e in notes}
        is_chord = len(types) > 1
        natural_hopo = (
            last_notes is not None
            and notes[0].tick - last_notes[0].tick <= threshold
            and not is_chord
            and not (types == last_types and len(types) == 1)  # same single fret as before
            # Old .mid games never HOPO a note that was part of the previous chord.
            and not (is_mid and len(last_types) > 1 and types <= last_types)
        )
        if E_FORCE_TAP in kinds:
            flags = _TAP
        elif E_FORCE_HOPO in kinds:
            flags = _HOPO
        elif E_FORCE_STRUM in kinds:
            flags = _STRUM
        elif (E_FORCE_UNNATURAL in kinds) == natural_hopo:
            flags = _STRUM  # .chart N 5 flips the natural state
        else:
            flags = _HOPO
        out.append([Note(n.tick, n.length, note_type[n.type], flags) for n in notes])
        last_notes = notes
        last_types = types
    return out


def _resolve_drums(
    event_groups: list[list[RawEvent]], drum_type: DrumType | None, fmt: str
) -> list[list[Note]]:
    """Drum groups → notes with pad, dynamics, 2x kick, flam and disco flags
    (``resolveDrumModifiers``)."""
    out: list[list[Note]] = []
    disco = E_DISCO_FLIP_OFF
    plain = _plain_drum_notes(drum_type, fmt)
    for events in event_groups:
        if len(events) == 1:
            # Fast path: one note and no modifier (the most common group).
            e = events[0]
            hit = plain.get(e.type)
            if hit is not None:
                note_type, flags = hit
                if disco != E_DISCO_FLIP_OFF and (
                    note_type == _RED_DRUM or note_type == _YELLOW_DRUM
                ):
                    flags |= _DISCO if disco == E_DISCO_FLIP_ON else _DISCO_NOFLIP
                out.append([Note(e.tick, e.length, note_type, flags)])
                continue
        notes = []
        kicks = []
        mods = set()
        for e in events:
            t = e.type
            if t == E_KICK or t == E_KICK_2X:
                kicks.append(e)
            elif t in DRUM_NOTES:
                notes.append(e)
            else:
                mods.add(t)
        if mods:
            for flip in _DISCO_TYPES:  # the lowest code wins, as scan-chart's min()
                if flip in mods:
                    disco = flip
                    break
        if not notes and not kicks:
            continue
        flam = _FLAM if E_FORCE_FLAM in mods else 0
        group = []
        for k in kicks:
            flags = flam | (0 if k.type == E_KICK else _DOUBLE_KICK)
            if mods:
                flags |= _dynamics(k.type, mods)
            group.append(Note(k.tick, k.length, _KICK, flags))
        orange_and_green = False
        if len(notes) > 1:
            note_types = {e.type for e in notes}
            orange_and_green = (
                E_FIVE_GREEN_DRUM in note_types and E_FIVE_ORANGE_FOUR_GREEN_DRUM in note_types
            )
        for n in notes:
            t = n.type
            if t == E_FIVE_GREEN_DRUM:  # 5-lane green shows on blue when orange is also hit
                note_type = _BLUE_DRUM if orange_and_green else _GREEN_DRUM
            else:
                note_type = _PAD_NOTE_TYPE[t]
            flags = flam
            if (note_type == _RED_DRUM or note_type == _YELLOW_DRUM) and disco != E_DISCO_FLIP_OFF:
                flags |= _DISCO if disco == E_DISCO_FLIP_ON else _DISCO_NOFLIP
            if mods:
                flags |= _pad(t, mods, drum_type, fmt) | _dynamics(t, mods)
            else:
                flags |= plain[t][1]
            group.append(Note(n.tick, n.length, note_type, flags))
        out.append(group)
    return out


_PAD_NOTE_TYPE = {
    Ev.RED_DRUM: _RED_DRUM,
    Ev.YELLOW_DRUM: _YELLOW_DRUM,
    Ev.BLUE_DRUM: _BLUE_DRUM,
    Ev.FIVE_ORANGE_FOUR_GREEN_DRUM: _GREEN_DRUM,
}
_PLAIN_DRUM_NOTES: dict[tuple[DrumType | None, str], dict[int, tuple[int, int]]] = {}


def _plain_drum_notes(drum_type: DrumType | None, fmt: str) -> dict[int, tuple[int, int]]:
    """Drum note code → (note type, flags) when nothing modifies it (no marker, dynamics, flam,
    disco)."""
    key = (drum_type, fmt)
    table = _PLAIN_DRUM_NOTES.get(key)
    if table is None:
        table = {Ev.KICK: (_KICK, 0), Ev.KICK_2X: (_KICK, _DOUBLE_KICK)}
        for code, note_type in _PAD_NOTE_TYPE.items():
            table[code] = (note_type, _pad(code, set(), drum_type, fmt))
        table[Ev.FIVE_GREEN_DRUM] = (_GREEN_DRUM, _pad(Ev.FIVE_GREEN_DRUM, set(), drum_type, fmt))
        _PLAIN_DRUM_NOTES[key] = table
    return table


def _dynamics(event_type: int, mods: set[int]) -> int:
    accent, ghost = DRUM_DYNAMICS[event_type]
    if accent in mods:
        return _ACCENT
    if ghost in mods:
        return _GHOST
    return 0


def _pad(event_type: int, mods: set[int], drum_type: DrumType | None, fmt: str) -> int:
    """TOM or CYMBAL for a pad hit (``getTomOrCymbalFlags``)."""
    if drum_type == DrumType.FOUR_LANE:
        return _TOM
    if drum_type == DrumType.FOUR_LANE_PRO:
        if fmt == "mid":
            marker = _MID_TOM_MARKER.get(event_type)
            return _CYMBAL if marker is not None and marker not in mods else _TOM
        marker = _CHART_CYMBAL_MARKER.get(event_type)
        return _CYMBAL if marker is not None and marker in mods else _TOM
    if drum_type == DrumType.FIVE_LANE:
        return _FIVE_LANE_PADS.get(event_type, 0)
    return 0


def _snap_chords(groups: list[list[Note]], threshold: float, instrument: str) -> list[list[Note]]:
    """Join groups closer than ``threshold`` ticks to the previous chord (``snapChords``)."""
    if threshold <= 0 or not groups:
        return groups
    new_groups = [groups[0]]
    drums = instrument == "drums"
    disco_mask = _DISCO | _DISCO_NOFLIP
    for group in groups[1:]:
        last = new_groups[-1]
        if group[0].tick - last[0].tick >= threshold:
            new_groups.append(group)
            continue
        if drums:
            for note in group:
                same = next((n.flags for n in last if n.type == note.type), None)
                if same is not None:
                    note.flags = same
                if note.type == _RED_DRUM or note.type == _YELLOW_DRUM:
                    red = next((n.flags for n in last if n.type == _RED_DRUM), None)
                    yellow = next((n.flags for n in last if n.type == _YELLOW_DRUM), None)
                    if red is not None or yellow is not None:
                        note.flags = (note.flags & ~disco_mask) | (
                            ((red or 0) | (yellow or 0)) & disco_mask
                        )
        else:
            flags = last[0].flags
            for note in group:
                note.flags = flags
        tick = last[0].tick
        for note in group:
            note.tick = tick
            last.append(note)
    return new_groups


def _fix_note_overlaps(groups: list[list[Note]]) -> None:
    """One note per lane per tick (longest kept), and a sustain ends where its lane's next note
    starts."""
    for i, group in enumerate(groups):
        if len(group) == 2:  # the common chord: compare directly instead of sorting
            a, b = group
            # Order by (type, longest first, highest flags first), keeping file order on ties.
            if (a.type, -a.length, -a.flags) > (b.type, -b.length, -b.flags):
                a, b = b, a
            groups[i] = [a] if a.type == b.type else [a, b]
        elif len(group) > 2:
            group.sort(key=lambda n: (n.type, -n.length, -n.flags))
            deduped = [group[0]]
            for note in group[1:]:
                if note.type != deduped[-1].type:
                    deduped.append(note)
            if len(deduped) != len(group):
                groups[i] = group = deduped
    previous: dict[int, Note] = {}
    for group in groups:
        for note in group:
            prev = previous.get(note.type)
            previous[note.type] = note
            if prev is not None and prev.tick + prev.length > note.tick:
                note.length = max(note.length, prev.length - (note.tick - prev.tick))
                prev.length = note.tick - prev.tick


def _time_notes(groups: list[list[Note]], tempo_map: TempoMap) -> None:
    """Set ``ms``/``ms_length``; groups are in tick order, so the tempo index only moves
    forward."""
    tempos = tempo_map.tempos
    resolution = tempo_map.resolution
    count = len(tempos)
    index = 0
    for group in groups:
        for note in group:
            tick = note.tick
            while index + 1 < count and tempos[index + 1].tick <= tick:
                index += 1
            t = tempos[index]
            ms = t.ms + ((tick - t.tick) * 60000) / (t.bpm * resolution)
            note.ms = ms
            if note.length:
                end_tick = tick + note.length
                end = index
                while end + 1 < count and tempos[end + 1].tick <= end_tick:
                    end += 1
                e = tempos[end]
                note.ms_length = e.ms - ms + ((end_tick - e.tick) * 60000) / (e.bpm * resolution)
            else:
                note.ms_length = 0.0


def _fix_phrase_overlaps(phrases: list[Phrase]) -> list[Phrase]:
    """Sort; on a shared tick keep the longest; cut a phrase where the next one starts."""
    phrases.sort(key=lambda p: (p.tick, -p.length))
    kept: list[Phrase] = []
    for p in phrases:
        if not kept or p.tick != kept[-1].tick:
            kept.append(p)
    prev: Phrase | None = None
    for p in kept:
        if prev is not None and prev.tick + prev.length > p.tick:
            p.length = max(p.length, prev.length - (p.tick - prev.tick))
            p.ms_length = max(p.ms_length, prev.ms_length - (p.ms - prev.ms))
            prev.length = p.tick - prev.tick
            prev.ms_length = p.ms - prev.ms
        prev = p
    return kept


def _fix_flex_lane_overlaps(lanes: list[FlexLane]) -> list[FlexLane]:
    """Sort (single before double, longest first) and drop same-kind lanes on a shared tick."""
    lanes.sort(key=lambda f: (f.tick, f.is_double, -f.length))
    kept: list[FlexLane] = []
    for i, lane in enumerate(lanes):
        if i and lane.tick == lanes[i - 1].tick and lane.is_double == lanes[i - 1].is_double:
            continue
        kept.append(lane)
    return kept
