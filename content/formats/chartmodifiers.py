"""The song.ini values that change how a chart is parsed ("chart modifiers").

Read exactly as scan-chart 7.0.1 reads them (``src/ini/ini-scanner.ts``: ``getIniInteger``,
``getIniBoolean``, legacy keys, defaults), because they feed ``chartHash``, an identifier shared
with Clone Hero tools (Encore, Bridge): a value read differently would change the hash.

* integers use JavaScript ``parseFloat`` (leading number of the text, so ``"116 ; comment"`` is
  116), ``-1`` or no number means "absent", and a non-integer is rounded half up;
* booleans are only ``True``/``1`` or ``False``/``0`` (exact case), anything else is "absent";
* legacy keys: ``hopofreq`` for ``hopo_frequency``, ``star_power_note`` for ``multiplier_note``;
* ``multiplier_note`` other than 0, 103 or 116 becomes 0 (scan-chart's ``invalidValue``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .jscompat import JS_WHITESPACE, js_parse_float


def _js_round(value: float) -> float:
    """``Math.round``: halves go up (towards +infinity)."""
    return float(math.floor(value + 0.5)) if math.isfinite(value) else value


def _as_number(value: float) -> int | float:
    return int(value) if math.isfinite(value) else value


@dataclass(frozen=True, slots=True)
class ChartModifiers:
    """Parsing modifiers from song.ini, with scan-chart's defaults (``defaultIniChartModifiers``).

    song_length: ms (only used when a chart has no notes, and for ``badEndEvent``).
    hopo_frequency: natural-HOPO distance in ticks; 0 = the format's default.
    eighthnote_hopo: natural HOPO up to an eighth note (``1 + resolution/2`` ticks).
    multiplier_note: 116 (RB star power), 103 (GH1/2 star power on the solo note) or 0 (guess).
    sustain_cutoff_threshold: sustains up to this many ticks are dropped; -1 = the format's
        default.
    chord_snap_threshold: notes closer than this many ticks join the previous chord; 0 = off.
    five_lane_drums / pro_drums: force the drum type.
    """

    song_length: int | float = 0
    hopo_frequency: int | float = 0
    eighthnote_hopo: bool = False
    multiplier_note: int | float = 0
    sustain_cutoff_threshold: int | float = -1
    chord_snap_threshold: int | float = 0
    five_lane_drums: bool = False
    pro_drums: bool = False

    @classmethod
    def from_ini(cls, ini: Mapping[str, str]) -> ChartModifiers:
        """Modifiers from song.ini ``[song]`` values (``ini``: lower-case key → raw text)."""

        def integer(key: str, legacy: str | None = None, default: int = 0) -> int | float:
            value = js_parse_float(ini.get(key))
            if math.isnan(value) or value == -1:
                value = js_parse_float(ini.get(legacy)) if legacy else math.nan
                if math.isnan(value) or value == -1:
                    return default
            if math.isfinite(value) and not value.is_integer():
                value = _js_round(value)
            return _as_number(value)

        def boolean(key: str, default: bool = False) -> bool:
            value = ini.get(key)
            if value is None:
                return default
            value = value.strip(JS_WHITESPACE)  # the ini parser trims values
            if value in ("True", "1"):
                return True
            if value in ("False", "0"):
                return False
            return default

        multiplier_note = integer("multiplier_note", "star_power_note")
        if multiplier_note not in (0, 103, 116):
            multiplier_note = 0
        return cls(
            song_length=integer("song_length"),
            hopo_frequency=integer("hopo_frequency", "hopofreq"),
            eighthnote_hopo=boolean("eighthnote_hopo"),
            multiplier_note=multiplier_note,
            sustain_cutoff_threshold=integer("sustain_cutoff_threshold", default=-1),
            chord_snap_threshold=integer("chord_snap_threshold"),
            five_lane_drums=boolean("five_lane_drums"),
            pro_drums=boolean("pro_drums"),
        )


DEFAULT_MODIFIERS = ChartModifiers()
