"""Folder scans with the real chart analyser (content.formats.analysis) on fixture charts."""
from __future__ import annotations

import hashlib

import pytest

from content.formats.analysis import ChartSummary, analyse_chart
from content.formats.scan import scan_folder, scan_sng
from content.formats.sng import write_sng_path

from .test_scan import make_folder, scan_dir, types

C3_INI = "charts/chorus/ini/c3.ini"


def test_a_real_chart_is_analysed(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": f"fixture:{C3_INI}", "notes.chart": "fixture:charts/chartparse/test.chart",
        "song.ogg": 100, "album.png": 100})
    scan, _ = scan_dir(folder, analyse_chart)
    assert isinstance(scan.chart, ChartSummary)
    assert scan.chart.instruments == ["guitar"] and scan.chart.resolution == 100
    assert scan.chart.chart_hash
    assert scan.chart_md5 == hashlib.md5(
        (fixtures / "charts/chartparse/test.chart").read_bytes()).hexdigest()
    # c3.ini rates bass and keys, which this chart does not have.
    assert [i.message for i in scan.issues if i.type == "extraValue"] == [
        'Metadata contains "diff_bass", but bass is not charted.',
        'Metadata contains "diff_keys", but keys is not charted.']


def test_a_chart_song_section_stands_in_for_song_ini(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "notes.chart": "fixture:charts/chartparse/test.chart", "song.ogg": 100})
    scan, reads = scan_dir(folder, analyse_chart)
    assert reads == ["notes.chart"]
    assert scan.ini is not None and scan.ini_name is None
    assert scan.ini.get("name") == "Song Name" and scan.ini.get("artist") == "Artist Name"
    assert scan.ini.get("charter") == "Charter Name" and scan.ini.get("genre") == "rock"
    assert scan.ini.get_int("diff_guitar") == 6
    assert "chart_offset" not in scan.ini
    assert types(scan)[0] == "noMetadata"


def test_a_midi_chart_with_its_song_ini(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": "fixture:charts/chorus/mids/song.ini",
        "notes.mid": "fixture:charts/chorus/mids/solo-section.mid", "guitar.ogg": 100,
        "album.jpg": 10})
    scan, _ = scan_dir(folder, analyse_chart)
    assert scan.chart_kind == "mid" and "guitar" in scan.chart.instruments
    assert 'Metadata is missing a "diff_guitar" value.' in [i.message for i in scan.issues]


@pytest.mark.parametrize(("chart", "data"), [
    ("notes.chart", "fixture:charts/chartparse/missing_metadata.chart"),
    ("notes.chart", b"this is not a chart at all"),
    ("notes.chart", b""),
    ("notes.mid", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02"),
    ("notes.mid", bytes(range(256)) * 8),
])
def test_an_unreadable_chart_is_a_bad_chart_issue(tmp_path, fixtures, chart, data):
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": f"fixture:{C3_INI}", chart: data, "song.ogg": 100, "album.png": 10})
    scan, _ = scan_dir(folder, analyse_chart)
    bad = [i for i in scan.issues if i.type == "badChart"]
    assert len(bad) == 1 and bad[0].message
    assert scan.chart is None and scan.chart_md5 is not None


def test_a_truncated_midi_is_a_bad_chart_issue(tmp_path, fixtures):
    data = (fixtures / "charts/yarg-core/test.mid").read_bytes()[:5000]
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "notes.mid": data, "song.ogg": 1})
    scan, _ = scan_dir(folder, analyse_chart)
    assert "badChart" in types(scan)


def test_a_sng_chart_is_analysed(tmp_path, fixtures):
    path = tmp_path / "song.sng"
    write_sng_path({"name": "N", "artist": "A", "album": "B", "genre": "G", "year": "1",
                    "charter": "C", "diff_guitar": "3"},
                   {"notes.chart": fixtures / "charts/chartparse/test.chart",
                    "song.ogg": b"\0" * 100, "album.png": b"\0"}, path)
    raw = path.read_bytes()
    scan = scan_sng(lambda o, n: raw[o:o + n], len(raw))
    assert isinstance(scan.chart, ChartSummary)
    assert scan.chart.instruments == ["guitar"]
    assert [i for i in scan.issues if i.type in ("missingValue", "extraValue", "badChart")] == []


def test_every_read_is_the_ini_or_the_chart_on_a_real_library_folder(tmp_path, fixtures):
    song = fixtures / "onyx"
    mid = next(song.rglob("notes.mid"))
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": f"fixture:{C3_INI}", "notes.mid": mid.read_bytes(),
        "song.opus": 10_000_000, "drums_1.opus": 10_000_000, "video.webm": 90_000_000,
        "album.png": 1000, "background.jpg": 1000})
    files = {p.name: p.stat().st_size for p in folder.iterdir()}
    reads = []
    scan_folder(files, lambda name: reads.append(name) or (folder / name).read_bytes())
    assert sorted(reads) == ["notes.mid", "song.ini"]
