"""The issue record every format reader and checker returns.

Issue types are spelled as scan-chart spells them (Geomitron/scan-chart `src/scan-chart.ts`,
`src/chart/scan-parsed-chart.ts`), so results compare one to one with the reference scanner.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a song.

    type: scan-chart's name, e.g. ``"noAudio"``, ``"brokenNote"``.
    message: a sentence for people, naming the file or the place.
    instrument / difficulty: e.g. ``"guitar"`` / ``"expert"`` when the issue is about a track.
    time_ms: position in the song (milliseconds) when the issue is about a moment.
    """

    type: str
    message: str
    instrument: str | None = None
    difficulty: str | None = None
    time_ms: float | None = None
