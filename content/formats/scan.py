"""A song folder's (or .sng's) files → one ``FolderScan``, with scan-chart's folder rules.

Storage-agnostic: the caller lists the folder (name → size in bytes) and supplies
``read(name) -> bytes``. Only the song.ini (or the one .ini) and the chosen chart file are
ever read; audio, video and images are judged by name alone.

Rules and issue names follow Geomitron/scan-chart 7.0.1 (``src/index.ts``,
``src/ini/ini-scanner.ts``, ``src/chart/chart-scanner.ts``, ``src/audio/audio-scanner.ts``,
``src/image/image-scanner.ts``, ``src/video/video-scanner.ts``, ``src/utils.ts``): file names
are compared case-sensitively (``Song.ini`` is an ``invalidIni``, ``Song.ogg`` an
``invalidAudio``), extensions of candidates case-insensitively. With a song.ini (or .sng
metadata), its ``diff_*`` values are checked against the charted parts (``missingValue``,
``extraValue``), as scan-chart's ``scanChartFolder`` does. Differences:

* ``notes.midi`` is a valid chart name and ``.midi`` a chart extension (YARG reads it).
* ``albumArtSize`` and ``badAlbumArt`` are not checked: that needs the image's bytes.
* A folder without song.ini still reports ``noMetadata`` (as scan-chart does), but a .chart's
  ``[Song]`` metadata becomes ``FolderScan.ini`` then, which is what Clone Hero uses (keys
  song.ini does not have, such as ``chart_offset``, are left out).
* A .sng whose container cannot be read gives one ``badChart`` issue instead of an exception.
* A song.ini over 1 MiB or a chart over 64 MiB is not read (``invalidMetadata`` /
  ``badChart``): no real one comes near, and reading it would hold it in memory.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from loguru import logger

from content.formats.analysis import ChartError, ChartSummary, analyse_chart
from content.formats.issues import Issue
from content.formats.sng import ReadRange, SngError, read_sng_file, read_sng_index
from content.formats.songini import KNOWN_KEYS, SongIni, is_valid_key

ChartKind = Literal["chart", "mid"]
Analyse = Callable[..., ChartSummary]
"""``analyse(data, *, kind, ini) -> ChartSummary``, raising ``ChartError``: ``analyse_chart``."""

INI_NAME = "song.ini"
CHART_KINDS: dict[str, ChartKind] = {"chart": "chart", "mid": "mid", "midi": "mid"}
CHART_NAMES = ("notes.chart", "notes.mid", "notes.midi")
AUDIO_EXTENSIONS = ("ogg", "mp3", "wav", "opus")
AUDIO_STEMS = ("song", "guitar", "rhythm", "bass", "keys", "vocals", "vocals_1", "vocals_2",
               "drums", "drums_1", "drums_2", "drums_3", "drums_4", "crowd", "preview")
# Stems that are not the song's music: a folder with only these has no audio.
NON_MUSIC_STEMS = ("preview", "crowd")
# A stem players ignore when numbered ones exist ("Should be ignored if numbered stems
# exist", GuitarGame_ChartFormats Supported-Audio-Files.md): drums beside drums_1..4 …
_SUPERSEDED_BY_NUMBERED = ("drums", "vocals")
ALBUM_ART_NAMES = ("album.jpg", "album.jpeg", "album.png")
VIDEO_EXTENSIONS = ("mp4", "avi", "webm", "vp8", "ogv", "mpeg")
# Won't play on Linux (scan-chart badVideo).
BAD_VIDEO_EXTENSIONS = ("mp4", "avi", "mpeg")
MAX_INI_BYTES = 1024 * 1024
MAX_CHART_BYTES = 64 * 1024 * 1024


def music_stems(stems: Iterable[str]) -> list[str]:
    """The stems (lower-case base names, e.g. ``["song", "guitar", "drums"]``) that are heard
    as the song's music, in the given order: not ``NON_MUSIC_STEMS``, and not ``drums`` /
    ``vocals`` beside ``drums_1``..``drums_4`` / ``vocals_1``..``vocals_2``, which players
    ignore then."""
    stems = list(stems)
    return [stem for stem in stems if stem not in NON_MUSIC_STEMS
            and not (stem in _SUPERSEDED_BY_NUMBERED
                     and any(other.startswith(f"{stem}_") for other in stems))]


@dataclass
class FolderScan:
    """Everything known about one song from its file names, song.ini and chart.

    ini: the parsed song.ini, or one built from the .sng metadata or the .chart ``[Song]``
    section; None when there is none. ini_name: the file it was read from (None when built).
    chart_name / chart_kind: the chart file used and ``"chart"``/``"mid"``.
    chart_md5: hex MD5 of the chart file's raw bytes (Clone Hero's setlist identity).
    chart: the chart analysis, None when there is no readable chart.
    issues: folder, song.ini and chart issues together, in scan-chart's order.
    audio: audio stems used, by file name, sorted. album_art / video: the file Clone Hero uses.
    """

    ini: SongIni | None = None
    ini_name: str | None = None
    chart_name: str | None = None
    chart_kind: ChartKind | None = None
    chart_md5: str | None = None
    chart: ChartSummary | None = None
    issues: list[Issue] = field(default_factory=list)
    audio: list[str] = field(default_factory=list)
    album_art: str | None = None
    video: str | None = None


def _split(name: str) -> tuple[str, str]:
    """``(base, extension)``, both as written; the extension excludes the dot."""
    base, dot, ext = name.rpartition(".")
    return (base, ext) if dot else (name, "")


def _ext(name: str) -> str:
    return _split(name)[1].lower()


def is_song_folder(file_names: Iterable[str]) -> bool:
    """True if a folder holding these files is a song: a .chart/.mid/.midi or any audio.

    Rule: scan-chart ``appearsToBeChartFolder`` (used by Bridge ``discoverChartFolders``),
    plus ``.midi`` (chmanager). A walker treats such a folder as one song and does not look
    below it; a ``.sng`` file is a song on its own (``is_sng_file``).
    """
    wanted = set(CHART_KINDS) | set(AUDIO_EXTENSIONS)
    return any(_ext(name) in wanted for name in file_names)


def is_sng_file(name: str) -> bool:
    """True for a ``.sng`` file name (any case)."""
    return _ext(name) == "sng"


def skip_dir(name: str) -> bool:
    """True for a folder a library walk must not enter: ``__MACOSX`` and dot folders.

    Rule: Bridge ``discoverChartFolders`` (scan-chart skips ``__MACOSX`` too).
    """
    return name == "__MACOSX" or name.startswith(".")


SKIP_DIR = skip_dir


# -- song.ini ------------------------------------------------------------------------------


def _chosen_ini(candidates: list[str]) -> str:
    """The .ini used among the folder's sorted .ini names (not empty): song.ini, else the last."""
    return INI_NAME if INI_NAME in candidates else candidates[-1]


def _find_ini(names: list[str], files: Mapping[str, int],
              read: Callable[[str], bytes]) -> tuple[SongIni | None, str | None, list[Issue]]:
    """scan-chart ``findIniData`` then ``scanIni``: the ini to use, its name and its issues."""
    candidates = [n for n in names if _ext(n) == "ini"]
    issues = [Issue("invalidIni", f'"{n}" is not named "{INI_NAME}".')
              for n in candidates if n != INI_NAME]
    if len(candidates) > 1:
        issues.append(Issue("multipleIniFiles", "This chart has multiple .ini files."))
    if not candidates:
        issues.append(Issue("noMetadata", f'This chart doesn\'t have "{INI_NAME}".'))
        return None, None, issues
    chosen = _chosen_ini(candidates)
    if files[chosen] > MAX_INI_BYTES:
        issues.append(Issue("invalidMetadata", f'"{chosen}" is {files[chosen]} bytes, too large '
                                               "to be a song.ini; it was not read."))
        return None, chosen, issues
    ini = SongIni.from_bytes(read(chosen), source_name=chosen)
    return ini, chosen, issues + ini.issues


def find_ini(files: Mapping[str, int], read: Callable[[str], bytes]) -> SongIni | None:
    """The folder's song.ini as the scan reads it (``files``: name → size in bytes, ``read``
    as for ``scan_folder``): song.ini, else the last .ini; None without one or when it is
    over ``MAX_INI_BYTES``. Its issues are the scan's to report, not the caller's."""
    return _find_ini(sorted(files), files, read)[0]


def _ini_from_metadata(values: Mapping[str, str], source_name: str, *,
                       only_known: bool = False) -> tuple[SongIni, list[Issue]]:
    """A SongIni from .sng or .chart ``[Song]`` metadata, leaving out unwritable pairs.

    ``only_known`` drops keys song.ini does not have (a .chart's ``chart_offset``).
    """
    kept, issues = [], []
    for key, value in values.items():
        if only_known and key.lower() not in KNOWN_KEYS:
            continue
        if is_valid_key(key) and "\n" not in value and "\r" not in value:
            kept.append((key, value))
        else:
            issues.append(Issue("badIniLine", f"The {source_name} pair {key!r} = {value!r} "
                                              "cannot be a song.ini line; it was ignored."))
    return SongIni.from_mapping(kept, source_name=source_name), issues


# -- chart -----------------------------------------------------------------------------------


def _chart_candidates(names: list[str]) -> list[str]:
    """The chart files among sorted ``names``, the one used first."""
    candidates = [n for n in names if _ext(n) in CHART_KINDS]
    # Properly named first, then .mid before .chart: scan-chart's order of preference.
    candidates.sort(key=lambda n: (n not in CHART_NAMES, CHART_KINDS[_ext(n)] != "mid"))
    return candidates


def _find_chart(names: list[str]) -> tuple[str | None, list[Issue]]:
    """scan-chart ``findChartData``: the chart file to use and the folder issues."""
    candidates = _chart_candidates(names)
    issues = [Issue("invalidChart", f'"{n}" is not named "notes.{_ext(n)}".')
              for n in candidates if n not in CHART_NAMES]
    if len(candidates) > 1:
        issues.append(Issue("multipleChart", "This chart has multiple .chart/.mid files."))
    if not candidates:
        issues.append(Issue("noChart", 'This chart doesn\'t have "notes.chart"/"notes.mid".'))
        return None, issues
    return candidates[0], issues


def _analyse(scan: FolderScan, data: bytes, ini: Mapping[str, str], analyse: Analyse) -> None:
    try:
        scan.chart = analyse(data, kind=scan.chart_kind, ini=ini)
    except ChartError as error:
        scan.issues.append(Issue("badChart", f'"{scan.chart_name}" cannot be read: {error}'))
    except Exception as error:  # a reader bug must not stop a library scan
        logger.exception("analysing {} failed", scan.chart_name)
        scan.issues.append(Issue("badChart", f'"{scan.chart_name}" cannot be read: '
                                             f"{type(error).__name__}: {error}"))
    else:
        scan.issues += scan.chart.issues


# scan-chart 7.0.1 src/index.ts: song.ini difficulty keys checked against the charted parts.
DIFFICULTY_KEYS = (
    ("guitar", "diff_guitar"), ("guitarcoop", "diff_guitar_coop"), ("rhythm", "diff_rhythm"),
    ("bass", "diff_bass"), ("drums", "diff_drums"), ("keys", "diff_keys"),
    ("guitarghl", "diff_guitarghl"), ("guitarcoopghl", "diff_guitar_coop_ghl"),
    ("rhythmghl", "diff_rhythm_ghl"), ("bassghl", "diff_bassghl"),
)


def _difficulty_issues(ini: SongIni, chart: ChartSummary) -> list[Issue]:
    """missingValue for a charted part without its ``diff_*``, extraValue for the reverse."""
    charted = set(chart.instruments)
    has_vocals = bool(chart.has_vocals)
    issues = [Issue("missingValue", f'Metadata is missing a "{key}" value.')
              for instrument, key in DIFFICULTY_KEYS
              if instrument in charted and ini.get_int(key) is None]
    if has_vocals and ini.get_int("diff_vocals") is None:
        issues.append(Issue("missingValue", 'Metadata is missing a "diff_vocals" value.'))
    issues += [Issue("extraValue", f'Metadata contains "{key}", but {instrument} is not charted.')
               for instrument, key in DIFFICULTY_KEYS
               if instrument not in charted and ini.get_int(key) is not None]
    if not has_vocals and ini.get_int("diff_vocals") is not None:
        issues.append(Issue("extraValue",
                            'Metadata contains "diff_vocals", but vocals are not charted.'))
    return issues


# -- audio, album art, video -----------------------------------------------------------------


def _audio(names: list[str]) -> tuple[list[str], list[Issue]]:
    """scan-chart ``findAudioData``: valid stems, and invalidAudio/multipleAudio/noAudio."""
    audio, issues = [], []
    for name in names:
        if _ext(name) not in AUDIO_EXTENSIONS:
            continue
        base, ext = _split(name)
        if base in AUDIO_STEMS and ext in AUDIO_EXTENSIONS:
            audio.append(name)
        else:
            issues.append(Issue("invalidAudio", f'"{name}" is not a valid audio stem name.'))
    stems = [_split(n)[0] for n in audio]
    if len(set(stems)) != len(stems):
        issues.append(Issue("multipleAudio",
                            "This chart has multiple audio files of the same stem."))
    if not any(stem.lower() not in NON_MUSIC_STEMS for stem in stems):
        issues.append(Issue("noAudio", "This chart doesn't have an audio file."))
    return audio, issues


def _album_art(names: list[str]) -> tuple[str | None, list[Issue]]:
    """scan-chart ``findAlbumData``: the last album image, multipleAlbumArt/noAlbumArt."""
    found = [n for n in names if n in ALBUM_ART_NAMES]
    issues = []
    if len(found) > 1:
        issues.append(Issue("multipleAlbumArt", "This chart has multiple album art files."))
    if not found:
        issues.append(Issue("noAlbumArt", "This chart doesn't have album art."))
    return (found[-1] if found else None), issues


def _video(names: list[str]) -> tuple[str | None, list[Issue]]:
    """scan-chart ``findVideoData``: a Linux-playable video if any, badVideo/multipleVideo."""
    found = [n for n in names if _split(n)[0] == "video" and _split(n)[1] in VIDEO_EXTENSIONS]
    issues = [Issue("badVideo", f'"{n}" will not work on Linux and should be converted to .webm.')
              for n in found if _split(n)[1] in BAD_VIDEO_EXTENSIONS]
    if len(found) > 1:
        issues.append(Issue("multipleVideo", "This chart has multiple video background files."))
    good = [n for n in found if _split(n)[1] not in BAD_VIDEO_EXTENSIONS]
    chosen = good[-1] if good else (found[-1] if found else None)
    return chosen, issues


# -- the scan ---------------------------------------------------------------------------------


def _scan(files: Mapping[str, int], read: Callable[[str], bytes], *,
          sng_ini: tuple[SongIni, list[Issue]] | None, analyse: Analyse | None) -> FolderScan:
    names = sorted(files)
    scan = FolderScan()
    if sng_ini is None:
        scan.ini, scan.ini_name, ini_issues = _find_ini(names, files, read)
    else:
        scan.ini, ini_issues = sng_ini[0], sng_ini[1] + sng_ini[0].issues
    scan.issues += ini_issues
    # Modifiers come only from a real song.ini section (scan-chart uses defaults otherwise).
    has_ini = scan.ini is not None and scan.ini.section_name is not None
    modifiers = scan.ini.to_dict() if has_ini else {}

    scan.chart_name, chart_issues = _find_chart(names)
    scan.issues += chart_issues
    if scan.chart_name is not None:
        scan.chart_kind = CHART_KINDS[_ext(scan.chart_name)]
        size = files[scan.chart_name]
        if size > MAX_CHART_BYTES:
            scan.issues.append(Issue("badChart", f'"{scan.chart_name}" is {size} bytes, too large '
                                                 "to be a chart; it was not read."))
        else:
            data = read(scan.chart_name)
            scan.chart_md5 = hashlib.md5(data).hexdigest()
            _analyse(scan, data, modifiers, analyse or analyse_chart)
            if has_ini and scan.chart is not None:
                scan.issues += _difficulty_issues(scan.ini, scan.chart)

    if scan.ini is None and scan.chart is not None and scan.chart.metadata:
        # Clone Hero reads a .chart's [Song] section when there is no song.ini.
        scan.ini, metadata_issues = _ini_from_metadata(
            scan.chart.metadata, f"{scan.chart_name} [Song]", only_known=True)
        scan.issues = [
            Issue("noMetadata", f'This chart doesn\'t have "{INI_NAME}"; its metadata comes from '
                                f'the "{scan.chart_name}" [Song] section.')
            if issue.type == "noMetadata" else issue
            for issue in scan.issues] + metadata_issues

    scan.album_art, issues = _album_art(names)
    scan.issues += issues
    scan.audio, issues = _audio(names)
    scan.issues += issues
    scan.video, issues = _video(names)
    scan.issues += issues
    return scan


def scan_folder(files: Mapping[str, int], read: Callable[[str], bytes], *,
                analyse: Analyse | None = None) -> FolderScan:
    """Scan one song folder.

    ``files``: every file directly in the folder, name → size in bytes (no subfolders).
    ``read(name)``: that file's bytes; called only for the song.ini (or the one .ini) and the
    chart file, never for audio, video or images. ``analyse``: the chart analyser, by default
    ``content.formats.analysis.analyse_chart``.
    Malformed content becomes issues; only errors raised by ``read`` propagate.
    """
    return _scan(files, read, sng_ini=None, analyse=analyse)


def wanted_files(files: Mapping[str, int]) -> list[str]:
    """The names ``scan_folder(files, read)`` will call ``read`` for: the song.ini (or the one
    .ini) and the chart file used, each unless it is too large to be read. Lets a caller fetch
    the bytes first (downloads in threads) and scan later (``scan_folder_bytes``)."""
    names = sorted(files)
    inis = [n for n in names if _ext(n) == "ini"]
    charts = _chart_candidates(names)
    wanted = []
    if inis and files[_chosen_ini(inis)] <= MAX_INI_BYTES:
        wanted.append(_chosen_ini(inis))
    if charts and files[charts[0]] <= MAX_CHART_BYTES:
        wanted.append(charts[0])
    return wanted


def scan_folder_bytes(files: Mapping[str, int], blobs: Mapping[str, bytes]) -> FolderScan:
    """``scan_folder`` over bytes already read: ``blobs`` maps each name of
    ``wanted_files(files)`` to its bytes. A module-level function, so a process pool can run it.
    Raises KeyError if a wanted file is missing from ``blobs``."""
    return _scan(files, blobs.__getitem__, sng_ini=None, analyse=None)


def scan_sng(read_range: ReadRange, size: int, *, analyse: Analyse | None = None) -> FolderScan:
    """Scan one .sng file of ``size`` bytes through ``read_range(offset, length) -> bytes``.

    Reads the header, metadata and index, then only the chart file's bytes. The metadata is
    the song.ini (``ini_name`` stays None). A container that cannot be read gives a scan with
    one ``badChart`` issue naming the problem. Errors raised by ``read_range`` propagate.
    """
    try:
        index = read_sng_index(read_range, size)
        sng_ini = _ini_from_metadata(index.metadata, ".sng metadata")
        return _scan({e.name: e.size for e in index.files},
                     lambda name: read_sng_file(index, name, read_range),
                     sng_ini=sng_ini, analyse=analyse)
    except SngError as error:
        return FolderScan(issues=[Issue("badChart", f"The .sng file cannot be read: {error}")])

