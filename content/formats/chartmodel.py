"""The parsed-chart model shared by the .chart and .mid readers.

Both readers (``content.formats.chart`` and ``content.formats.midi``) return a
:class:`ParsedChart`. Names and numeric codes follow Geomitron/scan-chart 7.0.1
(``src/interfaces.ts``, ``src/chart/note-parsing-interfaces.ts``), the scanner that reproduces
Clone Hero's parsing, so results compare one to one with it:
* instruments: ``guitar, guitarcoop, rhythm, bass, drums, keys, guitarghl, guitarcoopghl,
  rhythmghl, bassghl``;
* difficulties: ``expert, hard, medium, easy``;
* :class:`NoteType` and :class:`NoteFlag` values are scan-chart's ``noteTypes`` / ``noteFlags``
  (they are constants of its track hash, so they must not change).

Units: positions are in ticks (``tick``, ``length``) and milliseconds from the start of the chart
(``ms``, ``ms_length``). Nothing here imports Django.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

INSTRUMENTS: tuple[str, ...] = (
    "guitar",
    "guitarcoop",
    "rhythm",
    "bass",
    "drums",
    "keys",
    "guitarghl",
    "guitarcoopghl",
    "rhythmghl",
    "bassghl",
)
"""Every instrument Clone Hero reads, in scan-chart's order (``instruments`` in
``interfaces.ts``)."""

DIFFICULTIES: tuple[str, ...] = ("expert", "hard", "medium", "easy")
"""Difficulties, hardest first (scan-chart's ``difficulties``)."""

SIX_FRET_INSTRUMENTS = frozenset({"guitarghl", "guitarcoopghl", "rhythmghl", "bassghl"})


class ChartError(ValueError):
    """A .chart or .mid file that cannot be read; the message names the line, tick or byte
    offset."""


class InstrumentType(IntEnum):
    """scan-chart's ``instrumentTypes``."""

    SIX_FRET = 0
    FIVE_FRET = 1
    DRUMS = 2


def instrument_type(instrument: str) -> InstrumentType:
    """The kind of track an instrument has (scan-chart ``getInstrumentType``)."""
    if instrument == "drums":
        return InstrumentType.DRUMS
    if instrument in SIX_FRET_INSTRUMENTS:
        return InstrumentType.SIX_FRET
    return InstrumentType.FIVE_FRET


class NoteType(IntEnum):
    """What a note is: a fret/lane (scan-chart ``noteTypes``; hashed, never renumber)."""

    OPEN = 0
    GREEN = 1
    RED = 2
    YELLOW = 3
    BLUE = 4
    ORANGE = 5
    BLACK1 = 6
    BLACK2 = 7
    BLACK3 = 8
    WHITE1 = 9
    WHITE2 = 10
    WHITE3 = 11
    KICK = 12
    RED_DRUM = 13
    YELLOW_DRUM = 14
    BLUE_DRUM = 15
    GREEN_DRUM = 16


class NoteFlag(IntFlag):
    """How a note is played (scan-chart ``noteFlags``; hashed, never renumber).

    Guitar notes carry exactly one of STRUM / HOPO / TAP after the forcing rules ran. Drum notes
    carry TOM or CYMBAL (pads), DOUBLE_KICK (2x kick), GHOST / ACCENT (dynamics), FLAM, DISCO*.
    """

    NONE = 0
    STRUM = 1
    HOPO = 2
    TAP = 4
    DOUBLE_KICK = 8
    TOM = 16
    CYMBAL = 32
    DISCO_NOFLIP = 64
    DISCO = 128
    FLAM = 256
    GHOST = 512
    ACCENT = 1024


class DrumType(IntEnum):
    """scan-chart's ``drumTypes``; :attr:`label` is the name used in summaries."""

    FOUR_LANE = 0
    FOUR_LANE_PRO = 1
    FIVE_LANE = 2

    @property
    def label(self) -> str:
        return ("fourLane", "fourLanePro", "fiveLane")[self]


@dataclass(slots=True)
class Tempo:
    """A BPM marker: ``bpm`` from ``tick`` on; ``ms`` is when it starts."""

    tick: int
    bpm: float
    ms: float = 0.0


class TempoMap:
    """Tick ↔ millisecond conversion through the chart's tempo changes.

    ``tempos`` must start at tick 0 (the readers insert Clone Hero's default 120 BPM when the file
    has none there). Each tempo's start time is precomputed once, so :meth:`tick_to_ms` is one
    bisect plus one multiply. The arithmetic is scan-chart's (``getTimedTempos`` and
    ``setEventMsTimes`` in ``notes-parser.ts``), operation for operation, so times match it to the
    last bit; that matters for thresholds such as the 15 ms ``brokenNote`` rule.
    """

    __slots__ = ("resolution", "tempos", "_ticks")

    def __init__(self, resolution: float, tempos: Iterable[tuple[int, float]]) -> None:
        self.resolution = resolution
        timed: list[Tempo] = []
        # scan-chart starts from an implicit 120 BPM marker at tick 0 and drops it when the chart
        # has its own at tick 0 (always, after the readers' normalisation).
        prev = Tempo(0, 120.0, 0.0)
        for tick, bpm in tempos:
            ms = prev.ms + ((tick - prev.tick) * 60000) / (prev.bpm * resolution)
            prev = Tempo(tick, bpm, ms)
            timed.append(prev)
        if not timed or timed[0].tick != 0:
            timed.insert(0, Tempo(0, 120.0, 0.0))
        self.tempos: list[Tempo] = timed
        self._ticks = [t.tick for t in timed]

    def __len__(self) -> int:
        return len(self.tempos)

    def tempo_index(self, tick: int) -> int:
        """Index of the tempo in force at ``tick`` (the last one at or before it)."""
        i = bisect_right(self._ticks, tick) - 1
        return i if i > 0 else 0

    def tick_to_ms(self, tick: int) -> float:
        """Milliseconds from the chart start to ``tick``."""
        t = self.tempos[self.tempo_index(tick)]
        return t.ms + ((tick - t.tick) * 60000) / (t.bpm * self.resolution)

    def span_ms(self, tick: int, length: int) -> tuple[float, float]:
        """``(ms, ms_length)`` of an event starting at ``tick`` that lasts ``length`` ticks."""
        start = self.tick_to_ms(tick)
        if not length:
            return start, 0.0
        end = self.tempos[self.tempo_index(tick + length)]
        # Same grouping as scan-chart: (endTempo.ms - start) + rest-of-segment.
        return start, (
            end.ms - start + ((tick + length - end.tick) * 60000) / (end.bpm * self.resolution)
        )


@dataclass(slots=True)
class TimeSignature:
    """``numerator``/``denominator`` from ``tick`` on (e.g. 6/8: ``.chart`` ``TS 6 3``)."""

    tick: int
    numerator: int
    denominator: int
    ms: float = 0.0


@dataclass(slots=True)
class Section:
    """A practice section (``section x`` / ``prc_x`` event) named ``name`` at ``tick``."""

    tick: int
    name: str
    ms: float = 0.0


@dataclass(slots=True)
class EndEvent:
    """An ``end`` event: where the chart says the song ends."""

    tick: int
    ms: float = 0.0


@dataclass(slots=True)
class Phrase:
    """A star power phrase, solo section or similar, covering ``[tick, tick + length)``."""

    tick: int
    length: int
    ms: float = 0.0
    ms_length: float = 0.0


@dataclass(slots=True)
class FlexLane:
    """A drum roll lane (``is_double`` = two-lane roll) covering ``[tick, tick + length)``."""

    tick: int
    length: int
    is_double: bool
    ms: float = 0.0
    ms_length: float = 0.0


@dataclass(slots=True)
class FreestyleSection:
    """A drum fill / star power activation lane, or the big rock ending when ``is_coda``."""

    tick: int
    length: int
    is_coda: bool
    ms: float = 0.0
    ms_length: float = 0.0


@dataclass(slots=True)
class Note:
    """One gem: ``type`` is a :class:`NoteType` value, ``flags`` a :class:`NoteFlag` mask.

    ``length`` is the sustain in ticks (0 = none) after Clone Hero's cut-off rules.
    """

    tick: int
    length: int
    type: int
    flags: int
    ms: float = 0.0
    ms_length: float = 0.0

    @property
    def is_open(self) -> bool:
        return self.type == NoteType.OPEN


@dataclass(slots=True)
class ChartTrack:
    """One instrument at one difficulty.

    ``note_groups``: the notes grouped by tick (a chord is one group), in tick order.
    ``has_forced``: the raw track had a forcing modifier (``.chart`` ``N 5``, ``.mid`` 101/102 or
    the GHL equivalents), as scan-chart's ``hasForcedNotes`` counts it.
    ``rejected_star_power``: ``.mid`` star power ignored because of ``multiplier_note``.
    """

    instrument: str
    difficulty: str
    note_groups: list[list[Note]] = field(default_factory=list)
    star_power: list[Phrase] = field(default_factory=list)
    rejected_star_power: list[Phrase] = field(default_factory=list)
    solos: list[Phrase] = field(default_factory=list)
    flex_lanes: list[FlexLane] = field(default_factory=list)
    freestyle: list[FreestyleSection] = field(default_factory=list)
    has_forced: bool = False

    @property
    def note_count(self) -> int:
        """scan-chart's note count: every drum note, but one per chord on other instruments."""
        if self.instrument == "drums":
            return sum(len(g) for g in self.note_groups)
        return len(self.note_groups)

    def notes(self) -> Iterator[Note]:
        """Every note, in tick order."""
        for group in self.note_groups:
            yield from group


@dataclass(slots=True)
class ParsedChart:
    """A whole chart file after Clone Hero's rules were applied.

    ``format``: ``"chart"`` or ``"mid"``. ``resolution``: ticks per quarter note.
    ``tracks``: keyed by ``(instrument, difficulty)`` in scan-chart's order. For ``.chart`` every
    instrument section present is a track, even an empty one (scan-chart does the same); for
    ``.mid`` only difficulties with notes are.
    ``metadata``: ``.chart`` ``[Song]`` values under song.ini key names (empty for ``.mid``).
    ``drum_type``: ``None`` without a drums track.
    ``has_vocals``: a ``PART VOCALS`` track with notes (``.mid`` only).
    ``ignored_tracks``: names of recognised-but-unsupported parts that were skipped (e.g. the
    legacy ``.chart`` ``SingleBass``), for diagnostics.
    """

    format: str
    resolution: float
    tempo_map: TempoMap
    time_signatures: list[TimeSignature]
    sections: list[Section]
    end_events: list[EndEvent]
    tracks: dict[tuple[str, str], ChartTrack]
    metadata: dict[str, str] = field(default_factory=dict)
    has_lyrics: bool = False
    has_vocals: bool = False
    drum_type: DrumType | None = None
    ignored_tracks: list[str] = field(default_factory=list)

    def track(self, instrument: str, difficulty: str) -> ChartTrack | None:
        """The track for ``instrument`` at ``difficulty``, or ``None``."""
        return self.tracks.get((instrument, difficulty))

    @property
    def instruments(self) -> list[str]:
        """Instruments with at least one track, in track order (scan-chart ``instruments``)."""
        seen: dict[str, None] = {}
        for instrument, _ in self.tracks:
            seen.setdefault(instrument, None)
        return list(seen)
