"""The raw events both chart readers produce before Clone Hero's shared rules run.

The split mirrors scan-chart 7.0.1 (``RawChartData`` in ``src/chart/note-parsing-interfaces.ts``):
the ``.chart`` and ``.mid`` readers only translate their file's events into the codes below; the
rules common to both formats (HOPO/forcing, sustain cut-off, chord snapping, drum cymbals, ...) run
once on this data in ``content.formats.chartrules``.

:class:`Ev` holds scan-chart's ``eventTypes`` codes. The numbers matter: ``.mid`` events on the
same tick are ordered by descending code (modifiers before notes), as scan-chart does.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class Ev:
    """Raw event codes (scan-chart ``eventTypes``). Plain ints, for speed in the hot loops."""

    STAR_POWER = 0
    SOLO_SECTION = 1  # .mid
    REJECTED_STAR_POWER = 2  # .mid, star power ignored because of multiplier_note
    SOLO_SECTION_START = 3  # .chart
    SOLO_SECTION_END = 4  # .chart

    # 5 fret
    OPEN = 5
    GREEN = 6
    RED = 7
    YELLOW = 8
    BLUE = 9
    ORANGE = 10

    # 6 fret
    BLACK1 = 11
    BLACK2 = 12
    BLACK3 = 13
    WHITE1 = 14
    WHITE2 = 15
    WHITE3 = 16

    # Drums
    KICK = 17
    KICK_2X = 18
    RED_DRUM = 19
    YELLOW_DRUM = 20
    BLUE_DRUM = 21
    FIVE_ORANGE_FOUR_GREEN_DRUM = 22
    FIVE_GREEN_DRUM = 23
    FLEX_LANE_SINGLE = 24
    FLEX_LANE_DOUBLE = 25
    FREESTYLE_SECTION = 26

    # Modifiers
    FORCE_OPEN = 27  # .mid
    FORCE_TAP = 28
    FORCE_STRUM = 29  # .mid
    FORCE_HOPO = 30  # .mid
    FORCE_UNNATURAL = 31  # .chart
    FORCE_FLAM = 32
    YELLOW_TOM_MARKER = 33  # .mid
    BLUE_TOM_MARKER = 34  # .mid
    GREEN_TOM_MARKER = 35  # .mid
    YELLOW_CYMBAL_MARKER = 36  # .chart
    BLUE_CYMBAL_MARKER = 37  # .chart
    GREEN_CYMBAL_MARKER = 38  # .chart
    RED_GHOST = 39
    YELLOW_GHOST = 40
    BLUE_GHOST = 41
    FIVE_ORANGE_FOUR_GREEN_GHOST = 42
    FIVE_GREEN_GHOST = 43
    KICK_GHOST = 44
    RED_ACCENT = 45
    YELLOW_ACCENT = 46
    BLUE_ACCENT = 47
    FIVE_ORANGE_FOUR_GREEN_ACCENT = 48
    FIVE_GREEN_ACCENT = 49
    KICK_ACCENT = 50
    DISCO_FLIP_OFF = 51
    DISCO_FLIP_ON = 52
    DISCO_NO_FLIP_ON = 53

    # Toggle
    ENABLE_CHART_DYNAMICS = 54


FRET_NOTES = frozenset(range(Ev.OPEN, Ev.WHITE3 + 1))
"""Guitar-style note codes (5-fret and 6-fret)."""

DRUM_NOTES = frozenset(range(Ev.KICK, Ev.FIVE_GREEN_DRUM + 1))
"""Drum note codes, kicks included."""

FORCING_MODIFIERS = frozenset({Ev.FORCE_UNNATURAL, Ev.FORCE_HOPO, Ev.FORCE_STRUM})
# Drum note code → (accent modifier, ghost modifier): the .chart dynamics markers, which the
# .mid reader also emits for velocity 127 / 1 notes after [ENABLE_CHART_DYNAMICS].
DRUM_DYNAMICS = {
    Ev.RED_DRUM: (Ev.RED_ACCENT, Ev.RED_GHOST),
    Ev.YELLOW_DRUM: (Ev.YELLOW_ACCENT, Ev.YELLOW_GHOST),
    Ev.BLUE_DRUM: (Ev.BLUE_ACCENT, Ev.BLUE_GHOST),
    Ev.FIVE_ORANGE_FOUR_GREEN_DRUM: (
        Ev.FIVE_ORANGE_FOUR_GREEN_ACCENT,
        Ev.FIVE_ORANGE_FOUR_GREEN_GHOST,
    ),
    Ev.FIVE_GREEN_DRUM: (Ev.FIVE_GREEN_ACCENT, Ev.FIVE_GREEN_GHOST),
    Ev.KICK: (Ev.KICK_ACCENT, Ev.KICK_GHOST),
    Ev.KICK_2X: (Ev.KICK_ACCENT, Ev.KICK_GHOST),
}
"""What scan-chart's ``hasForcedNotes`` looks for."""


class RawEvent:
    """One raw note, modifier or phrase: ``tick`` and ``length`` in ticks, ``type`` an
    :class:`Ev` code.

    ``velocity``/``channel`` only matter for ``.mid`` (drum dynamics, roll-lane difficulty).
    """

    __slots__ = ("tick", "length", "type", "velocity", "channel")

    def __init__(
        self, tick: int, length: int, type: int, velocity: int = 127, channel: int = 0
    ) -> None:
        self.tick = tick
        self.length = length
        self.type = type
        self.velocity = velocity
        self.channel = channel

    def __repr__(self) -> str:
        return f"RawEvent(tick={self.tick}, length={self.length}, type={self.type})"


@dataclass(slots=True)
class RawTrack:
    """The raw events of one instrument/difficulty, phrases already split out of ``events``."""

    instrument: str
    difficulty: str
    events: list[RawEvent] = field(default_factory=list)
    star_power: list[RawEvent] = field(default_factory=list)
    rejected_star_power: list[RawEvent] = field(default_factory=list)
    solos: list[RawEvent] = field(default_factory=list)
    flex_lanes: list[RawEvent] = field(default_factory=list)  # type tells single/double
    freestyle: list[tuple[int, int, bool]] = field(default_factory=list)  # (tick, length, is_coda)

    def add(self, event: RawEvent, first_coda_tick: int | None) -> None:
        """File ``event`` under the phrase lists or the note/modifier events, as scan-chart
        does."""
        t = event.type
        if t == Ev.STAR_POWER:
            self.star_power.append(event)
        elif t == Ev.REJECTED_STAR_POWER:
            self.rejected_star_power.append(event)
        elif t == Ev.SOLO_SECTION:
            self.solos.append(event)
        elif t == Ev.FLEX_LANE_SINGLE or t == Ev.FLEX_LANE_DOUBLE:
            self.flex_lanes.append(event)
        elif t == Ev.FREESTYLE_SECTION:
            is_coda = first_coda_tick is not None and event.tick >= first_coda_tick
            self.freestyle.append((event.tick, event.length, is_coda))
        else:
            self.events.append(event)


@dataclass(slots=True)
class RawChart:
    """Everything a reader took from the file, before the shared rules.

    ``tempos``: ``(tick, bpm)`` sorted by tick, the first at tick 0. ``time_signatures``:
    ``(tick, numerator, denominator)`` likewise. ``sections``: ``(tick, name)``. ``end_events``:
    ticks. ``metadata``: song.ini-style keys (``.chart`` only).
    """

    format: str
    resolution: float
    tempos: list[tuple[int, float]]
    time_signatures: list[tuple[int, int, int]]
    sections: list[tuple[int, str]]
    end_events: list[int]
    tracks: list[RawTrack]
    metadata: dict[str, str] = field(default_factory=dict)
    has_lyrics: bool = False
    has_vocals: bool = False
    ignored_tracks: list[str] = field(default_factory=list)
