"""Hard, Medium and Easy reduced from Expert, as a cascade (Expert → Hard → Medium → Easy).

Rules, from chart-generation.md §5.2 (C3/RBN "Guitar and Bass Authoring", DowncharterPlus) and
§5.3 (six official Harmonix charts), with one deliberate change:

======  =======  ===========================  =========  ===========  =============
diff    density  chords                       lanes      min spacing  sustain gap
======  =======  ===========================  =========  ===========  =============
Hard    0.64 ×   ≤ 2 notes, never G+O         G R Y B O  ⅓ beat       1/16 note
Medium  0.37 ×   2 notes: GR RY YB RB GY      G R Y B    ½ beat       ¼ note
Easy    0.22 ×   none                         G R Y      1 beat       ¼ + 1/16 note
======  =======  ===========================  =========  ===========  =============

Density is the share of Expert's note count; min spacing is the shortest distance between
two notes (in beats, measured on the chart grid). Change: the RBN docs allow orange on Medium
and blue/orange on Easy "for lane consistency", but scan-chart (what Clone Hero users check
charts with) reports any orange on Medium and any blue/orange on Easy as
``difficultyForbiddenNote``; we follow scan-chart and keep lane consistency only within
each difficulty's lanes (every allowed lane Expert uses appears at least once).

Which notes survive: every note gets a score (metric position: downbeat > beat > 8th >
16th/triplet; onset strength; sustain; chord); notes are taken best-first while they keep
the minimum spacing to every kept note, up to the density target. A lower difficulty only
ever keeps notes of the one above it. Lanes are moved down per section (the whole section by
the same amount, so the same Expert lane keeps the same lane there) and clipped to the
allowed lanes.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from content.generator.lanes import MIN_SUSTAIN_S, Note
from content.generator.tempo import RESOLUTION, TempoMap


@dataclass(frozen=True, slots=True)
class Rules:
    """How one difficulty is reduced from the one above it (see module docstring)."""

    name: str
    density: float  # share of Expert's note count
    min_gap: int  # ticks between two notes
    max_lane: int
    chord_size: int  # largest chord (1 = no chords)
    forbidden_chords: frozenset[tuple[int, ...]]
    sustain_gap: int  # ticks between a sustain's end and the next note


HARD = Rules("Hard", 0.64, RESOLUTION // 3, 4, 2, frozenset({(0, 4)}), RESOLUTION // 4)
MEDIUM = Rules("Medium", 0.37, RESOLUTION // 2, 3, 2, frozenset({(0, 3)}), RESOLUTION)
EASY = Rules("Easy", 0.22, RESOLUTION, 2, 1, frozenset(), RESOLUTION + RESOLUTION // 4)
CASCADE = (HARD, MEDIUM, EASY)


def reduce_all(expert: list[Note], sections: list[int], tempo: TempoMap
               ) -> dict[str, list[Note]]:
    """{"Expert": expert, "Hard": …, "Medium": …, "Easy": …}.

    ``sections``: tick of each section start, sorted; lanes are moved per section.
    """
    tracks = {"Expert": expert}
    used_lanes = {lane for note in expert for lane in note.lanes}
    parent = expert
    for rules in CASCADE:
        parent = reduce(parent, len(expert), rules, sections, tempo, used_lanes)
        tracks[rules.name] = parent
    return tracks


def reduce(parent: list[Note], expert_count: int, rules: Rules, sections: list[int],
           tempo: TempoMap, used_lanes: set[int]) -> list[Note]:
    """``parent`` reduced by ``rules`` (a subset of its notes, simplified).

    expert_count: Expert's note count (density targets are shares of it). used_lanes: the
    lanes Expert uses, for lane consistency.
    """
    notes = select_notes(parent, max(1, round(rules.density * expert_count)), rules.min_gap,
                         tempo.bar_ticks)
    notes = _move_lanes(notes, rules, sections)
    notes = [_simplify_chord(n, rules) for n in notes]
    notes = _trim_sustains(notes, rules, tempo)
    return _lane_consistency(notes, rules, used_lanes)


def select_notes(parent: list[Note], target: int, min_gap: int, bar: int) -> list[Note]:
    """Up to ``target`` notes of ``parent``, best-scored first, ≥ ``min_gap`` ticks apart;
    ``bar``: ticks per bar (bars from tick 0), whose downbeats score highest."""
    strongest = max((n.strength for n in parent), default=1.0) or 1.0
    ranked = sorted(parent, key=lambda n: _score(n, strongest, bar), reverse=True)
    kept: list[int] = []  # sorted ticks
    chosen: dict[int, Note] = {}
    for note in ranked:
        if len(chosen) >= target:
            break
        i = bisect.bisect_left(kept, note.tick)
        if any(abs(note.tick - t) < min_gap for t in kept[max(0, i - 1):i + 1]):
            continue
        bisect.insort(kept, note.tick)
        chosen[note.tick] = note
    return [chosen[t] for t in kept]


def _score(note: Note, strongest: float, bar: int) -> float:
    tick = note.tick
    if tick % bar == 0:
        metric = 4.0
    elif tick % (2 * RESOLUTION) == 0 and bar % (2 * RESOLUTION) == 0:  # a 4/4 bar's beat 3
        metric = 3.0
    elif tick % RESOLUTION == 0:
        metric = 2.5
    elif tick % (RESOLUTION // 2) == 0:
        metric = 1.5
    else:
        metric = 1.0
    return (metric + note.strength / strongest + 0.5 * (note.length > 0)
            + 0.3 * (len(note.lanes) > 1))


def _move_lanes(notes: list[Note], rules: Rules, sections: list[int]) -> list[Note]:
    """Shift each section's lanes down so its highest lane fits, then clip."""
    by_section: dict[int, list[Note]] = {}
    for note in notes:
        by_section.setdefault(bisect.bisect_right(sections, note.tick), []).append(note)
    out = []
    for group in by_section.values():
        high = max(max(n.lanes) for n in group)
        low = min(min(n.lanes) for n in group)
        shift = min(max(0, high - rules.max_lane), low)
        for n in group:
            lanes = tuple(sorted({min(rules.max_lane, lane - shift) for lane in n.lanes}))
            out.append(Note(n.tick, lanes, n.length, n.strength))
    return sorted(out, key=lambda n: n.tick)


def _simplify_chord(note: Note, rules: Rules) -> Note:
    lanes = note.lanes
    if len(lanes) > rules.chord_size:
        lanes = (lanes[0],) if rules.chord_size == 1 else (lanes[0], lanes[-1])
    while lanes in rules.forbidden_chords:  # pull the top note one lane in
        lanes = (lanes[0], lanes[1] - 1)
    return Note(note.tick, lanes, note.length, note.strength)


def _trim_sustains(notes: list[Note], rules: Rules, tempo: TempoMap) -> list[Note]:
    out = []
    for i, note in enumerate(notes):
        length = note.length
        if length and i + 1 < len(notes):
            length = min(length, notes[i + 1].tick - rules.sustain_gap - note.tick)
        if length < RESOLUTION // 2 or (
                tempo.seconds(note.tick + length) - tempo.seconds(note.tick) < MIN_SUSTAIN_S):
            length = 0
        out.append(Note(note.tick, note.lanes, length, note.strength))
    return out


def _lane_consistency(notes: list[Note], rules: Rules, used_lanes: set[int]) -> list[Note]:
    """Put each allowed lane Expert uses on at least one single note of this difficulty."""
    notes = list(notes)
    present = {lane for n in notes for lane in n.lanes}
    for lane in sorted(used_lanes - present):
        if lane > rules.max_lane:
            continue
        singles = [i for i, n in enumerate(notes) if len(n.lanes) == 1]
        if not singles:
            break
        # The single note whose lane is nearest, preferring lanes nobody else relies on.
        counts = {la: sum(1 for n in notes if la in n.lanes) for la in range(rules.max_lane + 1)}
        best = min(singles, key=lambda i: (abs(notes[i].lanes[0] - lane),
                                           -counts[notes[i].lanes[0]]))
        old = notes[best]
        notes[best] = Note(old.tick, (lane,), old.length, old.strength)
    return notes
