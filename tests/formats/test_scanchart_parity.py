"""Differential test: our chart analysis against scan-chart 7.0.1, the reference Clone Hero
scanner.

Every fixture chart (each in its own temporary folder as ``notes.chart``/``notes.mid``, the chorus
MIDIs with their ``song.ini``), every onyx song, a few fixture charts paired with a generated
song.ini that sets the parsing modifiers, and the small synthetic charts of ``synthetic.py`` (rules
the fixtures do not reach) go through ``scanChartFolder`` in ONE node process
(``tests/scanchart/scan.js``) and through :func:`analyse_chart`. Compared, per case:

* required: chartHash, instruments, note counts per instrument/difficulty, chart issue types as
  sets per track, and "unreadable" (scan-chart's ``badChart`` ⇔ our ``ChartError``);
* also: scan-chart's track hashes (every note's tick, length, lane and flags, and the phrases), the
  full issue list (type, track, message with time), drum type, the has* flags, tempo marker count,
  effective length and max NPS per track.

Needs node and ``npm ci --prefix tests/scanchart``; it fails (never skips) without them.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from content.formats.analysis import ChartSummary, analyse_chart
from content.formats.chart import parse_chart
from content.formats.charthash import track_hash
from content.formats.chartmodel import ChartError
from content.formats.chartmodifiers import ChartModifiers
from content.formats.midi import parse_midi

from .synthetic import synthetic_cases

SCANCHART = Path(__file__).resolve().parents[1] / "scanchart"

# Deliberate differences from scan-chart, as (case id, compared field) → why. Keep this tiny.
# None is needed on the fixtures today. Differences that the fixtures do not exercise (so they
# need no entry) are documented where they are made:
#   * .chart: a section still open at the end of the file raises ChartError (a truncated file);
#     scan-chart silently drops the section (chart.py).
#   * .chart: tempo and time-signature markers are sorted by tick before use; scan-chart uses file
#     order, which only differs for unsorted (invalid) files (chart.py).
#   * .chart [Song] Year: only GHTCP's leading ", " is removed; scan-chart always drops the first
#     two characters ("1999" -> "99") (chart.py; metadata is not compared here).
#   * .mid: a track repeated under the same name is read once (the first); scan-chart reports both
#     (chartrules.py). A Phase Shift sysex with an unknown difficulty byte is ignored; scan-chart
#     fails on it. A 0 µs tempo raises ChartError; scan-chart makes it infinitely fast (midi.py).
#   * .mid: damage inside tracks Clone Hero does not read is not detected; alien chunks are
#     skipped per the SMF spec; a file with fewer track chunks than its header declares raises
#     ChartError (smf.py). scan-chart (midi-file) throws on alien chunks and tolerates the rest.
#   * .mid section names lose the closing "]" of "[section x]" (scan-chart keeps it; names are not
#     compared here).
ALLOWED_DIFFERENCES: dict[tuple[str, str], str] = {}

# Fixture charts paired with a song.ini that sets parsing modifiers (written at run time).
MODIFIER_CASES = {
    "modifiers/broken-notes-hopo-sustain-snap": (
        "charts/chorus/broken-notes/notes.chart",
        "hopo_frequency = 170.5\nsustain_cutoff_threshold = 200\nchord_snap_threshold = 20\n"
        "song_length = 1000\n",
    ),
    "modifiers/yarg-chart-eighth-pro": (
        "charts/yarg-core/test.chart",
        "eighthnote_hopo = True\npro_drums = True\nmultiplier_note = 116 ; RB star power\n",
    ),
    "modifiers/yarg-mid-five-lane-gh-sp": (
        "charts/yarg-core/test.mid",
        "five_lane_drums = 1\nmultiplier_note = 103\n",
    ),
    "modifiers/solo-section-legacy-keys": (
        "charts/chorus/mids/solo-section.mid",
        "hopofreq = 100\nstar_power_note = 0\neighthnote_hopo = true\n",
    ),
    "modifiers/lol-chart-cutoff": (
        "charts/chorus/charts/lol.chart",
        "sustain_cutoff_threshold = 0\nchord_snap_threshold = -1\nmultiplier_note = 5\n"
        "pro_drums = 0\n",
    ),
    "modifiers/onyx-drums-five-lane": (
        "onyx/allegaeon/roundabout/notes.mid",
        "five_lane_drums = True\nsong_length = 500000\n",
    ),
}

REQUIRED_FIELDS = ("unreadable", "chartHash", "instruments", "noteCounts", "issueTypesPerTrack")
EXTRA_FIELDS = (
    "trackHashes",
    "issues",
    "drumType",
    "flags",
    "tempoMarkerCount",
    "effectiveLength",
    "maxNps",
)


@dataclass
class Case:
    id: str
    folder: Path
    data: bytes
    kind: str
    ini: dict[str, str] = field(default_factory=dict)


def parse_ini(text: str) -> dict[str, str]:
    """song.ini ``[song]`` values as scan-chart's ini parser reads them, keys lower-cased."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";") or line.startswith("[") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip().lower()] = value.strip()
    return values


def build_cases(fixtures: Path, root: Path) -> list[Case]:
    cases: list[Case] = []

    def add(case_id: str, source: Path | bytes, ini_text: str | None,
            kind: str | None = None) -> None:
        folder = root / f"{len(cases):03d}"
        folder.mkdir()
        data = source if isinstance(source, bytes) else source.read_bytes()
        kind = kind or source.suffix[1:]
        (folder / f"notes.{kind}").write_bytes(data)
        ini = {}
        if ini_text is not None:
            (folder / "song.ini").write_text("[song]\n" + ini_text, encoding="utf-8")
            ini = parse_ini(ini_text)
        cases.append(Case(case_id, folder, data, kind, ini))

    for path in sorted((fixtures / "charts").rglob("*")):
        if path.suffix in (".chart", ".mid"):
            song_ini = path.parent / "song.ini"
            ini_text = (song_ini.read_text(encoding="utf-8")
                        if path.suffix == ".mid" and song_ini.exists() else None)
            if ini_text is not None:
                ini_text = ini_text.split("\n", 1)[1]  # drop the [song] header; add() writes it
            add(str(path.relative_to(fixtures)), path, ini_text)
    for path in sorted((fixtures / "onyx").rglob("notes.mid")):
        add(str(path.relative_to(fixtures)), path, None)
    for case_id, (source, ini_text) in MODIFIER_CASES.items():
        add(case_id, fixtures / source, ini_text)
    for case_id, (data, kind, ini_text) in synthetic_cases().items():
        add(case_id, data, ini_text, kind)
    return cases


def run_scanchart(folders: list[Path]) -> dict[str, dict]:
    if shutil.which("node") is None:
        pytest.fail("node is not installed: the scan-chart parity test needs Node.js "
                    "(apt-get install nodejs npm)")
    if not (SCANCHART / "node_modules" / "scan-chart").is_dir():
        pytest.fail(f"scan-chart is not installed: run `npm ci --prefix tests/scanchart` "
                    f"(in {SCANCHART.parent.parent})")
    proc = subprocess.run(
        ["node", str(SCANCHART / "scan.js"), "--stdin"],
        input=json.dumps([str(f) for f in folders]),
        capture_output=True,
        text=True,
        cwd=SCANCHART,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(f"scan.js failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def ours(case: Case) -> ChartSummary | str:
    try:
        return analyse_chart(case.data, kind=case.kind, ini=case.ini)
    except ChartError as exc:
        return f"ChartError: {exc}"


def our_track_hashes(case: Case) -> list[tuple[str, str, str]]:
    """Track hashes cover every note's tick, length, lane and flags, and the phrases."""
    modifiers = ChartModifiers.from_ini(case.ini)
    chart = (parse_chart if case.kind == "chart" else parse_midi)(case.data, modifiers)
    return [(t.instrument, t.difficulty, track_hash(chart, t)) for t in chart.tracks.values()]


def _issue_sets(items) -> dict[tuple, set[str]]:
    out: dict[tuple, set[str]] = {}
    for instrument, difficulty, kind in items:
        out.setdefault((instrument, difficulty), set()).add(kind)
    return out


_DRUM_TYPES = {0: "fourLane", 1: "fourLanePro", 2: "fiveLane", None: None}


def compare(case: Case, summary: ChartSummary | str, ref: dict) -> dict[str, tuple]:
    """Field → (ours, theirs) for every compared field."""
    if "error" in ref:
        pytest.fail(f"scan.js crashed on a case: {ref['error']}")
    unreadable = isinstance(summary, str)
    fields: dict[str, tuple] = {"unreadable": (unreadable, ref["badChart"] is not None)}
    if unreadable or ref["badChart"] is not None:
        return fields
    s = summary
    fields["chartHash"] = (s.chart_hash, ref["chartHash"])
    fields["instruments"] = (s.instruments, ref["instruments"])
    fields["noteCounts"] = (
        [(t.instrument, t.difficulty, t.note_count) for t in s.tracks],
        [(n["instrument"], n["difficulty"], n["count"]) for n in ref["noteCounts"]],
    )
    fields["issueTypesPerTrack"] = (
        _issue_sets((i.instrument, i.difficulty, i.type) for i in s.issues),
        _issue_sets((i["instrument"], i["difficulty"], i["noteIssue"])
                    for i in ref["chartIssues"]),
    )
    fields["trackHashes"] = (
        our_track_hashes(case),
        [(t["instrument"], t["difficulty"], t["hash"]) for t in ref["trackHashes"]],
    )
    fields["issues"] = (
        [(i.type, i.instrument, i.difficulty, i.message) for i in s.issues],
        # Our smallLeadingSilence text states the threshold scan-chart's code uses (1000 ms).
        [
            (i["noteIssue"], i["instrument"], i["difficulty"],
             i["description"].replace("2000ms", "1000ms"))
            for i in ref["chartIssues"]
        ],
    )
    fields["drumType"] = (s.drum_type, _DRUM_TYPES[ref["drumType"]])
    fields["flags"] = (
        (s.has_solo_sections, s.has_lyrics, s.has_vocals, s.has_forced_notes, s.has_tap_notes,
         s.has_open_notes, s.has_2x_kick, s.has_flex_lanes),
        (ref["hasSoloSections"], ref["hasLyrics"], ref["hasVocals"], ref["hasForcedNotes"],
         ref["hasTapNotes"], ref["hasOpenNotes"], ref["has2xKick"], ref["hasFlexLanes"]),
    )
    fields["tempoMarkerCount"] = (s.tempo_count, ref["tempoMarkerCount"])
    fields["effectiveLength"] = (s.effective_length_ms, ref["effectiveLength"])
    fields["maxNps"] = (
        [(t.instrument, t.difficulty, t.max_nps) for t in s.tracks],
        [(m["instrument"], m["difficulty"], m["nps"]) for m in ref["maxNps"]],
    )
    return fields


@pytest.fixture(scope="module")
def parity(fixtures, tmp_path_factory) -> tuple[list[Case], dict[str, dict[str, tuple]]]:
    cases = build_cases(fixtures, tmp_path_factory.mktemp("scanchart-cases"))
    refs = run_scanchart([c.folder for c in cases])
    return cases, {c.id: compare(c, ours(c), refs[str(c.folder)]) for c in cases}


def test_every_fixture_is_compared(parity, fixtures):
    cases, _ = parity
    onyx = len(list((fixtures / "onyx").rglob("notes.mid")))
    charts = len([p for p in (fixtures / "charts").rglob("*") if p.suffix in (".chart", ".mid")])
    assert onyx == 246 and charts >= 40
    assert len(cases) == onyx + charts + len(MODIFIER_CASES) + len(synthetic_cases())


@pytest.mark.parametrize("field_name", REQUIRED_FIELDS + EXTRA_FIELDS)
def test_matches_scanchart(parity, field_name):
    cases, results = parity
    compared = [c.id for c in cases if field_name in results[c.id]]
    differences = {
        case_id: results[case_id][field_name]
        for case_id in compared
        if results[case_id][field_name][0] != results[case_id][field_name][1]
        and (case_id, field_name) not in ALLOWED_DIFFERENCES
    }
    print(f"\nscan-chart parity {field_name}: "
          f"{len(compared) - len(differences)}/{len(compared)} cases identical")
    assert not differences, "\n".join(
        f"{case_id}: ours={ours_!r:.600} scan-chart={theirs!r:.600}"
        for case_id, (ours_, theirs) in list(differences.items())[:10]
    )


def test_the_comparison_covers_the_interesting_cases(parity):
    """Guard against a vacuous pass: the fixtures exercise issues, flags and both failure modes."""
    cases, results = parity
    readable = [results[c.id] for c in cases if not results[c.id]["unreadable"][1]]
    assert len(readable) >= len(cases) - 2
    issue_types = Counter(t for r in readable for t, *_ in r["issues"][1])
    for kind in ("misalignedTimeSignature", "noNotes", "noExpert", "difficultyNotReduced",
                 "isDefaultBPM", "noSections", "badEndEvent", "smallLeadingSilence",
                 "noStarPower", "emptyStarPower", "badStarPower", "emptySoloSection",
                 "noDrumActivationLanes", "emptyFlexLane", "difficultyForbiddenNote",
                 "invalidChord", "brokenNote", "badSustainGap", "babySustain"):
        assert issue_types[kind] > 0, kind
    drum_types = {r["drumType"][1] for r in readable}
    assert drum_types == {"fourLane", "fourLanePro", "fiveLane", None}
    assert any(results[c.id]["unreadable"][1] for c in cases)  # scan-chart's badChart case
