""".chart reader (content/formats/chart.py) on the fixture charts and on broken copies built in
tmp."""
from __future__ import annotations

import pytest

from content.formats.chart import parse_chart
from content.formats.chartmodel import ChartError, DrumType, NoteFlag, NoteType
from content.formats.chartmodifiers import ChartModifiers

FIXTURE_CHARTS = "charts"
UNREADABLE = {"chartparse/missing_metadata.chart"}  # no [Song] section, so no Resolution


def chart_files(fixtures):
    return sorted((fixtures / FIXTURE_CHARTS).rglob("*.chart"))


def test_the_fixture_folder_has_charts(fixtures):
    assert len(chart_files(fixtures)) >= 25


def test_every_fixture_chart_parses(fixtures):
    for path in chart_files(fixtures):
        name = str(path.relative_to(fixtures / FIXTURE_CHARTS))
        if name in UNREADABLE:
            with pytest.raises(ChartError, match="Resolution"):
                parse_chart(path.read_bytes())
        else:
            chart = parse_chart(path.read_bytes())
            assert chart.resolution > 0, name
            assert chart.tempo_map.tempos[0].tick == 0, name


@pytest.fixture
def test_chart(fixtures):
    return parse_chart((fixtures / "charts/chartparse/test.chart").read_bytes())


def test_chartparse_song_and_sync_track(test_chart):
    assert test_chart.format == "chart"
    assert test_chart.resolution == 100
    assert [(t.tick, t.bpm) for t in test_chart.tempo_map.tempos] == [
        (0, 117.0), (800, 120.0), (1200, 90.0), (1800, 100.0)]
    # "TS 4" is 4/4; "TS 6 3" is 6/2^3 = 6/8.
    assert [(s.tick, s.numerator, s.denominator) for s in test_chart.time_signatures] == [
        (0, 4, 4), (1200, 6, 8)]
    assert [(s.tick, s.name) for s in test_chart.sections] == [(800, "Section 1")]
    assert test_chart.has_lyrics
    assert test_chart.metadata == {
        "name": "Song Name",
        "artist": "Artist Name",
        "charter": "Charter Name",
        "album": "Album Name",
        "year": "1999",
        "genre": "rock",
        "diff_guitar": "6",
    }


def test_chartparse_track(test_chart):
    assert test_chart.instruments == ["guitar"]
    track = test_chart.track("guitar", "expert")
    assert [g[0].tick for g in track.note_groups] == [800, 825, 900, 1000, 1100, 1150, 1200,
                                                      1225, 1300, 2000]
    assert track.note_count == 10
    assert [(p.tick, p.length) for p in track.star_power] == [(1000, 100), (1200, 200)]
    assert track.has_forced
    flags = {g[0].tick: g[0].flags for g in track.note_groups}
    # HOPO threshold is floor(65/192 * 100) = 33 ticks. 825 would be a natural HOPO (25 ticks
    # after a chord): N 5 flips it to strum. 1100 is 100 ticks after a chord (strum): N 5 makes it
    # a HOPO.
    assert flags[825] == NoteFlag.STRUM
    assert flags[1100] == NoteFlag.HOPO
    assert flags[1150] == NoteFlag.STRUM  # same fret as the note before
    assert flags[1225] == NoteFlag.STRUM  # 25 ticks, but the same fret again
    assert flags[1300] == NoteFlag.STRUM  # chords are never natural HOPOs
    chord = track.note_groups[0]
    assert sorted(n.type for n in chord) == [NoteType.GREEN, NoteType.YELLOW]


def test_chartparse_ticks_to_ms_through_tempo_changes(test_chart):
    ms = {g[0].tick: g[0].ms for g in test_chart.track("guitar", "expert").note_groups}
    assert ms[800] == pytest.approx(8 * 60000 / 117)  # 8 beats at 117 BPM
    assert ms[1000] == pytest.approx(8 * 60000 / 117 + 1000)  # + 2 beats at 120 BPM
    assert ms[1300] == pytest.approx(8 * 60000 / 117 + 2000 + 1 * 60000 / 90)  # + 1 beat at 90
    assert ms[2000] == pytest.approx(8 * 60000 / 117 + 2000 + 6 * 60000 / 90 + 2 * 60000 / 100)
    assert test_chart.sections[0].ms == pytest.approx(8 * 60000 / 117)


def test_taps_opens_and_ghl(fixtures):
    chart = parse_chart((fixtures / "charts/chorus/charts/lol.chart").read_bytes())
    guitar = chart.track("guitar", "expert")
    by_tick = {g[0].tick: g for g in guitar.note_groups}
    assert all(by_tick[t][0].flags == NoteFlag.TAP for t in (0, 48, 96))
    assert by_tick[144][0].type == NoteType.OPEN
    assert by_tick[240][0].length == 144
    assert {n.type for n in by_tick[432]} == {NoteType.YELLOW, NoteType.ORANGE}
    ghl = chart.track("guitarghl", "expert")
    assert [g[0].type for g in ghl.note_groups] == [
        NoteType.BLACK1,
        NoteType.BLACK2,
        NoteType.BLACK3,
        NoteType.WHITE1,
        NoteType.WHITE2,
        NoteType.WHITE3,
        NoteType.OPEN,
    ]


def test_drums_chart(fixtures):
    chart = parse_chart(
        (fixtures / "charts/chorus/charts/drums-9-notes-mixed-star-power.chart").read_bytes())
    assert chart.drum_type == DrumType.FIVE_LANE  # N 5 is the 5-lane green
    drums = chart.track("drums", "expert")
    # Drums count every note: 9 ticks, three with a second note ("N 5", meant as a forced flag, is
    # the 5-lane green on drums; "N 6" means nothing there).
    assert len(drums.note_groups) == 9 and drums.note_count == 12
    assert [(p.tick, p.length) for p in drums.star_power] == [(0, 576)]
    pro = parse_chart(
        (fixtures / "charts/chorus/charts/drums-9-notes-mixed-star-power.chart").read_bytes(),
        ChartModifiers(pro_drums=True),
    )
    assert pro.drum_type == DrumType.FOUR_LANE_PRO


def test_sauce_chart_without_time_signature_or_events(fixtures):
    chart = parse_chart((fixtures / "charts/chorus/charts/sauce.chart").read_bytes())
    assert [(s.tick, s.numerator, s.denominator) for s in chart.time_signatures] == [(0, 4, 4)]
    assert chart.sections == [] and chart.end_events == []
    assert [(t.tick, t.bpm) for t in chart.tempo_map.tempos] == [(0, 136.0)]
    assert chart.track("guitar", "expert").note_count > 0


def test_unknown_sections_are_ignored(fixtures):
    base = parse_chart((fixtures / "charts/chartparse/test.chart").read_bytes())
    other = parse_chart((fixtures / "charts/chartparse/unhandled_data_section.chart").read_bytes())
    assert other.resolution == base.resolution


def test_missing_sync_track_and_events_use_defaults(fixtures):
    chart = parse_chart((fixtures / "charts/chartparse/missing_sync_track.chart").read_bytes())
    assert [(t.tick, t.bpm) for t in chart.tempo_map.tempos] == [(0, 120.0)]
    chart = parse_chart(
        (fixtures / "charts/chartparse/missing_global_events_track.chart").read_bytes())
    assert chart.sections == []


def test_broken_notes(fixtures):
    """The fixture's notes at ticks 116638 and 116640 are 1.4 ms apart: brokenNote on the
    second."""
    from content.formats.analysis import analyse_chart

    folder = fixtures / "charts/chorus/broken-notes"
    summary = analyse_chart((folder / "notes.chart").read_bytes(), kind="chart", ini={})
    broken = [i for i in summary.issues if i.type == "brokenNote"]
    chart = parse_chart((folder / "notes.chart").read_bytes())
    expert = chart.track("guitar", "expert")
    at_116640 = next(g for g in expert.note_groups if g[0].tick == 116640)
    assert [(i.instrument, i.difficulty, i.time_ms) for i in broken] == [
        ("guitar", "expert", at_116640[0].ms)]
    assert broken[0].time_ms == pytest.approx(84497.89, abs=0.01)
    assert broken[0].message.startswith("[01:24.49]: ")


def test_unbroke_copy_keeps_the_close_notes(fixtures):
    """chorus' "fixed" copy only drops the forced flag (``116638 = N 5 0``): the note at 116638
    stays, 2 ticks before the next one, so scan-chart's rule (0 < Δ ≤ 15 ms) still reports
    brokenNote. We keep the reference behaviour; what changed is how the 116638 note is played.
    """
    from content.formats.analysis import analyse_chart

    folder = fixtures / "charts/chorus/broken-notes"
    broken = parse_chart((folder / "notes.chart").read_bytes()).track("guitar", "expert")
    unbroke = parse_chart((folder / "notes(unbroke).chart").read_bytes()).track("guitar", "expert")

    def group(track, tick):
        return next(g for g in track.note_groups if g[0].tick == tick)

    assert group(broken, 116638)[0].flags == NoteFlag.STRUM  # N 5 flipped the natural HOPO
    assert group(unbroke, 116638)[0].flags == NoteFlag.HOPO
    assert broken.note_count == unbroke.note_count == 778
    summary = analyse_chart((folder / "notes(unbroke).chart").read_bytes(), kind="chart", ini={})
    assert [i.time_ms for i in summary.issues if i.type == "brokenNote"] == [
        group(unbroke, 116640)[0].ms]


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.97])
@pytest.mark.parametrize(
    "name",
    ["chartparse/test.chart", "chorus/broken-notes/notes.chart", "yarg-core/test.chart",
     "chorus/charts/lol.chart"],
)
def test_truncated_copies_raise_chart_error(fixtures, tmp_path, name, fraction):
    data = (fixtures / FIXTURE_CHARTS / name).read_bytes()
    copy = tmp_path / "notes.chart"
    copy.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ChartError):
        parse_chart(copy.read_bytes())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no \\[Section\\]"),
        ("just some text", "no \\[Section\\]"),
        ("[Song]\n{\n  Name = x\n}\n", "Resolution"),
        ("[Song]\n{\n  Resolution = abc\n}\n", "Resolution"),
        ("[Song]\n{\n  Resolution = -192\n}\n", "positive"),
        ("[Song]\n{\n  Resolution = 192\n}\n[SyncTrack]\n{\n  0 = B 0\n}\n",
         "tempo at tick 0 is zero"),
        ("[Song]\n{\n  Resolution = 192\n}\n[SyncTrack]\n{\n  768 = TS 0\n}\n",
         "numerator at tick 768"),
        ("[Song\n]\n{\n}\n", "line 1: new line inside a section name"),
        ("}\n[Song]\n{\n  Resolution = 192\n}\n", "line 1: '}' before any"),
        ("[Song]\n{\n  Resolution = 192\n}\n[ExpertSingle]\n{\n  0 = N 0 0\n",
         "section \\[ExpertSingle\\] is not closed"),
    ],
)
def test_malformed_charts(text, message):
    with pytest.raises(ChartError, match=message):
        parse_chart(text.encode())


def _chart(*sections: str, resolution: int = 192) -> bytes:
    body = f"[Song]\n{{\n  Resolution = {resolution}\n}}\n[SyncTrack]\n{{\n  0 = B 120000\n}}\n"
    return (body + "".join(sections)).encode()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-8"])
def test_encodings_with_bom(fixtures, encoding):
    text = (fixtures / "charts/chartparse/test.chart").read_bytes().decode("utf-8-sig")
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-8": b"\xef\xbb\xbf"}[encoding]
    chart = parse_chart(bom + text.encode(encoding))
    assert chart.resolution == 100 and chart.track("guitar", "expert").note_count == 10
    assert chart.metadata["name"] == "Song Name"


def test_legacy_single_bass_is_recognised_but_not_read():
    data = _chart("[ExpertSingleBass]\n{\n  0 = N 0 0\n}\n[ExpertDoubleBass]\n{\n  0 = N 1 0\n}\n")
    chart = parse_chart(data)
    assert chart.ignored_tracks == ["ExpertSingleBass"]
    assert [n.type for n in chart.track("bass", "expert").notes()] == [NoteType.RED]


def test_a_repeated_section_replaces_the_first():
    chart = parse_chart(_chart("[ExpertSingle]\n{\n  0 = N 0 0\n}\n"
                               "[ExpertSingle]\n{\n  0 = N 1 0\n  192 = N 2 0\n}\n"))
    assert [n.type for n in chart.track("guitar", "expert").notes()] == [NoteType.RED,
                                                                         NoteType.YELLOW]


def test_values_after_equals_never_end_a_section():
    chart = parse_chart(_chart('[Events]\n{\n  0 = E "section [a] {b}"\n}\n'))
    assert [s.name for s in chart.sections] == ["[a] {b}"]


def test_solo_sections_include_their_end_tick():
    chart = parse_chart(_chart("[ExpertSingle]\n{\n  0 = E solo\n  0 = N 0 0\n  384 = N 1 0\n"
                               "  384 = E soloend\n  768 = E solo\n}\n"))
    track = chart.track("guitar", "expert")
    assert [(p.tick, p.length) for p in track.solos] == [(0, 385)]  # the unpaired solo is dropped


def test_empty_instrument_sections_are_tracks_as_in_clone_hero():
    chart = parse_chart(_chart("[EasySingle]\n{\n}\n"))
    assert chart.instruments == ["guitar"]
    assert chart.track("guitar", "easy").note_count == 0


def test_unsorted_lines_are_sorted_and_bad_lines_skipped():
    chart = parse_chart(_chart("[ExpertSingle]\n{\n  384 = N 1 0\n  0 = N 0 0\n  what = N 0 0\n"
                               "  10 = Q 1 0\n}\n"))
    assert [g[0].tick for g in chart.track("guitar", "expert").note_groups] == [0, 384]


def test_hopo_frequency_from_song_ini_changes_hopos():
    data = _chart("[ExpertSingle]\n{\n  0 = N 0 0\n  96 = N 1 0\n}\n")
    # Default .chart threshold at 192 ticks/beat: floor(65/192*192) = 65 ticks, so 96 ticks is a
    # strum.
    assert parse_chart(data).track("guitar", "expert").note_groups[1][0].flags == NoteFlag.STRUM
    hopo = parse_chart(data, ChartModifiers(hopo_frequency=96))
    assert hopo.track("guitar", "expert").note_groups[1][0].flags == NoteFlag.HOPO
    eighth = parse_chart(data, ChartModifiers(eighthnote_hopo=True))  # 1 + 192/2 = 97 ticks
    assert eighth.track("guitar", "expert").note_groups[1][0].flags == NoteFlag.HOPO


def test_chart_sustains_are_never_cut_without_song_ini():
    data = _chart("[ExpertSingle]\n{\n  0 = N 0 1\n  192 = N 1 10\n}\n")
    lengths = [n.length for n in parse_chart(data).track("guitar", "expert").notes()]
    assert lengths == [1, 10]
    cut = parse_chart(data, ChartModifiers(sustain_cutoff_threshold=5)).track("guitar", "expert")
    assert [n.length for n in cut.notes()] == [0, 10]


def test_year_from_ghtcp():
    chart = parse_chart(b'[Song]\n{\n  Resolution = 192\n  Year = ", 2002"\n  Offset = 1.5\n'
                        b'  PreviewStart = 30\n}\n')
    assert chart.metadata == {"year": "2002", "chart_offset": "1500",
                              "preview_start_time": "30000"}
