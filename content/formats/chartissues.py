"""Chart problems, with scan-chart's issue names, rules and thresholds.

Source: Geomitron/scan-chart 7.0.1 ``src/chart/chart-scanner.ts`` (``findChartIssues``), kept rule
for rule so results compare one to one with the reference scanner (and Encore's badges):

=========================  ==================================================================
misalignedTimeSignature    a time signature not on a measure line of the previous one
noNotes                    no track has a note (and no vocals)
noExpert                   an instrument has easy/medium/hard but no expert
difficultyNotReduced       a lower difficulty (> 20 notes) identical to expert (same track hash)
isDefaultBPM               only one tempo, 120 BPM, and only one time signature, 4/4
noSections                 no practice sections
badEndEvent                an ``end`` after the first, before the last note, or after song_length
smallLeadingSilence        a track's first note earlier than 1000 ms
noStarPower                no star power on a non-drum track with > 50 notes over > 60 s
emptyStarPower             a star power phrase without a note
badStarPower               .mid star power ignored because of ``multiplier_note``
emptySoloSection           a solo without a note
noDrumActivationLanes      drums with star power, > 50 notes over > 60 s, and no fill lanes
emptyFlexLane              a roll lane without a note
difficultyForbiddenNote    a note/chord the difficulty does not allow (2x kick below expert...)
invalidChord               5-lane chords, 3+ drum pads, GHL chords mixing a lane's black/white...
brokenNote                 a note 0 < Δ ≤ 15 ms after the previous one (not next to an open)
badSustainGap              a note less than 40 ms after a sustain ends
babySustain                a sustain shorter than 100 ms
=========================  ==================================================================

Times are milliseconds from the chart start. The message starts with scan-chart's ``[mm:ss.xx]``.
"""
from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from .charthash import non_empty_phrases, track_hash
from .chartmodel import (
    ChartTrack,
    InstrumentType,
    NoteFlag,
    NoteType,
    ParsedChart,
    instrument_type,
)
from .issues import Issue

LEADING_SILENCE_THRESHOLD_MS = 1000
MIN_SUSTAIN_GAP_MS = 40
MIN_SUSTAIN_MS = 100
BROKEN_NOTE_MS = 15
NO_STAR_POWER_MIN_NOTES = 50
NO_STAR_POWER_MIN_MS = 60000
NOT_REDUCED_MIN_NOTES = 20

DESCRIPTIONS = {
    "misalignedTimeSignature": "This chart has a time signature marker that doesn't appear at the "
    "start of a measure. This can't be interpreted correctly in Clone Hero.",
    "noNotes": "This chart has no notes.",
    "noExpert": "This instrument has Easy, Medium, or Hard charted but not Expert.",
    "difficultyNotReduced": "The notes of this difficulty are identical to the notes of the "
    "expert chart.",
    "isDefaultBPM": "This chart has only one 120 BPM marker and only one 4/4 time signature. "
    "This usually means the chart wasn't tempo-mapped, but you can ignore this if the song is a "
    "constant 120 BPM.",
    "noSections": "This chart has no sections.",
    "badEndEvent": "This end event is in an invalid location and will be ignored by most games.",
    "smallLeadingSilence": "This track has a note that is less than 1000ms after the start of the "
    "track.",
    "noStarPower": "This track has no star power.",
    "emptyStarPower": "This star power phrase contains no notes.",
    "badStarPower": 'This star power is being ignored due to the .ini "multiplier_note" setting.',
    "emptySoloSection": "This solo section contains no notes.",
    "noDrumActivationLanes": "This drums track has no activation lanes.",
    "emptyFlexLane": "This flex lane contains no notes.",
    "difficultyForbiddenNote": "This is a note that isn't allowed on the track's difficulty.",
    "invalidChord": "The use of this type of chord is strongly discouraged.",
    "brokenNote": "This note is so close to the previous note that this was likely a charting "
    "mistake.",
    "badSustainGap": "This note is not far enough ahead of the previous sustain.",
    "babySustain": "The sustain on this note is too short.",
}

_OPEN = int(NoteType.OPEN)
_KICK = int(NoteType.KICK)
_PADS = frozenset(
    {NoteType.GREEN_DRUM, NoteType.RED_DRUM, NoteType.YELLOW_DRUM, NoteType.BLUE_DRUM}
)
_FIVE = frozenset({NoteType.GREEN, NoteType.RED, NoteType.YELLOW, NoteType.BLUE, NoteType.ORANGE})
_BLACK = frozenset({NoteType.BLACK1, NoteType.BLACK2, NoteType.BLACK3})
_WHITE = frozenset({NoteType.WHITE1, NoteType.WHITE2, NoteType.WHITE3})
_ONES = frozenset({NoteType.BLACK1, NoteType.WHITE1})
_TWOS = frozenset({NoteType.BLACK2, NoteType.WHITE2})
_THREES = frozenset({NoteType.BLACK3, NoteType.WHITE3})
_HOPO_OR_TAP = int(NoteFlag.HOPO | NoteFlag.TAP)
_DOUBLE_KICK = int(NoteFlag.DOUBLE_KICK)


def ms_to_exact_time(ms: float) -> str:
    """``[H:]MM:SS.ss`` as scan-chart prints issue times (``msToExactTime``)."""
    # lodash _.floor(x, 2) shifts the decimal point in the text of x, not by multiplying.
    seconds = Decimal(repr((ms / 1000) % 60)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    minutes = math.floor((ms / 1000 / 60) % 60)
    hours = math.floor((ms / 1000 / 60 / 60) % 24)
    return f"{f'{hours}:' if hours else ''}{minutes:02d}:{seconds:05}"


def _count(group, types) -> int:
    return sum(1 for n in group if n.type in types)


def _round12(value: float) -> Decimal:
    """lodash ``_.round(value, 12)``: decimal rounding, halves up."""
    return Decimal(repr(value)).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP)


def find_chart_issues(chart: ParsedChart, song_length: float = 0) -> list[Issue]:
    """Every chart issue scan-chart reports for ``chart``, in scan-chart's order.

    ``song_length``: song.ini ``song_length`` in ms (0 when absent: then any ``end`` event after
    0 ms is a ``badEndEvent``, as in scan-chart).
    """
    issues: list[Issue] = []

    def add(
        kind: str,
        ms: float | None = None,
        track: ChartTrack | None = None,
        *,
        instrument: str | None = None,
    ):
        text = (
            DESCRIPTIONS[kind] if ms is None else f"[{ms_to_exact_time(ms)}]: {DESCRIPTIONS[kind]}"
        )
        issues.append(
            Issue(
                kind,
                text,
                instrument=track.instrument if track else instrument,
                difficulty=track.difficulty if track else None,
                time_ms=ms,
            )
        )

    _time_signature_issues(chart, add)

    tracks = list(chart.tracks.values())
    if all(not t.note_groups for t in tracks) and not chart.has_vocals:
        add("noNotes")

    _difficulty_issues(chart, tracks, add)

    tempos = chart.tempo_map.tempos
    signatures = chart.time_signatures
    if (
        len(tempos) == 1
        and _round12(tempos[0].bpm) == 120
        and len(signatures) == 1
        and signatures[0].numerator == 4
        and signatures[0].denominator == 4
    ):
        add("isDefaultBPM")

    if not chart.sections:
        add("noSections")

    ends = chart.end_events
    for end in ends[1:]:
        add("badEndEvent", end.ms)
    last_ticks = [t.note_groups[-1][0].tick for t in tracks if t.note_groups]
    last_note_tick = max(last_ticks) if last_ticks else None
    if last_note_tick and ends and ends[0].tick < last_note_tick:
        add("badEndEvent", ends[0].ms)
    if ends and ends[0].ms > song_length:
        add("badEndEvent", ends[0].ms)

    for track in tracks:
        _track_issues(track, lambda kind, ms=None, t=track: add(kind, ms, t))
    return issues


def _time_signature_issues(chart: ParsedChart, add) -> None:
    signatures = list(chart.time_signatures)
    resolution = chart.resolution
    beatline = 0
    i = 0
    while i < len(signatures):
        if beatline != signatures[i].tick:
            add("misalignedTimeSignature", signatures[i].ms)
            del signatures[i]  # judge the following markers as if this one was not there
            i -= 1
        while i + 1 < len(signatures) and beatline < signatures[i + 1].tick:
            measure = resolution * 4 * (signatures[i].numerator / signatures[i].denominator)
            if measure <= 0:
                break
            beatline += measure
        i += 1


def _difficulty_issues(chart: ParsedChart, tracks: list[ChartTrack], add) -> None:
    by_instrument: dict[str, list[ChartTrack]] = {}
    for track in tracks:
        by_instrument.setdefault(track.instrument, []).append(track)
    for instrument, group in by_instrument.items():
        expert = next((t for t in group if t.difficulty == "expert"), None)
        if expert is None:
            add("noExpert", instrument=instrument)
            continue
        expert_hash = None
        for track in group:
            if track is expert or len(track.note_groups) <= NOT_REDUCED_MIN_NOTES:
                continue
            expert_hash = expert_hash or track_hash(chart, expert)
            if track_hash(chart, track) == expert_hash:
                add("difficultyNotReduced", track=track)


def _track_issues(track: ChartTrack, add) -> None:
    groups = track.note_groups
    kind = instrument_type(track.instrument)

    if groups and groups[0][0].ms < LEADING_SILENCE_THRESHOLD_MS:
        add("smallLeadingSilence")

    long_track = (
        len(groups) > NO_STAR_POWER_MIN_NOTES
        and groups[-1][0].ms - groups[0][0].ms > NO_STAR_POWER_MIN_MS
    )
    if not track.star_power and track.instrument != "drums" and long_track:
        add("noStarPower")

    kept = set(map(id, non_empty_phrases(track.star_power, groups)))
    for phrase in track.star_power:
        if id(phrase) not in kept:
            add("emptyStarPower", phrase.ms)
    for phrase in track.rejected_star_power:
        add("badStarPower", phrase.ms)
    kept = set(map(id, non_empty_phrases(track.solos, groups)))
    for phrase in track.solos:
        if id(phrase) not in kept:
            add("emptySoloSection", phrase.ms)
    if track.instrument == "drums" and not track.freestyle and track.star_power and long_track:
        add("noDrumActivationLanes")
    kept = set(map(id, non_empty_phrases(track.flex_lanes, groups)))
    for lane in track.flex_lanes:
        if id(lane) not in kept:
            add("emptyFlexLane", lane.ms)

    if kind == InstrumentType.DRUMS:
        _drum_note_issues(track, add)
    elif kind == InstrumentType.FIVE_FRET:
        _five_fret_note_issues(track, add)
    else:
        _six_fret_note_issues(track, add)

    for i in range(1, len(groups)):
        note, previous = groups[i], groups[i - 1]
        distance = note[0].ms - previous[0].ms
        if 0 < distance <= BROKEN_NOTE_MS:
            if (_count(note, (_OPEN,)) > 0) != (_count(previous, (_OPEN,)) > 0):
                continue  # an open next to a fretted note is a deliberate pattern
            add("brokenNote", note[0].ms)

    if kind != InstrumentType.DRUMS:
        _sustain_issues(groups, add)


def _drum_note_issues(track: ChartTrack, add) -> None:
    difficulty = track.difficulty
    for group in track.note_groups:
        if difficulty != "expert":
            for note in group:
                if note.flags & _DOUBLE_KICK:
                    add("difficultyForbiddenNote", group[0].ms)
        # Most groups are single notes: the length tests skip counting them (a hot loop).
        if (difficulty == "easy" and len(group) >= 3 and _count(group, _PADS) == 2
                and _count(group, (_KICK,)) > 0):
            add("difficultyForbiddenNote", group[0].ms)
        if len(group) >= 3 and _count(group, _PADS) >= 3:
            add("invalidChord", group[0].ms)


def _five_fret_note_issues(track: ChartTrack, add) -> None:
    difficulty = track.difficulty
    green_orange = (NoteType.GREEN, NoteType.ORANGE)
    green_blue = (NoteType.GREEN, NoteType.BLUE)
    for group in track.note_groups:
        if difficulty == "hard":
            if len(group) >= 2 and _count(group, green_orange) == 2:
                add("difficultyForbiddenNote", group[0].ms)
        elif difficulty == "medium":
            if _count(group, (NoteType.ORANGE,)) > 0 or (len(group) >= 2
                                                        and _count(group, green_blue) == 2):
                add("difficultyForbiddenNote", group[0].ms)
        elif difficulty == "easy":
            if _count(group, (NoteType.ORANGE, NoteType.BLUE)) > 0:
                add("difficultyForbiddenNote", group[0].ms)
        if len(group) >= 5 and _count(group, _FIVE) == 5:
            add("invalidChord", group[0].ms)


def _six_fret_note_issues(track: ChartTrack, add) -> None:
    difficulty = track.difficulty
    for group in track.note_groups:
        size = len(group)
        if difficulty == "hard":
            # no 3-note chords that mix black and white
            if size == 3 and (_count(group, _BLACK) < 3 or _count(group, _WHITE) < 3):
                add("difficultyForbiddenNote", group[0].ms)
        elif difficulty == "medium":
            if size == 3:
                add("difficultyForbiddenNote", group[0].ms)
            elif size == 2 and _count(group, _BLACK) > 0 and _count(group, _WHITE) > 0:
                # mixed black/white chords only as barre chords (both of one lane)
                if (
                    _count(group, _ONES) < 2
                    and _count(group, _TWOS) < 2
                    and _count(group, _THREES) < 2
                ):
                    add("difficultyForbiddenNote", group[0].ms)
        elif difficulty == "easy":
            if size == 3:
                add("difficultyForbiddenNote", group[0].ms)
            elif size == 2 and not (
                _count(group, (NoteType.WHITE1, NoteType.WHITE2)) == 2
                or _count(group, (NoteType.WHITE2, NoteType.WHITE3)) == 2
            ):
                add("difficultyForbiddenNote", group[0].ms)
        if size > 3:
            add("invalidChord", group[0].ms)
        elif _count(group, _TWOS) == 2 and _count(group, _ONES) > 0:
            add("invalidChord", group[0].ms)
        elif _count(group, _THREES) == 2 and _count(group, _ONES) + _count(group, _TWOS) > 0:
            add("invalidChord", group[0].ms)


def _sustain_issues(groups, add) -> None:
    gaps: list[tuple[float, float]] = []  # [start, end) after a sustain where no note should start
    for i, group in enumerate(groups):
        t = group[0].ms
        if gaps:
            gaps = [g for g in gaps if g[1] > t]
            if any(start <= t < end for start, end in gaps):
                add("badSustainGap", t)
        for note in group:
            ms_length = note.ms_length
            # the gap after an open sustain does not matter
            if ms_length > 0 and note.type != _OPEN:
                gaps.append((note.ms + ms_length, note.ms + ms_length + MIN_SUSTAIN_GAP_MS))
            if 0 < ms_length < MIN_SUSTAIN_MS:
                following = groups[i + 1] if i + 1 < len(groups) else ()
                next_open = next((n for n in following if n.type == _OPEN), None)
                if (
                    next_open is not None
                    and next_open.tick < note.tick + note.length
                    and next_open.flags & _HOPO_OR_TAP
                ):
                    continue  # a short sustain into a HOPO/tap open is normal
                add("babySustain", note.ms)
