""".mid reader: a Rock Band / Clone Hero MIDI chart to a :class:`ParsedChart`.

Format: TheNathannator/GuitarGame_ChartFormats ``docs/Chart-File-Formats/mid-format/*`` (CC0),
``shared/reference/formats.md`` §1.4. Which tracks and notes are read, and how, follows
Geomitron/scan-chart 7.0.1 ``src/chart/midi-parser.ts`` (it reproduces Clone Hero):

* type-1 files with ticks-per-quarter timing only; tempos and time signatures come from the first
  track;
* a track is named by a track-name event at tick 0; read are ``T1 GEMS``/``PART GUITAR``,
  ``PART GUITAR COOP``, ``PART RHYTHM``, ``PART BASS``, ``PART DRUMS``, ``PART KEYS``, the GHL
  parts ``PART GUITAR GHL``/``PART GUITAR COOP GHL``/``PART RHYTHM GHL``/``PART BASS GHL``,
  ``PART VOCALS`` (lyrics and vocal notes present or not) and ``EVENTS`` (sections, ``end``,
  ``coda``). Other tracks (pro guitar/keys, harmonies, venue, ``PART DRUM``...) are not decoded;
  known-but-unread part names are listed in ``ParsedChart.ignored_tracks``;
* difficulties by note number: easy ≤ 66 < medium ≤ 78 < hard ≤ 90 < expert ≤ 102; 5-fret open =
  lane 0 only after an ``[ENHANCED_OPENS]`` text event, 101/102 (expert) = force HOPO/strum;
  GHL has its own offsets; drums: 95 = expert 2x kick;
* every difficulty: 103 solo, 104 tap, 109 flam, 110–112 tom markers, 116 star power, 120 fill
  (activation lane), 126/127 roll lanes (with velocity limits per difficulty);
* GH1/GH2 star power on note 103: with ``multiplier_note = 103``, or when a part has no 116 but
  several 103 phrases (then 116 phrases are rejected: ``badStarPower``);
* Phase Shift sysex ``50 53 00 00 diff type on``: type 1 = open, 4 = tap; diff 0xFF = all;
* drum dynamics (velocity 1 ghost, 127 accent) only after ``[ENABLE_CHART_DYNAMICS]``.

The bytes are read by :mod:`content.formats.smf`; anything damaged raises :class:`ChartError`.
"""
from __future__ import annotations

import re
from operator import itemgetter

from .chartmodel import ChartError, InstrumentType, ParsedChart, instrument_type
from .chartmodifiers import DEFAULT_MODIFIERS, ChartModifiers
from .chartraw import DRUM_DYNAMICS, Ev, RawChart, RawEvent, RawTrack
from .chartrules import build_chart
from .jscompat import js_trim
from .smf import (
    META,
    META_LYRICS,
    META_TEMPO,
    META_TEXT,
    META_TIME_SIGNATURE,
    META_TRACK_NAME,
    NOTE_ON,
    NOTE_OFF,
    SYSEX,
    SYSEX_ESCAPE,
    decode_track,
    read_smf,
    text,
)

__all__ = ["ChartError", "parse_midi", "read_midi_raw"]

INSTRUMENT_TRACKS = {
    "T1 GEMS": "guitar",
    "PART GUITAR": "guitar",
    "PART GUITAR COOP": "guitarcoop",
    "PART RHYTHM": "rhythm",
    "PART BASS": "bass",
    "PART DRUMS": "drums",
    "PART KEYS": "keys",
    "PART GUITAR GHL": "guitarghl",
    "PART GUITAR COOP GHL": "guitarcoopghl",
    "PART RHYTHM GHL": "rhythmghl",
    "PART BASS GHL": "bassghl",
}
VOCALS_TRACK = "PART VOCALS"
EVENTS_TRACK = "EVENTS"
_READ_TRACKS = frozenset(INSTRUMENT_TRACKS) | {VOCALS_TRACK, EVENTS_TRACK}
# Part names other games use that Clone Hero (per scan-chart) does not play; reported, not read.
UNREAD_PARTS = frozenset(
    {
        "PART DRUM",
        "PART DRUMS_2X",
        "PART REAL_DRUMS_PS",
        "PART KEYS GHL",
        "HARM1",
        "HARM2",
        "HARM3",
        "PART HARM1",
        "PART HARM2",
        "PART HARM3",
        "PART REAL_GUITAR",
        "PART REAL_GUITAR_22",
        "PART REAL_BASS",
        "PART REAL_BASS_22",
        "PART REAL_KEYS_X",
        "PART REAL_KEYS_H",
        "PART REAL_KEYS_M",
        "PART REAL_KEYS_E",
    }
)

_EXPERT, _HARD, _MEDIUM, _EASY, _ALL = 0, 1, 2, 3, 4
# Event-code bounds for the hot loops (module constants are faster than class attributes).
_FIRST_NOTE, _LAST_NOTE, _FIRST_MODIFIER = Ev.OPEN, Ev.FIVE_GREEN_DRUM, Ev.FORCE_OPEN
_ENABLE_CHART_DYNAMICS = Ev.ENABLE_CHART_DYNAMICS
_DIFFICULTIES = ("expert", "hard", "medium", "easy")
_SYSEX_DIFFICULTY = {0: _EASY, 1: _MEDIUM, 2: _HARD, 3: _EXPERT, 0xFF: _ALL}
_OPEN_IF_ENHANCED = -1  # 5-fret lane 0: an open note only after [ENHANCED_OPENS]

_DISCO_FLIP = re.compile(r"\s*\[?mix[ _]([0-3])[ _]drums([0-5])(d|dnoflip|easy|easynokick|)\]?\s*")
_DISCO_FLAGS = {"": Ev.DISCO_FLIP_OFF, "d": Ev.DISCO_FLIP_ON, "dnoflip": Ev.DISCO_NO_FLIP_ON}
_DOT = r"[^\n\r\u2028\u2029]"  # JavaScript's "."
_SECTION = re.compile(rf"\[?(?:section|prc)[ _]({_DOT}*)\]?")
_END = re.compile(r"\[?end\]?")

_INSTRUMENT_WIDE = {
    103: Ev.SOLO_SECTION,
    104: Ev.FORCE_TAP,
    109: Ev.FORCE_FLAM,
    110: Ev.YELLOW_TOM_MARKER,
    111: Ev.BLUE_TOM_MARKER,
    112: Ev.GREEN_TOM_MARKER,
    116: Ev.STAR_POWER,
    # Only 120 marks a drum fill: the spec wants 120–124 together, but many charts only use 120.
    120: Ev.FREESTYLE_SECTION,
    126: Ev.FLEX_LANE_SINGLE,
    127: Ev.FLEX_LANE_DOUBLE,
}
_FIVE_FRET_LANES = (
    _OPEN_IF_ENHANCED,
    Ev.GREEN,
    Ev.RED,
    Ev.YELLOW,
    Ev.BLUE,
    Ev.ORANGE,
    Ev.FORCE_HOPO,
    Ev.FORCE_STRUM,
)
_SIX_FRET_LANES = (
    Ev.OPEN,
    Ev.WHITE1,
    Ev.WHITE2,
    Ev.WHITE3,
    Ev.BLACK1,
    Ev.BLACK2,
    Ev.BLACK3,
    Ev.FORCE_HOPO,
    Ev.FORCE_STRUM,
)
_DRUM_LANES = (
    Ev.KICK_2X,
    Ev.KICK,
    Ev.RED_DRUM,
    Ev.YELLOW_DRUM,
    Ev.BLUE_DRUM,
    Ev.FIVE_ORANGE_FOUR_GREEN_DRUM,
    Ev.FIVE_GREEN_DRUM,
)
# Note number where each difficulty's lane list starts (easy, medium, hard, expert are 12 apart).
_LANE_STARTS = {
    InstrumentType.FIVE_FRET: {_EASY: 59, _MEDIUM: 71, _HARD: 83, _EXPERT: 95},
    InstrumentType.SIX_FRET: {_EASY: 58, _MEDIUM: 70, _HARD: 82, _EXPERT: 94},
    InstrumentType.DRUMS: {_EASY: 59, _MEDIUM: 71, _HARD: 83, _EXPERT: 95},
}
_LANES = {
    InstrumentType.FIVE_FRET: _FIVE_FRET_LANES,
    InstrumentType.SIX_FRET: _SIX_FRET_LANES,
    InstrumentType.DRUMS: _DRUM_LANES,
}


def _note_table(kind: InstrumentType) -> list[tuple[int, int] | None]:
    """Note number (0–255) → (difficulty index, event code), or None when the note means
    nothing."""
    table: list[tuple[int, int] | None] = [None] * 256
    lanes = _LANES[kind]
    for note in range(256):
        if note <= 66:
            difficulty = _EASY
        elif note <= 78:
            difficulty = _MEDIUM
        elif note <= 90:
            difficulty = _HARD
        elif note <= 102:
            difficulty = _EXPERT
        else:
            code = _INSTRUMENT_WIDE.get(note)
            table[note] = None if code is None else (_ALL, code)
            continue
        offset = note - _LANE_STARTS[kind][difficulty]
        if 0 <= offset < len(lanes):
            table[note] = (difficulty, lanes[offset])
    return table


_NOTE_TABLES = {kind: _note_table(kind) for kind in InstrumentType}

_MODIFIER_SUSTAINS = {
    InstrumentType.DRUMS: frozenset(
        {Ev.FORCE_FLAM, Ev.YELLOW_TOM_MARKER, Ev.BLUE_TOM_MARKER, Ev.GREEN_TOM_MARKER}
    ),
    InstrumentType.FIVE_FRET: frozenset(
        {Ev.FORCE_OPEN, Ev.FORCE_TAP, Ev.FORCE_STRUM, Ev.FORCE_HOPO}
    ),
    InstrumentType.SIX_FRET: frozenset(
        {Ev.FORCE_OPEN, Ev.FORCE_TAP, Ev.FORCE_STRUM, Ev.FORCE_HOPO}
    ),
}
_MODIFIABLE_NOTES = {
    InstrumentType.FIVE_FRET: frozenset(
        {Ev.OPEN, Ev.GREEN, Ev.RED, Ev.YELLOW, Ev.BLUE, Ev.ORANGE}
    ),
    InstrumentType.SIX_FRET: frozenset(
        {Ev.OPEN, Ev.BLACK3, Ev.BLACK2, Ev.BLACK1, Ev.WHITE3, Ev.WHITE2, Ev.WHITE1}
    ),
    InstrumentType.DRUMS: frozenset(_DRUM_LANES),
}
# Highest roll-lane velocity each difficulty accepts (lowest is 21); expert takes any. Roll lanes
# carry their difficulty in the velocity (RB "lane difficulty" rules, as scan-chart reads them).
_FLEX_LANE_MAX_VELOCITY = {_EASY: 30, _MEDIUM: 40, _HARD: 50}


def parse_midi(data: bytes, modifiers: ChartModifiers | None = None) -> ParsedChart:
    """Parse a ``notes.mid`` file.

    ``modifiers``: song.ini parsing modifiers (``multiplier_note``, HOPO distance, sustain
    cut-off...), default none set. Raises :class:`ChartError` for anything that is not a readable
    type-1 MIDI chart.
    """
    modifiers = modifiers or DEFAULT_MODIFIERS
    try:
        return build_chart(read_midi_raw(data, modifiers), modifiers)
    except ChartError:
        raise
    except (ArithmeticError, IndexError, KeyError, ValueError) as exc:
        # Safety net: damaged input must surface as ChartError, never as a crash of the caller.
        raise ChartError(f"unreadable .mid file ({type(exc).__name__}: {exc})") from exc


def read_midi_raw(data: bytes, modifiers: ChartModifiers = DEFAULT_MODIFIERS) -> RawChart:
    """The raw events of a .mid file, before the shared Clone Hero rules (see module doc)."""
    smf = read_smf(data)
    if smf.format != 1:
        raise ChartError(
            f"unsupported .mid file: MIDI type {smf.format}, Clone Hero reads type 1 only"
        )
    if smf.is_smpte or smf.division == 0:
        raise ChartError(
            "unsupported .mid file: SMPTE (frames per second) timing, "
            "ticks per quarter note needed"
        )
    if not smf.tracks:
        raise ChartError("invalid .mid file: no tracks")
    raw_bytes = smf.data

    tempos, time_signatures = _tempo_map(decode_track(raw_bytes, *smf.tracks[0]))

    named: list[tuple[str, list[tuple]]] = []
    ignored: list[str] = []
    for start, end in smf.tracks:
        name = None
        unread = None
        for event in decode_track(raw_bytes, start, end, tick0_only=True):
            if event[1] == META and event[2] == META_TRACK_NAME:
                candidate = text(event[3])
                if candidate in _READ_TRACKS:
                    name = candidate
                elif candidate in UNREAD_PARTS:
                    unread = candidate
        if name is not None:
            named.append((name, decode_track(raw_bytes, start, end)))
        elif unread is not None:
            ignored.append(unread)

    events_track = next((events for name, events in named if name == EVENTS_TRACK), [])
    vocals_track = next((events for name, events in named if name == VOCALS_TRACK), None)
    texts = [(e[0], text(e[3])) for e in events_track if e[1] == META and e[2] == META_TEXT]
    first_coda_tick = next((tick for tick, s in texts if js_trim(s) in ("coda", "[coda]")), None)

    raw = RawChart(
        format="mid",
        resolution=smf.division,
        tempos=tempos,
        time_signatures=time_signatures,
        sections=[(tick, name) for tick, name in map(_section, texts) if name is not None],
        end_events=[tick for tick, s in texts if _END.fullmatch(s)],
        tracks=[],
        metadata={},  # a .mid keeps its metadata in song.ini
        has_lyrics=vocals_track is not None
        and any(e[1] == META and e[2] in (META_LYRICS, META_TEXT) for e in vocals_track),
        has_vocals=vocals_track is not None
        and any(e[1] == NOTE_ON and 36 <= e[3] <= 84 for e in vocals_track),
        ignored_tracks=ignored,
    )
    for name, events in named:
        instrument = INSTRUMENT_TRACKS.get(name)
        if instrument is not None:
            raw.tracks.extend(_read_part(events, instrument, modifiers, first_coda_tick))
    return raw


def _tempo_map(events: list[tuple]) -> tuple[list[tuple[int, float]], list[tuple[int, int, int]]]:
    tempos: list[tuple[int, float]] = []
    signatures: list[tuple[int, int, int]] = []
    for event in events:
        if event[1] != META:
            continue
        tick, kind, payload = event[0], event[2], event[3]
        if kind == META_TEMPO:
            micros = (payload[0] << 16) | (payload[1] << 8) | payload[2]
            if micros == 0:
                raise ChartError(
                    f"invalid .mid file: tempo at tick {tick} is 0 µs per quarter note"
                )
            tempos.append((tick, 60000000 / micros))
        elif kind == META_TIME_SIGNATURE:
            if payload[0] == 0:
                raise ChartError(
                    f"invalid .mid file: time signature numerator at tick {tick} is zero"
                )
            signatures.append((tick, payload[0], 1 << (payload[1] & 31)))
    if not tempos or tempos[0][0] != 0:
        tempos.insert(0, (0, 120.0))  # Clone Hero's default tempo
    if not signatures or signatures[0][0] != 0:
        signatures.insert(0, (0, 4, 4))
    return tempos, signatures


def _section(event: tuple[int, str]) -> tuple[int, str | None]:
    tick, s = event
    m = _SECTION.fullmatch(s)
    if not m:
        return tick, None
    name = m.group(1)
    # "[section verse]": scan-chart's greedy pattern keeps the closing bracket in the name; drop
    # it.
    if s.startswith("[") and name.endswith("]"):
        name = name[:-1]
    return tick, name


def _read_part(
    events: list[tuple], instrument: str, modifiers: ChartModifiers, first_coda_tick: int | None
) -> list[RawTrack]:
    """One instrument track → a RawTrack per difficulty that has notes (scan-chart's pipeline)."""
    kind = instrument_type(instrument)
    ends = _event_ends(events, kind)
    per_difficulty = [_pair_ends(_distribute(ends, d)) for d in range(4)]
    per_difficulty = _split_modifier_sustains(per_difficulty, kind)
    if kind != InstrumentType.DRUMS and modifiers.multiplier_note != 116:
        _fix_legacy_star_power(per_difficulty, modifiers.multiplier_note)
    tracks = []
    for difficulty, difficulty_events in enumerate(per_difficulty):
        track = RawTrack(instrument, _DIFFICULTIES[difficulty])
        max_velocity = _FLEX_LANE_MAX_VELOCITY.get(difficulty)
        plain = track.events.append
        for event in difficulty_events:
            code = event.type
            if _FIRST_NOTE <= code <= _LAST_NOTE or code >= _FIRST_MODIFIER:
                plain(event)  # notes and modifiers: nearly every event
            elif (
                max_velocity is not None
                and (code == Ev.FLEX_LANE_SINGLE or code == Ev.FLEX_LANE_DOUBLE)
                and (event.velocity < 21 or event.velocity > max_velocity)
            ):
                continue  # a roll lane meant for harder difficulties only
            else:
                track.add(event, first_coda_tick)
        if track.events:
            tracks.append(track)
    return tracks


# An event end: (sort_key, tick, code, velocity, channel, is_start); see _end_key.
_End = tuple[int, int, int, int, int, bool]


def _end_key(tick: int, code: int) -> int:
    """Sort key of an event end: by tick, then higher codes first (modifiers before notes)."""
    return (tick << 6) | (63 - code)


def _event_ends(events: list[tuple], kind: InstrumentType) -> list[list[_End]]:
    """Starts and ends of every meaningful event, per difficulty index (4 = all difficulties)."""
    ends: list[list[_End]] = [[], [], [], [], []]
    table = _NOTE_TABLES[kind]
    drums = kind == InstrumentType.DRUMS
    enhanced_opens = False
    for event in events:
        what = event[1]
        if what == NOTE_ON or what == NOTE_OFF:
            entry = table[event[3]]
            if entry is None:
                continue
            difficulty, code = entry
            if code == _OPEN_IF_ENHANCED:
                if not enhanced_opens:
                    continue
                code = Ev.OPEN
            tick = event[0]
            ends[difficulty].append(
                ((tick << 6) | (63 - code), tick, code, event[4], event[2], what == NOTE_ON)
            )
        elif what == META:
            if event[2] != META_TEXT:
                continue
            s = text(event[3])
            tick = event[0]
            if drums:
                m = _DISCO_FLIP.fullmatch(s)
                if m and m.group(3) in _DISCO_FLAGS:
                    difficulty = _SYSEX_DIFFICULTY[int(m.group(1))]
                    code = _DISCO_FLAGS[m.group(3)]
                    ends[difficulty].append((_end_key(tick, code), tick, code, 127, 1, True))
                    ends[difficulty].append((_end_key(tick, code), tick, code, 127, 1, False))
            if s == "ENHANCED_OPENS" or s == "[ENHANCED_OPENS]":
                enhanced_opens = True
            elif s == "ENABLE_CHART_DYNAMICS" or s == "[ENABLE_CHART_DYNAMICS]":
                code = Ev.ENABLE_CHART_DYNAMICS
                ends[_ALL].append((_end_key(tick, code), tick, code, 127, 1, True))
                ends[_ALL].append((_end_key(tick, code), tick, code, 127, 1, False))
        elif what == SYSEX or what == SYSEX_ESCAPE:
            data = event[2]
            # Phase Shift: 'P' 'S' 0 0 difficulty type on/off
            if (
                len(data) > 6
                and data[0] == 0x50
                and data[1] == 0x53
                and data[2] == 0
                and data[3] == 0
            ):
                code = Ev.FORCE_OPEN if data[5] == 1 else Ev.FORCE_TAP if data[5] == 4 else None
                difficulty = _SYSEX_DIFFICULTY.get(data[4])
                if code is not None and difficulty is not None:
                    tick = event[0]
                    ends[difficulty].append(
                        (_end_key(tick, code), tick, code, 127, 1, data[6] == 1)
                    )
    return ends


def _distribute(ends: list[list[_End]], difficulty: int) -> list[_End]:
    """A difficulty's ends plus the all-difficulty ones (only if it has any of its own), sorted.

    Same tick: higher codes first (modifiers before the notes they modify); otherwise file order
    (the sort is stable).
    """
    own = ends[difficulty]
    merged = own + ends[_ALL] if own else []
    merged.sort(key=itemgetter(0))
    return merged


def _pair_ends(ends: list[_End]) -> list[RawEvent]:
    """Join each end to the latest open start of its code on the same channel; unclosed starts
    go."""
    open_events: list[list[RawEvent]] = [[] for _ in range(64)]
    result: list[RawEvent] = []
    append = result.append
    for _, tick, code, velocity, channel, is_start in ends:
        stack = open_events[code]
        if is_start:
            event = RawEvent(tick, -1, code, velocity, channel)
            stack.append(event)
            append(event)
        elif stack:
            top = stack[-1]
            if top.channel == channel:
                stack.pop()
                top.length = tick - top.tick
            else:
                for i in range(len(stack) - 2, -1, -1):
                    if stack[i].channel == channel:
                        event = stack.pop(i)
                        event.length = tick - event.tick
                        break
    return [e for e in result if e.length != -1]


def _split_modifier_sustains(
    per_difficulty: list[list[RawEvent]], kind: InstrumentType
) -> list[list[RawEvent]]:
    """Turn modifier phrases (tap, open, forcing, flam, tom markers) into a zero-length modifier on
    each note tick they cover (end tick excluded), as .chart stores modifiers. Drops difficulties
    without notes. Adds ghost/accent modifiers once chart dynamics are on (velocity 1 / 127).
    """
    sustains = _MODIFIER_SUSTAINS[kind]
    modifiable = _MODIFIABLE_NOTES[kind]
    drums = kind == InstrumentType.DRUMS
    dynamics = False  # scan-chart keeps this across difficulties, hardest first
    result = []
    for events in per_difficulty:
        has_notes = False
        active: list[RawEvent] = []
        latest: dict[int, int] = {}  # modifier code → tick it was last inserted on
        out: list[RawEvent] = []
        for event in events:
            code = event.type
            if code == _ENABLE_CHART_DYNAMICS:
                dynamics = True
                continue
            if active:
                tick = event.tick
                active = [
                    m
                    for m in active
                    if (m.tick + m.length >= tick if m.length == 0 else m.tick + m.length > tick)
                ]
            if code in sustains:
                active.append(event)
                continue
            if code in modifiable:
                has_notes = True
                tick = event.tick
                for m in active:
                    last = latest.get(m.type)
                    if last is None or last < tick:
                        latest[m.type] = tick
                        out.append(RawEvent(tick, 0, m.type, m.velocity, m.channel))
                if dynamics and drums and (event.velocity == 1 or event.velocity == 127):
                    accent, ghost = DRUM_DYNAMICS[code]
                    out.append(
                        RawEvent(
                            tick, 0, ghost if event.velocity == 1 else accent, 127, event.channel
                        )
                    )
            out.append(event)
        result.append(out if has_notes else [])
    return result


def _fix_legacy_star_power(per_difficulty: list[list[RawEvent]], multiplier_note: float) -> None:
    """GH1/GH2 charts mark star power with note 103 (the solo note); 116 phrases are then
    rejected."""
    for events in per_difficulty:
        star_power = [e for e in events if e.type == Ev.STAR_POWER]
        solos = [e for e in events if e.type == Ev.SOLO_SECTION]
        if multiplier_note == 103 or (not star_power and len(solos) > 1):
            for e in solos:
                e.type = Ev.STAR_POWER
            for e in star_power:
                e.type = Ev.REJECTED_STAR_POWER
