"""Song folder and .sng scans with scan-chart's folder rules (content.formats.scan).

Folder rules are tested with a stand-in chart analyser (``FakeAnalyse``) so they do not depend
on chart parsing; ``test_scan_analysis.py`` runs the real analyser on fixture charts.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from content.formats.issues import Issue
from content.formats.scan import (
    MAX_CHART_BYTES,
    MAX_INI_BYTES,
    SKIP_DIR,
    is_sng_file,
    is_song_folder,
    scan_folder,
    scan_folder_bytes,
    scan_sng,
    skip_dir,
    wanted_files,
)
from content.formats.sng import read_sng_index_path, write_sng_path

C3_INI = "charts/chorus/ini/c3.ini"
CHART = "charts/chorus/charts/lol.chart"
MIDI = "charts/chorus/mids/lol.mid"
FULL_METADATA = {"name": "N", "artist": "A", "album": "B", "genre": "G", "year": "2000",
                 "charter": "C"}


class FakeAnalyse:
    """Stands in for analysis.analyse_chart: records its calls, returns or raises as told."""

    # c3.ini, the usual song.ini here, rates guitar, bass and keys.
    def __init__(self, *, metadata=None, issues=(), error: Exception | None = None,
                 instruments=("guitar", "bass", "keys"), has_vocals=False):
        self.calls: list[tuple[bytes, str, dict]] = []
        self.metadata = metadata or {}
        self.issues = list(issues)
        self.error = error
        self.instruments = list(instruments)
        self.has_vocals = has_vocals

    def __call__(self, data: bytes, *, kind: str, ini):
        self.calls.append((data, kind, dict(ini)))
        if self.error is not None:
            raise self.error
        return SimpleNamespace(issues=list(self.issues), metadata=dict(self.metadata),
                               instruments=list(self.instruments), has_vocals=self.has_vocals)


def make_folder(root: Path, fixtures: Path, spec: dict[str, str | int | bytes]) -> Path:
    """A song folder: ``"fixture:<path>"`` copies a fixture's bytes, an int makes a sparse
    zero-filled file of that size (audio and images are never read), bytes are written as is."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in spec.items():
        path = root / name
        if isinstance(content, int):
            with path.open("wb") as handle:
                handle.truncate(content)
        elif isinstance(content, str):
            path.write_bytes((fixtures / content.removeprefix("fixture:")).read_bytes())
        else:
            path.write_bytes(content)
    return root


def scan_dir(folder: Path, analyse=None, *, readable=None):
    """Scan ``folder`` through the storage-agnostic API, recording every ``read``."""
    reads: list[str] = []

    def read(name: str) -> bytes:
        reads.append(name)
        if readable is not None:
            assert name in readable, f"scan_folder read {name!r}"
        return (folder / name).read_bytes()

    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    scan = scan_folder(files, read, analyse=FakeAnalyse() if analyse is None else analyse)
    # Every scan here also checks that wanted_files names exactly what the scan reads.
    assert sorted(wanted_files(files)) == sorted(reads)
    return scan, reads


def types(scan) -> list[str]:
    return [i.type for i in scan.issues]


@pytest.fixture
def song(tmp_path, fixtures):
    """A complete, well-formed song folder."""
    return make_folder(tmp_path / "song", fixtures, {
        "song.ini": f"fixture:{C3_INI}", "notes.chart": f"fixture:{CHART}",
        "song.ogg": 4_000_000, "guitar.opus": 1_000_000, "album.png": 50_000,
        "video.webm": 9_000_000, "background.jpg": 10_000})


# -- a whole folder ------------------------------------------------------------------------


def test_a_complete_folder_has_no_folder_issues(song, fixtures):
    analyse = FakeAnalyse(issues=[Issue("noSections", "no sections")])
    scan, _ = scan_dir(song, analyse)
    assert types(scan) == ["noSections"]
    assert scan.ini_name == "song.ini" and scan.ini.get("artist") == "Ella Henderson"
    assert (scan.chart_name, scan.chart_kind) == ("notes.chart", "chart")
    assert scan.chart_md5 == hashlib.md5((fixtures / CHART).read_bytes()).hexdigest()
    assert scan.chart is not None
    assert scan.audio == ["guitar.opus", "song.ogg"]
    assert (scan.album_art, scan.video) == ("album.png", "video.webm")


def test_it_reads_only_the_ini_and_the_chart(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": f"fixture:{C3_INI}", "notes.mid": f"fixture:{MIDI}",
        **{f"{stem}.ogg": 30_000_000 for stem in ("song", "guitar", "bass", "drums_1", "crowd")},
        "preview.mp3": 1000, "vocals.wav": 2000, "keys.opus": 3000, "junk.ogg": 10,
        "album.jpg": 100, "album.png": 100, "background.png": 100, "highway.jpg": 100,
        "video.mp4": 50_000_000, "video.webm": 100, "ch.dat": 10, "readme.txt": 5})
    scan, reads = scan_dir(folder, readable={"song.ini", "notes.mid"})
    assert sorted(reads) == ["notes.mid", "song.ini"]
    assert scan.chart_kind == "mid"


def test_it_passes_song_ini_values_to_the_chart_analysis(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": b"[Song]\nmultiplier_note = 103\nPro_Drums = True\n",
        "notes.chart": f"fixture:{CHART}", "song.ogg": 1})
    analyse = FakeAnalyse()
    scan_dir(folder, analyse)
    [(data, kind, ini)] = analyse.calls
    assert data == (fixtures / CHART).read_bytes() and kind == "chart"
    assert ini == {"multiplier_note": "103", "pro_drums": "True"}


# -- chart file rules --------------------------------------------------------------------------


@pytest.mark.parametrize(("names", "chosen", "expected"), [
    (["notes.chart"], "notes.chart", []),
    (["notes.midi"], "notes.midi", []),
    (["notes.chart", "notes.mid"], "notes.mid", ["multipleChart"]),
    (["song.chart"], "song.chart", ["invalidChart"]),
    (["Notes.mid"], "Notes.mid", ["invalidChart"]),
    (["notes.mid", "Song [Y].chart"], "notes.mid", ["invalidChart", "multipleChart"]),
    (["a.chart", "b.mid"], "b.mid", ["invalidChart", "invalidChart", "multipleChart"]),
])
def test_chart_file_choice(tmp_path, fixtures, names, chosen, expected):
    spec = {n: f"fixture:{MIDI if 'mid' in n else CHART}" for n in names}
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "song.ogg": 1, "album.png": 1, **spec})
    scan, reads = scan_dir(folder)
    assert scan.chart_name == chosen
    assert types(scan) == expected
    assert chosen in reads and len(reads) == 2


def test_invalid_chart_names_the_file(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "My Song.CHART": f"fixture:{CHART}",
                                                     "song.ogg": 1, "album.png": 1})
    scan, _ = scan_dir(folder)
    assert scan.issues == [Issue("invalidChart", '"My Song.CHART" is not named "notes.chart".')]


def test_no_chart(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "song.ogg": 1, "album.png": 1})
    analyse = FakeAnalyse()
    scan, reads = scan_dir(folder, analyse)
    assert types(scan) == ["noChart"]
    assert (scan.chart_name, scan.chart_md5, scan.chart) == (None, None, None)
    assert reads == ["song.ini"] and analyse.calls == []


def test_an_unreadable_chart_is_a_bad_chart_issue(tmp_path, fixtures):
    from content.formats.analysis import ChartError

    error = ChartError("Invalid .chart file: no sections were found.")
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "notes.chart": b"garbage", "song.ogg": 1,
                                                     "album.png": 1})
    scan, _ = scan_dir(folder, FakeAnalyse(error=error))
    assert scan.issues == [Issue("badChart", f'"notes.chart" cannot be read: {error}')]
    assert scan.chart is None and scan.chart_md5 == hashlib.md5(b"garbage").hexdigest()


def test_a_crashing_analyser_is_a_bad_chart_issue_too(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "notes.chart": b"x", "song.ogg": 1,
                                                     "album.png": 1})
    scan, _ = scan_dir(folder, FakeAnalyse(error=RuntimeError("boom")))
    assert types(scan) == ["badChart"] and "RuntimeError: boom" in scan.issues[0].message


def test_files_too_large_to_be_read_are_not_wanted(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": MAX_INI_BYTES + 1,
                                                     "notes.chart": MAX_CHART_BYTES + 1,
                                                     "song.ogg": 1})
    scan, reads = scan_dir(folder)
    assert reads == [] and {"invalidMetadata", "badChart"} <= set(types(scan))


def test_scanning_bytes_read_beforehand_gives_the_same_scan(song):
    files = {p.name: p.stat().st_size for p in song.iterdir()}
    blobs = {name: (song / name).read_bytes() for name in wanted_files(files)}
    assert blobs.keys() == {"song.ini", "notes.chart"}
    early = scan_folder_bytes(files, blobs)
    lazy = scan_folder(files, lambda n: (song / n).read_bytes())
    assert early.ini.items() == lazy.ini.items()  # SongIni has no equality of its own
    assert replace(early, ini=None) == replace(lazy, ini=None) and early.chart is not None
    with pytest.raises(KeyError):
        scan_folder_bytes(files, {"song.ini": blobs["song.ini"]})


# -- song.ini rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(("inis", "used", "expected"), [
    ({}, None, ["noMetadata"]),
    ({"other.ini": C3_INI}, "other.ini", ["invalidIni"]),
    ({"Song.ini": C3_INI}, "Song.ini", ["invalidIni"]),
    ({"song.ini": C3_INI, "other.ini": "charts/chorus/mids/song.ini"}, "song.ini",
     ["invalidIni", "multipleIniFiles"]),
])
def test_ini_file_choice(tmp_path, fixtures, inis, used, expected):
    spec = {n: f"fixture:{p}" for n, p in inis.items()}
    folder = make_folder(tmp_path / "s", fixtures, {"notes.mid": f"fixture:{MIDI}",
                                                     "song.ogg": 1, "album.png": 1, **spec})
    scan, reads = scan_dir(folder)
    assert types(scan) == expected
    assert scan.ini_name == used
    if used:
        assert scan.ini.get("artist") == "Ella Henderson" and used in reads
    else:
        assert scan.ini is None  # a .mid has no [Song] section to fall back on


def test_ini_issues_are_part_of_the_scan(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": b"[song]\nname = x\nnot a line\nsong_length = 1.5\n",
        "notes.chart": f"fixture:{CHART}", "song.ogg": 1, "album.png": 1})
    scan, _ = scan_dir(folder, FakeAnalyse(instruments=()))
    assert types(scan) == ["badIniLine", "invalidValue"] + ["missingValue"] * 5


def test_without_song_ini_the_chart_song_section_is_the_metadata(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {"notes.chart": f"fixture:{CHART}",
                                                     "song.ogg": 1, "album.png": 1})
    analyse = FakeAnalyse(metadata={"name": "From Chart", "artist": "Chart Artist",
                                    "chart_offset": "1500", "diff_guitar": "3"})
    scan, reads = scan_dir(folder, analyse)
    assert reads == ["notes.chart"]
    assert analyse.calls[0][2] == {}  # no song.ini: default chart modifiers
    assert scan.ini_name is None
    # chart_offset is not a song.ini key; no diff_* checks without a song.ini (scan-chart).
    assert scan.ini.items() == [("name", "From Chart"), ("artist", "Chart Artist"),
                                ("diff_guitar", "3")]
    assert types(scan) == ["noMetadata"]
    assert "[Song]" in scan.issues[0].message


def test_song_ini_wins_over_the_chart_song_section(song):
    scan, _ = scan_dir(song, FakeAnalyse(metadata={"name": "From Chart"}))
    assert scan.ini.get("name") == "Ghost"


def test_difficulties_are_checked_against_the_charted_parts(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "song.ini": b"[song]\nname = n\nartist = a\nalbum = b\ngenre = g\nyear = 1\n"
                    b"charter = c\ndiff_guitar = 3\ndiff_drums = 2\ndiff_bass = -1\n"
                    b"diff_vocals = 1\n",
        "notes.mid": f"fixture:{MIDI}", "song.ogg": 1, "album.png": 1})
    scan, _ = scan_dir(folder, FakeAnalyse(instruments=("guitar", "bass", "rhythm")))
    assert [(i.type, i.message) for i in scan.issues] == [
        ("missingValue", 'Metadata is missing a "diff_rhythm" value.'),
        ("missingValue", 'Metadata is missing a "diff_bass" value.'),
        ("extraValue", 'Metadata contains "diff_drums", but drums is not charted.'),
        ("extraValue", 'Metadata contains "diff_vocals", but vocals are not charted.'),
    ]
    scan, _ = scan_dir(folder, FakeAnalyse(instruments=("guitar", "drums"), has_vocals=True))
    assert scan.issues == [], scan.issues


# -- audio, album art, video -------------------------------------------------------------------


@pytest.mark.parametrize(("media", "audio", "expected"), [
    (["song.ogg"], ["song.ogg"], []),
    (["drums_1.wav", "drums_2.wav", "vocals_2.mp3"],
     ["drums_1.wav", "drums_2.wav", "vocals_2.mp3"], []),
    (["preview.ogg", "crowd.ogg"], ["crowd.ogg", "preview.ogg"], ["noAudio"]),
    ([], [], ["noAudio"]),
    (["song.ogg", "song.opus"], ["song.ogg", "song.opus"], ["multipleAudio"]),
    (["music.mp3", "song.ogg"], ["song.ogg"], ["invalidAudio"]),
    (["Song.ogg"], [], ["invalidAudio", "noAudio"]),
    (["song.OGG", "guitar.ogg"], ["guitar.ogg"], ["invalidAudio"]),
    (["vocals_explicit.ogg", "song.ogg"], ["song.ogg"], ["invalidAudio"]),
])
def test_audio_rules(tmp_path, fixtures, media, audio, expected):
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "notes.chart": f"fixture:{CHART}",
                                                     "album.png": 1, **{m: 100 for m in media}})
    scan, _ = scan_dir(folder, readable={"song.ini", "notes.chart"})
    assert scan.audio == audio
    assert types(scan) == expected


@pytest.mark.parametrize(("images", "chosen", "expected"), [
    (["album.jpg"], "album.jpg", []),
    (["album.jpeg", "album.png"], "album.png", ["multipleAlbumArt"]),
    ([], None, ["noAlbumArt"]),
    (["Album.png", "cover.jpg", "background.png"], None, ["noAlbumArt"]),
])
def test_album_art_rules(tmp_path, fixtures, images, chosen, expected):
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "notes.chart": f"fixture:{CHART}",
                                                     "song.ogg": 1, **{i: 10 for i in images}})
    scan, _ = scan_dir(folder, readable={"song.ini", "notes.chart"})
    assert scan.album_art == chosen
    assert types(scan) == expected


@pytest.mark.parametrize(("videos", "chosen", "expected"), [
    (["video.webm"], "video.webm", []),
    (["video.ogv"], "video.ogv", []),
    (["video.mp4"], "video.mp4", ["badVideo"]),
    (["video.avi", "video.webm"], "video.webm", ["badVideo", "multipleVideo"]),
    (["video.mpeg", "video.mp4"], "video.mpeg", ["badVideo", "badVideo", "multipleVideo"]),
    (["intro.mp4", "video.MP4"], None, []),
])
def test_video_rules(tmp_path, fixtures, videos, chosen, expected):
    folder = make_folder(tmp_path / "s", fixtures, {"song.ini": f"fixture:{C3_INI}",
                                                     "notes.chart": f"fixture:{CHART}",
                                                     "song.ogg": 1, "album.png": 1,
                                                     **{v: 1000 for v in videos}})
    scan, _ = scan_dir(folder, readable={"song.ini", "notes.chart"})
    assert scan.video == chosen
    assert types(scan) == expected


def test_issues_come_in_scan_chart_order(tmp_path, fixtures):
    folder = make_folder(tmp_path / "s", fixtures, {
        "a.ini": b"[song]\nname = x\n", "x.chart": f"fixture:{CHART}", "video.mp4": 1,
        "crowd.ogg": 1})
    scan, _ = scan_dir(folder, FakeAnalyse(issues=[Issue("noNotes", "n")], instruments=()))
    assert types(scan) == ["invalidIni"] + ["missingValue"] * 5 + [
        "invalidChart", "noNotes", "noAlbumArt", "noAudio", "badVideo"]


# -- the library walker's helpers --------------------------------------------------------------


@pytest.mark.parametrize(("names", "expected"), [
    (["notes.chart"], True), (["NOTES.MID"], True), (["x.midi"], True), (["song.opus"], True),
    (["Guitar.OGG", "readme.txt"], True), (["song.wav"], True), (["song.mp3"], True),
    (["song.ini", "album.png", "video.webm"], False), (["song.sng"], False), ([], False),
    (["chart", "ogg"], False),
])
def test_is_song_folder(names, expected):
    assert is_song_folder(names) is expected


def test_skip_dir_and_sng_names():
    assert skip_dir("__MACOSX") and skip_dir(".git") and skip_dir(".chmanager-staging")
    assert not skip_dir("Songs") and not skip_dir("__macosx_not")
    assert SKIP_DIR is skip_dir
    assert is_sng_file("Song.SNG") and not is_sng_file("song.sng.part")


# -- .sng --------------------------------------------------------------------------------------


def _write_sng(tmp_path, metadata, files) -> Path:
    path = tmp_path / "song.sng"
    write_sng_path(metadata, files, path)
    return path


def test_scan_sng_reads_metadata_and_only_the_chart(tmp_path, fixtures):
    audio = make_folder(tmp_path / "media", fixtures, {"song.opus": 5_000_000, "album.jpg": 1000})
    path = _write_sng(tmp_path, {**FULL_METADATA, "song_length": "1000"},
                      {"notes.mid": fixtures / MIDI, "song.opus": audio / "song.opus",
                       "album.jpg": audio / "album.jpg"})
    raw = path.read_bytes()
    ranges: list[tuple[int, int]] = []

    def read_range(offset: int, length: int) -> bytes:
        ranges.append((offset, length))
        return raw[offset:offset + length]

    analyse = FakeAnalyse(instruments=())
    scan = scan_sng(read_range, len(raw), analyse=analyse)
    assert scan.issues == []
    assert scan.ini.get("name") == "N" and scan.ini.get_int("song_length") == 1000
    assert scan.ini_name is None
    assert (scan.chart_name, scan.chart_kind) == ("notes.mid", "mid")
    assert scan.chart_md5 == hashlib.md5((fixtures / MIDI).read_bytes()).hexdigest()
    assert analyse.calls[0][0] == (fixtures / MIDI).read_bytes()
    assert analyse.calls[0][2]["song_length"] == "1000"
    assert (scan.audio, scan.album_art) == (["song.opus"], "album.jpg")
    # Three reads for the index and one for the chart; no byte of audio or image data.
    assert len(ranges) == 4 and ranges[-1][1] == (fixtures / MIDI).stat().st_size
    index = read_sng_index_path(path)
    for name in ("song.opus", "album.jpg"):
        media = index.entry(name)
        assert all(o + n <= media.offset or o >= media.offset + media.size for o, n in ranges)


def test_scan_sng_reports_missing_metadata(tmp_path, fixtures):
    path = _write_sng(tmp_path, {"name": "Only a name"},
                      {"notes.chart": fixtures / CHART, "song.ogg": b"\0" * 10})
    raw = path.read_bytes()
    scan = scan_sng(lambda o, n: raw[o:o + n], len(raw), analyse=FakeAnalyse())
    # The metadata is the song.ini: diff_* are checked too (guitar, bass, keys charted here).
    assert types(scan) == ["missingValue"] * 8 + ["noAlbumArt"]
    assert scan.issues[0].message == 'Metadata is missing the "artist" property.'


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_broken_sng_is_a_bad_chart_issue_not_an_exception(tmp_path, fixtures, damage):
    path = _write_sng(tmp_path, FULL_METADATA, {"notes.chart": fixtures / CHART})
    raw = {"garbage": b"RIFF" + bytes(200), "truncated": path.read_bytes()[:60],
           "empty": b""}[damage]
    scan = scan_sng(lambda o, n: raw[o:o + n], len(raw), analyse=FakeAnalyse())
    assert types(scan) == ["badChart"]
    assert scan.issues[0].message.startswith("The .sng file cannot be read: ")
    assert scan.ini is None and scan.chart_name is None
