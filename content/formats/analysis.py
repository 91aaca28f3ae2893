"""Per-chart analysis: what the library shows and checks about a ``notes.chart`` / ``notes.mid``.

Entry point: :func:`analyse_chart`. Pure Python, no Django. Counts, flags, issues and hashes are
scan-chart 7.0.1's (``src/chart/chart-scanner.ts``), the scanner that reproduces Clone Hero; the
parity test ``tests/formats/test_scanchart_parity.py`` holds us to it on every fixture.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from .chart import parse_chart
from .charthash import chart_hash
from .chartissues import find_chart_issues
from .chartmodel import ChartError, ChartTrack, NoteFlag, NoteType, ParsedChart
from .chartmodifiers import ChartModifiers
from .issues import Issue
from .midi import parse_midi

__all__ = [
    "ChartError", "ChartSummary", "TrackSummary", "analyse_chart", "summarise_chart", "max_nps"
]

NPS_WINDOW_MS = 1000
# Plain ints: IntFlag arithmetic is ~10x slower than int arithmetic in these per-note loops.
_TAP = int(NoteFlag.TAP)
_DOUBLE_KICK = int(NoteFlag.DOUBLE_KICK)
_OPEN = int(NoteType.OPEN)


@dataclass(frozen=True, slots=True)
class TrackSummary:
    """One instrument at one difficulty.

    note_count: scan-chart's count (drums: every note; other instruments: chords count once).
    max_nps: the most notes (chords once) in any one-second window, per second (scan-chart
        ``maxNps``).
    star_power_count / solo_count: phrases after duplicates were merged (empty ones included).
    has_forced: a forcing modifier is present; has_tap / has_open: a tap / open note is.
    """

    instrument: str
    difficulty: str
    note_count: int
    max_nps: float
    star_power_count: int
    solo_count: int
    has_forced: bool
    has_tap: bool
    has_open: bool


@dataclass(frozen=True, slots=True)
class ChartSummary:
    """Everything :func:`analyse_chart` finds out about one chart file.

    resolution: ticks per quarter note.
    instruments: scan-chart's ``instruments`` (each instrument with a track; .chart counts an empty
        instrument section as a track, as scan-chart and Clone Hero do).
    tracks: one :class:`TrackSummary` per instrument/difficulty, in scan-chart's order.
    length_ms: where the chart ends: the later of the last note's end (sustain included) and the
        first ``end`` event; 0 for a chart with neither.
    effective_length_ms: scan-chart's ``effectiveLength``: from the earliest first note to the
        latest last note start over all tracks, rounded to 3 decimals; song.ini ``song_length``
        (ms) when there is no note.
    sections: ``(ms, name)`` of each practice section.
    star_power_count: star power phrases over all tracks.
    tempo_count / time_signature_count: markers, including Clone Hero's implicit 120 BPM and 4/4 at
        tick 0 when the file has none there (scan-chart ``tempoMarkerCount``).
    drum_type: ``"fourLane"``, ``"fourLanePro"``, ``"fiveLane"`` or None without drums.
    chart_hash: scan-chart's ``chartHash`` (base64url blake3 of the file and non-default
        modifiers).
    metadata: .chart ``[Song]`` values under song.ini key names (name, artist, album, genre, year,
        charter, diff_guitar, chart_offset and preview_start_time in ms); empty for .mid.
    issues: chart issues (``content.formats.chartissues``), scan-chart's names and order.
    """

    resolution: float
    instruments: list[str]
    tracks: list[TrackSummary]
    length_ms: float
    effective_length_ms: float
    sections: list[tuple[float, str]]
    star_power_count: int
    tempo_count: int
    time_signature_count: int
    drum_type: str | None
    has_lyrics: bool
    has_vocals: bool
    has_solo_sections: bool
    has_forced_notes: bool
    has_tap_notes: bool
    has_open_notes: bool
    has_2x_kick: bool
    has_flex_lanes: bool
    chart_hash: str
    metadata: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def analyse_chart(
    data: bytes, *, kind: Literal["chart", "mid"], ini: Mapping[str, str]
) -> ChartSummary:
    """Parse and check one chart file.

    ``data``: the bytes of ``notes.chart`` (``kind="chart"``) or ``notes.mid`` (``kind="mid"``).
    ``ini``: the song.ini ``[song]`` values, lower-case key → raw text (``{}`` without a song.ini);
    only the parsing modifiers and ``song_length`` are used here.
    Raises :class:`ChartError` when the file cannot be read (the message says why and where).
    """
    modifiers = ChartModifiers.from_ini(ini)
    if kind == "chart":
        chart = parse_chart(data, modifiers)
    elif kind == "mid":
        chart = parse_midi(data, modifiers)
    else:
        raise ValueError(f"kind must be 'chart' or 'mid', not {kind!r}")
    return summarise_chart(chart, chart_hash(data, modifiers), modifiers)


def summarise_chart(chart: ParsedChart, hash_: str, modifiers: ChartModifiers) -> ChartSummary:
    """The :class:`ChartSummary` of an already parsed chart (``hash_``: its ``chart_hash``)."""
    tracks = list(chart.tracks.values())
    summaries = [_track_summary(t) for t in tracks]
    return ChartSummary(
        resolution=chart.resolution,
        instruments=chart.instruments,
        tracks=summaries,
        length_ms=_length_ms(chart, tracks),
        effective_length_ms=_effective_length(tracks, modifiers.song_length),
        sections=[(s.ms, s.name) for s in chart.sections],
        star_power_count=sum(len(t.star_power) for t in tracks),
        tempo_count=len(chart.tempo_map),
        time_signature_count=len(chart.time_signatures),
        drum_type=chart.drum_type.label if chart.drum_type is not None else None,
        has_lyrics=chart.has_lyrics,
        has_vocals=chart.has_vocals,
        has_solo_sections=any(t.solos for t in tracks),
        has_forced_notes=any(t.has_forced for t in tracks),
        has_tap_notes=any(t.has_tap for t in summaries),
        has_open_notes=any(t.has_open for t in summaries),
        has_2x_kick=any(
            n.flags & _DOUBLE_KICK for t in tracks if t.instrument == "drums" for n in t.notes()
        ),
        has_flex_lanes=any(t.flex_lanes for t in tracks),
        chart_hash=hash_,
        metadata=dict(chart.metadata),
        issues=find_chart_issues(chart, modifiers.song_length),
    )


def max_nps(track: ChartTrack) -> float:
    """Most note groups starting within any 1000 ms window, per second (scan-chart
    ``findMaxNps``)."""
    groups = track.note_groups
    best = 0
    in_window = 0
    start = 0
    for group in groups:
        in_window += 1
        window_start = group[0].ms - NPS_WINDOW_MS
        while groups[start][0].ms < window_start:
            start += 1
            in_window -= 1
        best = max(best, in_window)
    return (1000 * best) / NPS_WINDOW_MS


def _track_summary(track: ChartTrack) -> TrackSummary:
    tap = open_ = False
    for group in track.note_groups:
        for n in group:
            tap = tap or bool(n.flags & _TAP)
            open_ = open_ or n.type == _OPEN
    return TrackSummary(
        instrument=track.instrument,
        difficulty=track.difficulty,
        note_count=track.note_count,
        max_nps=max_nps(track),
        star_power_count=len(track.star_power),
        solo_count=len(track.solos),
        has_forced=track.has_forced,
        has_tap=tap,
        has_open=open_,
    )


def _length_ms(chart: ParsedChart, tracks: list[ChartTrack]) -> float:
    # A long sustain can outlast later, shorter notes, so look at every note.
    ends = [
        max(n.ms + n.ms_length for g in t.note_groups for n in g) for t in tracks if t.note_groups
    ]
    if chart.end_events:
        ends.append(chart.end_events[0].ms)
    return max(ends, default=0.0)


def _effective_length(tracks: list[ChartTrack], song_length: float) -> float:
    firsts = [t.note_groups[0][0].ms for t in tracks if t.note_groups]
    lasts = [t.note_groups[-1][0].ms for t in tracks if t.note_groups]
    if not firsts:
        return song_length
    return _round3(max(lasts) - min(firsts))


def _round3(value: float) -> float:
    """lodash ``_.round(value, 3)`` (decimal rounding, halves up)."""
    return float(Decimal(repr(value)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))
