"""analyse_chart: the ChartSummary contract other code relies on, and chartHash."""
from __future__ import annotations

import base64
import struct

import pytest
from blake3 import blake3

from content.formats.analysis import ChartError, ChartSummary, TrackSummary, analyse_chart
from content.formats.charthash import track_hash
from content.formats.chart import parse_chart

# scan-chart 7.0.1's chartHash of chartparse/test.chart without song.ini (also checked by the
# parity test).
TEST_CHART_HASH = "unNGhDlYHPdTorOWjdooqwNA5P0jK66frvlNuUl1xrc="


@pytest.fixture
def test_chart_bytes(fixtures):
    return (fixtures / "charts/chartparse/test.chart").read_bytes()


def test_summary_of_the_chartparse_chart(test_chart_bytes):
    s = analyse_chart(test_chart_bytes, kind="chart", ini={})
    assert isinstance(s, ChartSummary)
    assert s.resolution == 100
    assert s.instruments == ["guitar"]
    assert s.tracks == [TrackSummary("guitar", "expert", 10, 4.0, 2, 0, True, False, False)]
    assert s.sections == [(pytest.approx(8 * 60000 / 117), "Section 1")]
    assert s.star_power_count == 2
    assert s.tempo_count == 4 and s.time_signature_count == 2
    assert s.drum_type is None
    assert s.has_lyrics and not s.has_solo_sections and s.has_forced_notes
    # last note, tick 2000
    assert s.length_ms == pytest.approx(8 * 60000 / 117 + 2000 + 4000 + 1200)
    assert s.effective_length_ms == 7200.0  # first note (tick 800) to last note (tick 2000)
    assert s.chart_hash == TEST_CHART_HASH
    assert s.metadata["name"] == "Song Name" and s.metadata["year"] == "1999"
    assert s.issues == []


def test_chart_hash_adds_non_default_modifiers(test_chart_bytes):
    s = analyse_chart(test_chart_bytes, kind="chart",
                      ini={"hopo_frequency": "170", "pro_drums": "True",
                           "multiplier_note": "116", "delay": "100"})
    expected = blake3(
        test_chart_bytes
        + b"hopo_frequency" + struct.pack("<i", 170)
        + b"multiplier_note" + struct.pack("<i", 116)
        + b"pro_drums" + struct.pack("<i", 1)
    ).digest()
    assert s.chart_hash == base64.urlsafe_b64encode(expected).decode()
    assert s.chart_hash.endswith("=")  # padded, like rfc4648's base64url.stringify
    # Values equal to the defaults are not hashed.
    same = analyse_chart(test_chart_bytes, kind="chart",
                         ini={"sustain_cutoff_threshold": "-1", "pro_drums": "False"})
    assert same.chart_hash == TEST_CHART_HASH


def test_midi_summary(fixtures):
    data = (fixtures / "onyx/allegaeon/roundabout/notes.mid").read_bytes()
    s = analyse_chart(data, kind="mid", ini={})
    assert s.instruments == ["drums"] and s.drum_type == "fourLanePro"
    assert s.metadata == {}
    (drums,) = s.tracks
    assert drums.note_count == 4664 and drums.max_nps > 10
    assert s.tempo_count == 95 and s.time_signature_count == 61
    assert s.length_ms > s.effective_length_ms > 0


def test_track_hash_detects_identical_difficulties():
    body = "".join(f"  {768 + i * 192} = N {i % 3} 0\n" for i in range(30))
    data = (f"[Song]\n{{\n  Resolution = 192\n}}\n[ExpertSingle]\n{{\n{body}}}\n"
            f"[HardSingle]\n{{\n{body}}}\n").encode()
    chart = parse_chart(data)
    expert, hard = chart.track("guitar", "expert"), chart.track("guitar", "hard")
    assert track_hash(chart, expert) == track_hash(chart, hard)
    assert len(track_hash(chart, expert)) == 44


def test_bad_input():
    with pytest.raises(ChartError):
        analyse_chart(b"not a chart", kind="chart", ini={})
    with pytest.raises(ChartError):
        analyse_chart(b"not a midi", kind="mid", ini={})
    with pytest.raises(ValueError, match="kind"):
        analyse_chart(b"", kind="sng", ini={})  # type: ignore[arg-type]
