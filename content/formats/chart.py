""".chart reader: text sections ``[Name] { tick = TYPE values... }`` to a :class:`ParsedChart`.

Format: TheNathannator/GuitarGame_ChartFormats ``docs/Chart-File-Formats/chart-format/*`` (CC0) and
``shared/reference/formats.md`` §1.3. How each line is read follows Geomitron/scan-chart 7.0.1
``src/chart/chart-parser.ts`` (which reproduces Clone Hero), so counts and issues match it:

* encoding: UTF-16 LE/BE when the file starts with that BOM, else UTF-8 (a UTF-8 BOM is skipped,
  bad bytes become U+FFFD);
* a section starts at ``[``, its body is between ``{`` and ``}``; text after ``=`` on a line is a
  value and never ends a section; unknown sections are ignored; a repeated section replaces the
  earlier one;
* lines that do not have the expected shape are skipped, as Clone Hero skips them;
* tracks: ``{Expert,Hard,Medium,Easy}`` + ``Single``, ``DoubleGuitar``, ``DoubleRhythm``,
  ``DoubleBass``, ``Drums``, ``Keyboard``, ``GHLGuitar``, ``GHLCoop``, ``GHLRhythm``, ``GHLBass``.
  The legacy GH3 ``SingleBass`` is recognised but not read (Clone Hero does not read it; it is
  listed in ``ParsedChart.ignored_tracks``).

Malformed input raises :class:`ChartError`: no section at all, no or bad ``Resolution``, a zero
tempo or time-signature numerator, a new line inside a section name, ``}`` before any section name,
or a section left open at the end of the file (a truncated download).
"""
from __future__ import annotations

import math
import re

from .chartmodel import ChartError, ParsedChart
from .chartmodifiers import DEFAULT_MODIFIERS, ChartModifiers
from .chartraw import Ev, RawChart, RawEvent, RawTrack
from .chartrules import build_chart
from .jscompat import JS_WHITESPACE, js_number

__all__ = ["ChartError", "decode_chart_text", "parse_chart", "read_chart_raw"]

_DIFFICULTY_PREFIXES = (
    ("Expert", "expert"),
    ("Hard", "hard"),
    ("Medium", "medium"),
    ("Easy", "easy"),
)
_INSTRUMENT_SUFFIXES = (
    ("Single", "guitar"),
    ("DoubleGuitar", "guitarcoop"),
    ("DoubleRhythm", "rhythm"),
    ("DoubleBass", "bass"),
    ("Drums", "drums"),
    ("Keyboard", "keys"),
    ("GHLGuitar", "guitarghl"),
    ("GHLCoop", "guitarcoopghl"),
    ("GHLRhythm", "rhythmghl"),
    ("GHLBass", "bassghl"),
)
# Section name → (instrument, difficulty), in scan-chart's trackNameMap order (its track order).
TRACK_SECTIONS: dict[str, tuple[str, str]] = {
    prefix + suffix: (instrument, difficulty)
    for suffix, instrument in _INSTRUMENT_SUFFIXES
    for prefix, difficulty in _DIFFICULTY_PREFIXES
}
_LEGACY_SECTIONS = frozenset(prefix + "SingleBass" for prefix, _ in _DIFFICULTY_PREFIXES)

# JavaScript's "." (scan-chart's regexes): anything but a line terminator.
_DOT = r"[^\n\r\u2028\u2029]"
_SONG_LINE = re.compile(rf"({_DOT}+?) = \"?({_DOT}*?)\"?")
_TEMPO_LINE = re.compile(r"([0-9]+) = B ([0-9]+)")
_TS_LINE = re.compile(r"([0-9]+) = TS ([0-9]+)(?: ([0-9]+))?")
_SECTION_LINE = re.compile(rf"([0-9]+) = E \"\[?(?:section|prc)[ _]({_DOT}*?)\]?\"")
_END_LINE = re.compile(r"([0-9]+) = E \"\[?end\]?\"")
_CODA_LINE = re.compile(r"([0-9]+) = E \"\s*\[?coda\]?\s*\"")
_TRACK_LINE = re.compile(r"([0-9]+) = ([A-Z]+) ([A-Za-z0-9_\s\[\]]+?)( [0-9]+)?")
_DISCO_FLIP = re.compile(r"\s*\[?mix[ _]([0-3])[ _]drums([0-5])(d|dnoflip|easy|easynokick|)\]?\s*")
_STRUCTURE = re.compile(r"[\[\]{}=\n]")

_DISCO_DIFFICULTIES = ("easy", "medium", "hard", "expert")

_SPECIALS = {
    "2": Ev.STAR_POWER,
    "64": Ev.FREESTYLE_SECTION,
    "65": Ev.FLEX_LANE_SINGLE,
    "66": Ev.FLEX_LANE_DOUBLE,
}
_FIVE_FRET_NOTES = {
    "0": Ev.GREEN,
    "1": Ev.RED,
    "2": Ev.YELLOW,
    "3": Ev.BLUE,
    "4": Ev.ORANGE,
    "5": Ev.FORCE_UNNATURAL,
    "6": Ev.FORCE_TAP,
    "7": Ev.OPEN,
}
_SIX_FRET_NOTES = {
    "0": Ev.WHITE1,
    "1": Ev.WHITE2,
    "2": Ev.WHITE3,
    "3": Ev.BLACK1,
    "4": Ev.BLACK2,
    "5": Ev.FORCE_UNNATURAL,
    "6": Ev.FORCE_TAP,
    "7": Ev.OPEN,
    "8": Ev.BLACK3,
}
_DRUM_NOTES = {
    "0": Ev.KICK,
    "1": Ev.RED_DRUM,
    "2": Ev.YELLOW_DRUM,
    "3": Ev.BLUE_DRUM,
    "4": Ev.FIVE_ORANGE_FOUR_GREEN_DRUM,
    "5": Ev.FIVE_GREEN_DRUM,
    "32": Ev.KICK_2X,
    "34": Ev.RED_ACCENT,
    "35": Ev.YELLOW_ACCENT,
    "36": Ev.BLUE_ACCENT,
    "37": Ev.FIVE_ORANGE_FOUR_GREEN_ACCENT,
    "38": Ev.FIVE_GREEN_ACCENT,
    "40": Ev.RED_GHOST,
    "41": Ev.YELLOW_GHOST,
    "42": Ev.BLUE_GHOST,
    "43": Ev.FIVE_ORANGE_FOUR_GREEN_GHOST,
    "44": Ev.FIVE_GREEN_GHOST,
    "66": Ev.YELLOW_CYMBAL_MARKER,
    "67": Ev.BLUE_CYMBAL_MARKER,
    "68": Ev.GREEN_CYMBAL_MARKER,
}
_SIX_FRET_INSTRUMENTS = frozenset({"guitarghl", "guitarcoopghl", "rhythmghl", "bassghl"})


def parse_chart(data: bytes, modifiers: ChartModifiers | None = None) -> ParsedChart:
    """Parse a ``notes.chart`` file.

    ``modifiers``: the song.ini parsing modifiers (HOPO distance, sustain cut-off...), default
    none set. Raises :class:`ChartError` on malformed input.
    """
    try:
        return build_chart(read_chart_raw(data), modifiers or DEFAULT_MODIFIERS)
    except ChartError:
        raise
    except (ArithmeticError, IndexError, KeyError, ValueError) as exc:
        # Safety net: damaged input must surface as ChartError, never as a crash of the caller.
        raise ChartError(f"unreadable .chart file ({type(exc).__name__}: {exc})") from exc


def decode_chart_text(data: bytes) -> str:
    """The text of a .chart file: UTF-16 when it starts with that BOM, else UTF-8 (BOM skipped)."""
    if data[:2] == b"\xff\xfe":
        return data[2:].decode("utf-16-le", "replace")
    if data[:2] == b"\xfe\xff":
        return data[2:].decode("utf-16-be", "replace")
    return data.decode("utf-8-sig", "replace")


def read_chart_raw(data: bytes) -> RawChart:
    """The raw events of a .chart file, before the shared Clone Hero rules (see module doc)."""
    text = decode_chart_text(bytes(data))
    sections = _split_sections(text)
    if not sections:
        raise ChartError("invalid .chart file: no [Section] { ... } found")

    song = {}
    for line in sections.get("Song", ()):
        m = _SONG_LINE.fullmatch(line)
        if m:
            song[m.group(1)] = m.group(2)
    resolution = js_number(song.get("Resolution"))
    if not resolution or math.isnan(resolution):
        raise ChartError("invalid .chart file: [Song] has no Resolution")
    if resolution < 0 or not math.isfinite(resolution):
        raise ChartError(
            f"invalid .chart file: Resolution {song['Resolution']!r} is not a positive number"
        )
    if resolution.is_integer():
        resolution = int(resolution)

    sync = sections.get("SyncTrack", ())
    events = sections.get("Events", ())
    first_coda_tick = next((int(m.group(1)) for m in map(_CODA_LINE.fullmatch, events) if m), None)

    raw = RawChart(
        format="chart",
        resolution=resolution,
        tempos=_tempos(sync),
        time_signatures=_time_signatures(sync),
        sections=sorted(
            ((int(m.group(1)), m.group(2)) for m in map(_SECTION_LINE.fullmatch, events) if m),
            key=lambda s: s[0],
        ),
        end_events=[int(m.group(1)) for m in map(_END_LINE.fullmatch, events) if m],
        tracks=[],
        metadata=_metadata(song),
        has_lyrics=any('"lyric ' in line for line in events),
        has_vocals=False,  # .chart has no vocal notes
    )
    for name, (instrument, difficulty) in TRACK_SECTIONS.items():
        lines = sections.get(name)
        if lines is not None:
            raw.tracks.append(_read_track(lines, instrument, difficulty, first_coda_tick))
    raw.ignored_tracks = [name for name in sections if name in _LEGACY_SECTIONS]
    return raw


def _split_sections(text: str) -> dict[str, list[str]]:
    """Section name → its trimmed, non-empty lines (scan-chart ``getFileSections``, same rules).

    Only the structural characters are visited: ``[`` starts a name, ``]`` ends it, ``{`` opens a
    body (rest of its line ignored), ``}`` closes it, and ``=`` hides the rest of its line.
    """
    sections: dict[str, list[str]] = {}
    skip_line = False
    reading_name = False
    body_open = False
    read_start = 0
    name: str | None = None
    for m in _STRUCTURE.finditer(text):
        c = m.group()
        i = m.start()
        if reading_name:
            if c == "]":
                reading_name = False
                name = text[read_start:i]
            elif c == "\n":
                raise ChartError(
                    f"invalid .chart file: line {_line_no(text, i)}: "
                    "new line inside a section name"
                )
            continue
        if c == "=":
            skip_line = True
        elif c == "\n":
            skip_line = False
        if skip_line:
            continue
        if c == "{":
            skip_line = True
            read_start = i + 1
            body_open = True
        elif c == "}":
            if not name:
                raise ChartError(
                    f"invalid .chart file: line {_line_no(text, i)}: "
                    "'}' before any [Section] name"
                )
            lines = (line.strip(JS_WHITESPACE) for line in text[read_start:i].split("\n"))
            sections[name] = [line for line in lines if line]
            body_open = False
        elif c == "[":
            read_start = i + 1
            reading_name = True
    if reading_name or body_open:
        what = "section name" if reading_name else f"section [{name}]"
        raise ChartError(
            f"invalid .chart file: {what} is not closed at the end of the file (truncated?)"
        )
    return sections


def _line_no(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _metadata(song: dict[str, str]) -> dict[str, str]:
    """``[Song]`` values under song.ini key names (what Clone Hero writes to song.ini).

    Empty values are left out (scan-chart: ``|| undefined``). ``Year``: GHTCP writes ``", 2002"``;
    the leading comma is dropped. ``Offset``/``PreviewStart`` are seconds in .chart and become ms;
    ``Offset`` goes to ``chart_offset`` because song.ini's ``delay`` is a different setting.
    """
    meta: dict[str, str] = {}
    for chart_key, ini_key in (
        ("Name", "name"),
        ("Artist", "artist"),
        ("Album", "album"),
        ("Genre", "genre"),
        ("Charter", "charter"),
    ):
        if song.get(chart_key):
            meta[ini_key] = song[chart_key]
    year = re.sub(r"^,\s*", "", song.get("Year", ""))
    if year:
        meta["year"] = year
    for chart_key, ini_key, scale in (
        ("Difficulty", "diff_guitar", 1),
        ("Offset", "chart_offset", 1000),
        ("PreviewStart", "preview_start_time", 1000),
    ):
        value = js_number(song.get(chart_key))
        if value and math.isfinite(value):
            meta[ini_key] = _format_number(value * scale)
    return meta


def _format_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _tempos(lines) -> list[tuple[int, float]]:
    tempos = []
    for line in lines:
        m = _TEMPO_LINE.fullmatch(line)
        if m:
            tick, millibpm = int(m.group(1)), int(m.group(2))
            if millibpm == 0:
                raise ChartError(f"invalid .chart file: tempo at tick {tick} is zero")
            tempos.append((tick, millibpm / 1000))
    tempos.sort(key=lambda t: t[0])  # stable: the last marker on a tick wins, as in Clone Hero
    if not tempos or tempos[0][0] != 0:
        tempos.insert(0, (0, 120.0))  # Clone Hero's default tempo
    return tempos


def _time_signatures(lines) -> list[tuple[int, int, int]]:
    signatures = []
    for line in lines:
        m = _TS_LINE.fullmatch(line)
        if m:
            tick, numerator = int(m.group(1)), int(m.group(2))
            if numerator == 0:
                raise ChartError(
                    f"invalid .chart file: time signature numerator at tick {tick} is zero"
                )
            exponent = int(m.group(3)) if m.group(3) else 2
            if exponent > 30:
                raise ChartError(
                    f"invalid .chart file: time signature denominator 2^{exponent} at tick {tick}"
                )
            signatures.append((tick, numerator, 2**exponent))
    signatures.sort(key=lambda s: s[0])
    if not signatures or signatures[0][0] != 0:
        signatures.insert(0, (0, 4, 4))  # 4/4 until the first marker
    return signatures


def _read_track(
    lines: list[str], instrument: str, difficulty: str, first_coda_tick: int | None
) -> RawTrack:
    if instrument == "drums":
        note_map = _DRUM_NOTES
    elif instrument in _SIX_FRET_INSTRUMENTS:
        note_map = _SIX_FRET_NOTES
    else:
        note_map = _FIVE_FRET_NOTES
    events: list[RawEvent] = []
    match = _TRACK_LINE.fullmatch
    for line in lines:
        m = match(line)
        if not m:
            continue
        kind, value = m.group(2), m.group(3)
        if kind == "N":
            code = note_map.get(value)
        elif kind == "S":
            code = _SPECIALS.get(value)
        elif kind == "E":
            code = _local_event(value, difficulty)
        else:
            code = None
        if code is not None:
            length = m.group(4)
            events.append(RawEvent(int(m.group(1)), int(length) if length else 0, code))
    # stable; most games reject unsorted tracks, Clone Hero sorts
    events.sort(key=lambda e: e.tick)
    _merge_solo_events(events)

    track = RawTrack(instrument, difficulty)
    for event in events:
        track.add(event, first_coda_tick)
    return track


def _local_event(value: str, difficulty: str) -> int | None:
    if value == "solo":
        return Ev.SOLO_SECTION_START
    if value == "soloend":
        return Ev.SOLO_SECTION_END
    m = _DISCO_FLIP.fullmatch(value)
    if m and _DISCO_DIFFICULTIES[int(m.group(1))] == difficulty:
        flag = m.group(3)
        if flag == "":
            return Ev.DISCO_FLIP_OFF
        if flag == "d":
            return Ev.DISCO_FLIP_ON
        if flag == "dnoflip":
            return Ev.DISCO_NO_FLIP_ON
    return None


def _merge_solo_events(events: list[RawEvent]) -> None:
    """Turn ``solo``/``soloend`` pairs into solo phrases, in place (innermost pairs first).

    .chart solos include the note on the ``soloend`` tick, unlike other phrases, so the length is
    one tick longer than the distance (scan-chart ``mergeSoloEvents``). Unpaired markers go.
    """
    open_solos: list[RawEvent] = []
    for event in events:
        if event.type == Ev.SOLO_SECTION_START:
            open_solos.append(event)
        elif event.type == Ev.SOLO_SECTION_END and open_solos:
            start = open_solos.pop()
            start.type = Ev.SOLO_SECTION
            start.length = event.tick - start.tick + 1
    events[:] = [
        e for e in events if e.type != Ev.SOLO_SECTION_START and e.type != Ev.SOLO_SECTION_END
    ]
