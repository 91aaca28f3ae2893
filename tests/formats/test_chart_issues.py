"""Every chart issue type, on small synthetic .chart files (rules from scan-chart's
chart-scanner.ts)."""
from __future__ import annotations

import pytest

from content.formats.analysis import analyse_chart
from content.formats.chartissues import ms_to_exact_time

from .synthetic import BEAT, RES, notes
from .synthetic import chart as build

def issues(data: bytes, **ini) -> list[tuple]:
    summary = analyse_chart(data, kind="chart", ini={k: str(v) for k, v in ini.items()})
    return [(i.type, i.instrument, i.difficulty, i.time_ms) for i in summary.issues]


def types(data: bytes, **ini) -> set[str]:
    return {i[0] for i in issues(data, **ini)}


def test_a_clean_chart_has_no_issues():
    data = build(
        {"ExpertSingle": notes(8) + ["768 = S 2 768"]},
        sync="  0 = B 100000\n  0 = TS 4\n",
        events='  768 = E "section intro"\n',
    )
    assert issues(data) == []


def test_empty_chart():
    assert types(build({})) == {"noNotes", "isDefaultBPM", "noSections"}


def test_small_leading_silence():
    found = issues(build({"ExpertSingle": ["0 = N 0 0"]}, events='  0 = E "section a"\n'))
    assert ("smallLeadingSilence", "guitar", "expert", None) in found


def test_misaligned_time_signature():
    data = build({"ExpertSingle": notes(2)},
                 sync="  0 = B 120000\n  0 = TS 4\n  100 = TS 3\n  3072 = TS 4\n")
    found = [i for i in issues(data) if i[0] == "misalignedTimeSignature"]
    assert [i[3] for i in found] == [pytest.approx(100 / RES * 500)]


def test_no_expert_and_difficulty_not_reduced():
    assert ("noExpert", "guitar", None, None) in issues(build({"HardSingle": notes(3)}))
    same = notes(25)
    found = issues(build({"ExpertSingle": same, "HardSingle": same, "MediumSingle": notes(20)}))
    assert [(i[0], i[2]) for i in found if i[0] == "difficultyNotReduced"] == [
        ("difficultyNotReduced", "hard")]


def test_star_power_issues():
    long_track = notes(60, step=3 * BEAT)  # 60 notes 1.5 s apart: 88.5 s
    assert "noStarPower" in types(build({"ExpertSingle": long_track}))
    assert "noStarPower" not in types(build({"ExpertSingle": long_track[:50]}))  # needs > 50 notes
    empty_sp = build({"ExpertSingle": notes(3) + [f"{100 * BEAT} = S 2 {BEAT}"]})
    assert [i[3] for i in issues(empty_sp) if i[0] == "emptyStarPower"] == [pytest.approx(50000)]


def test_empty_solo_section():
    data = build({"ExpertSingle": notes(3) + [f"{100 * BEAT} = E solo",
                                              f"{101 * BEAT} = E soloend"]})
    assert [i[3] for i in issues(data) if i[0] == "emptySoloSection"] == [pytest.approx(50000)]


def test_drum_lane_issues():
    hits = [f"{4 * BEAT + i * 3 * BEAT} = N {1 + i % 3} 0" for i in range(60)]
    found = types(build({"ExpertDrums": hits + [f"{4 * BEAT} = S 2 {BEAT}",
                                                f"{400 * BEAT} = S 65 {BEAT}"]}))
    assert {"noDrumActivationLanes", "emptyFlexLane"} <= found
    assert "noStarPower" not in found  # drums never get noStarPower


def test_difficulty_forbidden_notes_and_invalid_chords():
    drums = build({"HardDrums": [f"{4 * BEAT} = N 32 0", f"{4 * BEAT} = N 1 0",
                                 f"{8 * BEAT} = N 1 0", f"{8 * BEAT} = N 2 0",
                                 f"{8 * BEAT} = N 3 0"]})
    found = issues(drums)
    # 2x kick below expert
    assert ("difficultyForbiddenNote", "drums", "hard", pytest.approx(2000)) in found
    assert ("invalidChord", "drums", "hard", pytest.approx(4000)) in found  # three pads at once
    guitar = build({"MediumSingle": [f"{4 * BEAT} = N 4 0"],
                    "ExpertSingle": [f"{4 * BEAT} = N {i} 0" for i in range(5)]})
    found = issues(guitar)
    # orange on medium
    assert ("difficultyForbiddenNote", "guitar", "medium", pytest.approx(2000)) in found
    assert ("invalidChord", "guitar", "expert", pytest.approx(2000)) in found  # five-fret chord
    ghl = build({"EasyGHLGuitar": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT} = N 3 0"],
                 "ExpertGHLGuitar": notes(2)})
    assert ("difficultyForbiddenNote", "guitarghl", "easy", pytest.approx(2000)) in issues(ghl)


def test_broken_note_but_not_next_to_an_open():
    broken = build({"ExpertSingle": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT + 2} = N 1 0"]})
    assert [i[3] for i in issues(broken) if i[0] == "brokenNote"] == [
        pytest.approx(2000 + 2 / RES * 500)]
    open_next = build({"ExpertSingle": [f"{4 * BEAT} = N 0 0", f"{4 * BEAT + 2} = N 7 0"]})
    assert "brokenNote" not in types(open_next)


def test_sustain_issues():
    # 26 ms sustain
    baby = build({"ExpertSingle": [f"{4 * BEAT} = N 0 10", f"{8 * BEAT} = N 1 0"]})
    assert [i[3] for i in issues(baby) if i[0] == "babySustain"] == [pytest.approx(2000)]
    # 10 ms after
    gap = build({"ExpertSingle": [f"{4 * BEAT} = N 0 {BEAT}", f"{5 * BEAT + 4} = N 1 0"]})
    assert [i[3] for i in issues(gap) if i[0] == "badSustainGap"] == [
        pytest.approx(2500 + 4 / RES * 500)]
    assert "babySustain" not in types(baby, sustain_cutoff_threshold=10)  # cut by song.ini


def test_end_events():
    data = build({"ExpertSingle": notes(4)},
                 events=f'  {2 * BEAT} = E "end"\n  {100 * BEAT} = E "end"\n')
    found = [i for i in issues(data, song_length=100000) if i[0] == "badEndEvent"]
    # The second end event is ignored; the first is before the last note.
    assert [i[3] for i in found] == [pytest.approx(50000), pytest.approx(1000)]


def test_issue_messages_carry_scan_charts_time_format():
    assert ms_to_exact_time(84497.89) == "01:24.49"
    assert ms_to_exact_time(3723456.7) == "1:02:03.45"
    summary = analyse_chart(build({"ExpertSingle": ["0 = N 0 10"]}), kind="chart", ini={})
    baby = next(i for i in summary.issues if i.type == "babySustain")
    assert baby.message == "[00:00.00]: The sustain on this note is too short."
