"""Tick ↔ ms conversion (TempoMap) and song.ini parsing modifiers (ChartModifiers)."""
from __future__ import annotations

import math

import pytest

from content.formats.chartmodel import TempoMap
from content.formats.chartmodifiers import DEFAULT_MODIFIERS, ChartModifiers
from content.formats.jscompat import js_number, js_parse_float


def test_tick_to_ms_through_tempo_changes():
    tempo_map = TempoMap(480, [(0, 120.0), (960, 60.0), (1920, 240.0)])
    assert tempo_map.tick_to_ms(0) == 0
    assert tempo_map.tick_to_ms(480) == 500  # one beat at 120 BPM
    assert tempo_map.tick_to_ms(960) == 1000
    assert tempo_map.tick_to_ms(1440) == 2000  # one beat at 60 BPM
    assert tempo_map.tick_to_ms(1920) == 3000
    assert tempo_map.tick_to_ms(2400) == 3250  # one beat at 240 BPM
    assert [t.ms for t in tempo_map.tempos] == [0, 1000, 3000]


def test_span_crosses_tempo_changes():
    tempo_map = TempoMap(480, [(0, 120.0), (960, 60.0)])
    assert tempo_map.span_ms(480, 960) == (500, 500 + 1000)  # half at 120, half at 60 BPM
    assert tempo_map.span_ms(480, 0) == (500, 0)


def test_default_tempo_and_last_marker_on_a_tick_wins():
    assert TempoMap(192, []).tick_to_ms(192) == 500  # Clone Hero's 120 BPM
    tempo_map = TempoMap(192, [(0, 60.0), (0, 120.0)])
    assert tempo_map.tick_to_ms(192) == 500
    assert len(tempo_map) == 2


def test_fractional_bpm_matches_the_reference_arithmetic():
    # scan-chart: ms = prev.ms + ((tick - prev.tick) * 60000) / (prev.bpm * resolution)
    tempo_map = TempoMap(192, [(0, 116.279), (480, 116.806)])
    expected = (480 * 60000) / (116.279 * 192)
    assert tempo_map.tempos[1].ms == expected
    assert tempo_map.tick_to_ms(500) == expected + (20 * 60000) / (116.806 * 192)


def test_modifier_defaults():
    assert ChartModifiers.from_ini({}) == DEFAULT_MODIFIERS == ChartModifiers()
    assert (DEFAULT_MODIFIERS.sustain_cutoff_threshold == -1
            and DEFAULT_MODIFIERS.multiplier_note == 0)


@pytest.mark.parametrize(
    ("ini", "field", "value"),
    [
        ({"hopo_frequency": "170"}, "hopo_frequency", 170),
        ({"hopo_frequency": " 170.5 "}, "hopo_frequency", 171),  # rounded half up
        ({"hopo_frequency": "-1", "hopofreq": "90"}, "hopo_frequency", 90),  # -1 = absent
        ({"hopofreq": "90"}, "hopo_frequency", 90),
        # parseFloat reads the leading number
        ({"multiplier_note": "116 ; RB"}, "multiplier_note", 116),
        ({"multiplier_note": "5"}, "multiplier_note", 0),  # invalid value
        ({"star_power_note": "103"}, "multiplier_note", 103),
        ({"sustain_cutoff_threshold": "abc"}, "sustain_cutoff_threshold", -1),
        ({"chord_snap_threshold": "12"}, "chord_snap_threshold", 12),
        ({"song_length": "204521"}, "song_length", 204521),
        ({"eighthnote_hopo": "True"}, "eighthnote_hopo", True),
        ({"eighthnote_hopo": "1"}, "eighthnote_hopo", True),
        ({"eighthnote_hopo": "true"}, "eighthnote_hopo", False),  # scan-chart: exact case only
        ({"pro_drums": "True"}, "pro_drums", True),
        ({"five_lane_drums": "0"}, "five_lane_drums", False),
    ],
)
def test_modifiers_are_read_like_scan_chart(ini, field, value):
    assert getattr(ChartModifiers.from_ini(ini), field) == value


def test_js_number_semantics():
    assert js_number("192") == 192 and js_number(" 192 ") == 192 and js_number("") == 0
    assert js_number("0x10") == 16 and js_number("1e3") == 1000
    assert (math.isnan(js_number("192abc")) and math.isnan(js_number(None))
            and math.isnan(js_number("nan")))
    assert js_parse_float("12.5xyz") == 12.5 and js_parse_float(".5") == 0.5
    assert math.isnan(js_parse_float("abc")) and js_parse_float("-Infinity") == -math.inf
