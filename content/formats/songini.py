"""song.ini: read, check and edit Clone Hero's metadata file without disturbing it.

A ``SongIni`` keeps every line's original bytes. Reading never raises for malformed input:
problems become ``Issue`` records (``SongIni.issues``). Writing back (``to_bytes``) returns the
original bytes unchanged for every line that was not edited, so unknown keys, key order,
comments, blank lines, section spelling, encoding, BOM and line endings all survive.

Parsing rules follow Geomitron/scan-chart ``src/ini/parse-ini.ts`` (lines trimmed; ``[name]``
headers; ``key = value`` split on the first ``=``; anything else is a ``badIniLine``) and
``src/ini/scan-ini.ts`` (which section is the song section, aliases, defaults, issues), with
these deliberate differences, each marked "(chmanager)" where it is applied:

* ``#`` lines are comments too (GuitarGame_ChartFormats song.ini ``Format-Overview.md``);
  scan-chart only skips ``;`` lines.
* Trailing comments are NOT stripped: like scan-chart, ``name = Foo ; bar`` has the value
  ``Foo ; bar``. Numbers still read because numbers are parsed from their leading numeric text
  (JavaScript ``parseFloat``, as scan-chart does), so ``hopo_frequency = 170 ; fast`` is 170.
* Key lookup is case-insensitive (Clone Hero and YARG lower-case keys); scan-chart's is not.
* Encoding: a UTF-8/UTF-16 BOM decides; otherwise strict UTF-8, otherwise cp1252 (chorus
  issue #6: many Notepad-edited files are Windows-1252). scan-chart decodes BOM-less files as
  UTF-8 with replacement characters.
* A value that is not a number at all in an integer field is an ``invalidValue``; scan-chart
  silently uses the default. Every integer-typed key in ``KNOWN_KEYS`` is checked, not only
  scan-chart's list.
* Booleans accept any case of ``true``/``false`` plus ``1``/``0`` (scan-chart after 7.0.1).
* A repeated key: the first occurrence wins, as in YARG; scan-chart keeps the last.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from content.formats.issues import Issue

ValueType = Literal["str", "int", "float", "bool"]

# Known keys, their value type and, for legacy names, the key they stand in for.
# Sources: formats.md §1.2 (GuitarGame_ChartFormats "Standard Tags", SngCli KnownKeys,
# YARG.Core SongIniHandler.cs) and scan-chart src/ini/metadata.ts.
#
# key                          type     alias of
_KEY_TABLE: tuple[tuple[str, ValueType, str | None], ...] = (
    # song info
    ("name",                      "str",   None),
    ("artist",                    "str",   None),
    ("album",                     "str",   None),
    ("genre",                     "str",   None),
    ("sub_genre",                 "str",   None),
    ("year",                      "str",   None),  # often ", 2002" in .chart-derived files
    ("charter",                   "str",   None),
    ("frets",                     "str",   "charter"),
    ("rating",                    "int",   None),
    ("version",                   "str",   None),
    ("loading_phrase",            "str",   None),
    ("icon",                      "str",   None),
    ("tags",                      "str",   None),
    ("location",                  "str",   None),
    # sorting
    ("playlist",                  "str",   None),
    ("sub_playlist",              "str",   None),
    ("album_track",               "int",   None),
    ("track",                     "int",   "album_track"),
    ("playlist_track",            "int",   None),
    # timing, milliseconds
    ("song_length",               "int",   None),
    ("preview_start_time",        "int",   None),
    ("preview_end_time",          "int",   None),
    ("preview",                   "str",   None),  # legacy "start end" pair
    ("delay",                     "int",   None),
    ("video_start_time",          "int",   None),
    ("video_end_time",            "int",   None),
    ("video_loop",                "bool",  None),
    # difficulties, usually 0..6, -1 = none
    ("diff_band",                 "int",   None),
    ("diff_guitar",               "int",   None),
    ("diff_guitarghl",            "int",   None),
    ("diff_guitar_coop",          "int",   None),
    ("diff_guitar_coop_ghl",      "int",   None),
    ("diff_guitar_real",          "int",   None),
    ("diff_guitar_real_22",       "int",   None),
    ("diff_rhythm",               "int",   None),
    ("diff_rhythm_ghl",           "int",   None),
    ("diff_bass",                 "int",   None),
    ("diff_bassghl",              "int",   None),
    ("diff_bass_real",            "int",   None),
    ("diff_bass_real_22",         "int",   None),
    ("diff_drums",                "int",   None),
    ("diff_drums_real",           "int",   None),
    ("diff_drums_real_ps",        "int",   None),
    ("diff_elite_drums",          "int",   None),
    ("diff_keys",                 "int",   None),
    ("diff_keys_real",            "int",   None),
    ("diff_keys_real_ps",         "int",   None),
    ("diff_vocals",               "int",   None),
    ("diff_vocals_harm",          "int",   None),
    ("diff_dance",                "int",   None),
    # chart-parsing modifiers (part of scan-chart's chartHash)
    ("hopo_frequency",            "int",   None),
    ("hopofreq",                  "int",   "hopo_frequency"),
    ("eighthnote_hopo",           "bool",  None),
    ("multiplier_note",           "int",   None),
    ("star_power_note",           "int",   "multiplier_note"),
    ("sustain_cutoff_threshold",  "int",   None),
    ("chord_snap_threshold",      "int",   None),
    ("five_lane_drums",           "bool",  None),
    ("pro_drums",                 "bool",  None),
    ("pro_drum",                  "bool",  "pro_drums"),  # YARG reads this spelling too
    ("drum_fallback_blue",        "bool",  None),
    ("sysex_slider",              "bool",  None),
    ("sysex_open_bass",           "bool",  None),
    ("sysex_pro_slide",           "bool",  None),
    ("sysex_high_hat_ctrl",       "bool",  None),
    ("sysex_rimshot",             "bool",  None),
    ("end_events",                "bool",  None),
    # flags
    ("modchart",                  "bool",  None),
    ("lyrics",                    "bool",  None),
    ("explicit_lyrics",           "bool",  None),
    ("tutorial",                  "bool",  None),
    ("boss_battle",               "bool",  None),
    # resources
    ("background",                "str",   None),
    ("video",                     "str",   None),
    ("cover",                     "str",   None),
    ("cassettecolor",             "str",   None),
    ("banner_link_a",             "str",   None),
    ("banner_link_b",             "str",   None),
    ("link_name_a",               "str",   None),
    ("link_name_b",               "str",   None),
    # pro-instrument extras
    ("real_guitar_tuning",        "str",   None),
    ("real_guitar_22_tuning",     "str",   None),
    ("real_bass_tuning",          "str",   None),
    ("real_bass_22_tuning",       "str",   None),
    ("real_keys_lane_count_left", "int",   None),
    ("real_keys_lane_count_right", "int",  None),
    ("vocal_gender",              "str",   None),
)


@dataclass(frozen=True, slots=True)
class KnownKey:
    """One standard song.ini key: its value type and, for a legacy name, the key it aliases."""

    name: str
    type: ValueType
    alias_of: str | None = None


KNOWN_KEYS: dict[str, KnownKey] = {k: KnownKey(k, t, a) for k, t, a in _KEY_TABLE}

# scan-chart src/ini/scan-ini.ts requiredProperties and their defaults (src/ini/metadata.ts):
# a value equal to the default counts as missing.
REQUIRED_KEYS: dict[str, str] = {
    "name": "Unknown Name",
    "artist": "Unknown Artist",
    "album": "Unknown Album",
    "genre": "Unknown Genre",
    "year": "Unknown Year",
    "charter": "Unknown Charter",
}
VALID_MULTIPLIER_NOTES = (0, 103, 116)

# scan-chart accepts exactly these spellings, in this order of preference.
SONG_SECTION_NAMES = ("song", "Song", "SONG")

_ALIASES: dict[str, str] = {k.alias_of: k.name for k in KNOWN_KEYS.values() if k.alias_of}

_HEADER = re.compile(r"\[(.+)]$")
# JavaScript parseFloat's grammar (without Infinity): the leading numeric text of a string.
_LEADING_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Unity/TextMeshPro rich-text tags, as scan-chart src/shared/text.ts removeStyleTags.
_STYLE_TAGS = (
    "align allcaps alpha b br color cspace font font-weight gradient i indent line-height "
    "line-indent link lowercase margin mark mspace nobr noparse page pos rotate s size "
    "smallcaps space sprite strikethrough style sub sup u uppercase voffset width"
).split()
_STYLE_TAG = re.compile(
    r"<\s*/?\s*(?:#|" + "|".join(rf"\b{re.escape(t)}\b" for t in _STYLE_TAGS) + r")[^>]*>",
    re.IGNORECASE,
)
_MAX_BAD_LINE_ISSUES = 10
_MAX_LINE_IN_MESSAGE = 200

Encoding = Literal["utf-8", "cp1252", "utf-16-le", "utf-16-be"]
_BOMS: tuple[tuple[bytes, Encoding], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_BOM_OF: dict[str, bytes] = {enc: bom for bom, enc in _BOMS}

LineKind = Literal["blank", "comment", "section", "pair", "bad"]


@dataclass(slots=True)
class _Line:
    raw: bytes  # the line's exact bytes, terminator included
    text: str  # decoded, terminator excluded, not trimmed
    eol: str  # "\r\n", "\n" or "" for a last line without terminator
    kind: LineKind
    section: str | None  # name of the section this line is in (a header names its own)
    key: str = ""
    value: str = ""


def strip_style_tags(text: str) -> str:
    """``text`` without Unity rich-text tags, e.g. ``<color=#AEFFFF>Aren</color>`` → ``Aren``.

    Same tag list and repeat-until-stable rule as scan-chart ``removeStyleTags``
    (src/shared/text.ts); use it before searching or comparing names.
    """
    old = None
    while old != text:
        old = text
        text = _STYLE_TAG.sub("", text).strip()
    return text


def parse_number(text: str | None) -> float | None:
    """The number at the start of ``text`` like JavaScript ``parseFloat``, or None.

    scan-chart reads every integer field this way (src/ini/scan-ini.ts ``getIniInteger``), so
    ``"170 ; comment"`` is 170 and ``"abc"`` is None.
    """
    if text is None:
        return None
    match = _LEADING_NUMBER.match(text.lstrip())
    if match is None:
        return None
    number = float(match.group())
    return number if math.isfinite(number) else None


def parse_bool(text: str | None) -> bool | None:
    """``True``/``False`` in any case, or ``1``/``0``; None for anything else."""
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None


def format_value(value: str | bool | int | float) -> str:
    """``value`` as Clone Hero writes it: ``True``/``False``, plain ints, floats with ``.``.

    Raises ValueError for a non-finite float or a string holding a line break.
    """
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write the non-finite number {value!r} to song.ini")
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:.1f}"
        text = repr(value)
        if "e" in text or "E" in text:
            text = f"{value:.12f}".rstrip("0")
        return text
    if isinstance(value, str):
        if "\n" in value or "\r" in value:
            raise ValueError("a song.ini value cannot contain a line break")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{value!r} is not valid text (lone surrogate)") from exc
        return value
    raise TypeError(f"cannot write a {type(value).__name__} to song.ini")


def _check_key(key: str) -> None:
    stripped = key.strip()
    if not stripped or stripped != key:
        raise ValueError(f"invalid song.ini key {key!r}: empty or surrounded by spaces")
    if any(c in key for c in "=\r\n") or key[0] in "[;#":
        raise ValueError(f"invalid song.ini key {key!r}: it cannot hold '=' or a line break "
                         "or start with '[', ';' or '#'")


def _detect_encoding(data: bytes) -> tuple[Encoding, bool]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252", False
    return "utf-8", False


def _split_raw_lines(body: bytes, encoding: Encoding) -> list[bytes]:
    """``body`` cut after each line feed, each piece keeping its terminator."""
    if encoding == "utf-16-le":
        newline = b"\n\x00"
    elif encoding == "utf-16-be":
        newline = b"\x00\n"
    else:
        # A 0x0A byte is always a line feed in UTF-8 and cp1252.
        pieces = body.split(b"\n")
        lines = [p + b"\n" for p in pieces[:-1]]
        if pieces[-1]:
            lines.append(pieces[-1])
        return lines
    lines: list[bytes] = []
    start = search = 0
    while True:
        found = body.find(newline, search)
        if found < 0:
            break
        if (found - start) % 2:
            # Misaligned match: the two bytes straddle two UTF-16 code units.
            search = found + 1
            continue
        lines.append(body[start:found + 2])
        start = search = found + 2
    if start < len(body):
        lines.append(body[start:])
    return lines


def _split_eol(text: str) -> tuple[str, str]:
    if text.endswith("\r\n"):
        return text[:-2], "\r\n"
    if text.endswith("\n"):
        return text[:-1], "\n"
    return text, ""


def _classify(text: str, section: str | None) -> _Line:
    """One decoded line (no terminator) classified by scan-chart's parse-ini rules."""
    line = text.strip()
    if not line:
        return _Line(b"", text, "", "blank", section)
    if line[0] in ";#":  # (chmanager) '#' is a comment too
        return _Line(b"", text, "", "comment", section)
    if line[0] == "[":
        match = _HEADER.match(line)
        if match is None:
            return _Line(b"", text, "", "bad", section)
        return _Line(b"", text, "", "section", match.group(1).strip())
    if "=" in line:
        key, _, value = line.partition("=")
        return _Line(b"", text, "", "pair", section, key.strip(), value.strip())
    return _Line(b"", text, "", "bad", section)


def is_valid_key(key: str) -> bool:
    """True if ``key`` can be written as a song.ini key (see ``SongIni.set``)."""
    try:
        _check_key(key)
    except ValueError:
        return False
    return True


def _js_round(number: float) -> int:
    # JavaScript Math.round (halves go up), which scan-chart applies to non-integers.
    return math.floor(number + 0.5)


class SongIni:
    """A song.ini file: typed reads, checks, and edits that keep every other byte.

    Build one with ``SongIni.from_bytes`` (a file) or ``SongIni.from_mapping`` (.sng metadata,
    a .chart ``[Song]`` section). Keys are looked up case-insensitively but written as found.
    Only the song section (``[song]``, ``[Song]`` or ``[SONG]``, first one holding a key, as
    scan-chart picks it) is read; other sections are kept as they are. Duplicate keys: the
    first one wins, as in YARG (``IniSection.TryGet`` reads the first); scan-chart's parser
    keeps the last. ``set`` removes the later duplicates, so every reader then agrees.

    Attributes: ``encoding`` (``utf-8``, ``cp1252``, ``utf-16-le``, ``utf-16-be``), ``bom``,
    ``newline`` (``\\r\\n`` or ``\\n``, used for new lines), ``source_name`` (names the file
    in issue messages).
    """

    def __init__(self, lines: list[_Line], *, encoding: Encoding, bom: bool, newline: str,
                 source_name: str) -> None:
        self._lines = lines
        self.encoding: Encoding = encoding
        self.bom = bom
        self.newline = newline
        self.source_name = source_name

    # -- construction --------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, data: bytes, *, source_name: str = "song.ini") -> SongIni:
        """Parse a song.ini file's bytes. Never raises for malformed content.

        Undecodable bytes read as U+FFFD but keep their original bytes on write.
        """
        encoding, bom = _detect_encoding(data)
        body = data[len(_BOM_OF[encoding]):] if bom else data
        lines: list[_Line] = []
        section: str | None = None
        newline = ""
        for raw in _split_raw_lines(body, encoding):
            text, eol = _split_eol(raw.decode(encoding, errors="replace"))
            line = _classify(text, section)
            line.raw, line.eol = raw, eol
            section = line.section
            newline = newline or eol
            lines.append(line)
        # A file without any line break gets Clone Hero's (Windows) line ending for new lines.
        return cls(lines, encoding=encoding, bom=bom, newline=newline or "\r\n",
                   source_name=source_name)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str | bool | int | float] |
                     Iterable[tuple[str, str | bool | int | float]], *,
                     section: str = "song", encoding: Encoding = "utf-8", bom: bool = False,
                     newline: str = "\r\n", source_name: str = "song.ini") -> SongIni:
        """A new song.ini holding ``values`` in order under a ``[section]`` header.

        For .sng metadata (which replaces song.ini) and for a .chart's ``[Song]`` section
        when a folder has no song.ini. Values are written with ``format_value``.
        Raises ValueError for a key or value that cannot be written (see ``set``).
        """
        items = values.items() if isinstance(values, Mapping) else values
        ini = cls([], encoding=encoding, bom=bom, newline=newline, source_name=source_name)
        ini._append_line(f"[{section}]")
        for key, value in items:
            _check_key(key)
            ini._append_line(f"{key} = {format_value(value)}")
        return ini

    # -- reading -------------------------------------------------------------------------

    @property
    def section_name(self) -> str | None:
        """The song section's spelling as written (``song``/``Song``/``SONG``), or None."""
        present = {line.section for line in self._lines if line.kind == "pair"}
        return next((name for name in SONG_SECTION_NAMES if name in present), None)

    def _song_pairs(self) -> list[_Line]:
        section = self.section_name
        if section is None:
            return []
        return [ln for ln in self._lines if ln.kind == "pair" and ln.section == section]

    def _pairs_of(self, key: str) -> list[_Line]:
        wanted = key.lower()
        return [line for line in self._song_pairs() if line.key.lower() == wanted]

    def _first_pair(self, key: str) -> _Line | None:
        pairs = self._pairs_of(key)
        return pairs[0] if pairs else None

    def get(self, key: str) -> str | None:
        """The raw value of ``key`` (trimmed, case-insensitive key), or None if absent."""
        line = self._first_pair(key)
        return None if line is None else line.value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._first_pair(key) is not None

    def _candidates(self, key: str) -> list[str]:
        # The key itself, then its legacy alias, the order scan-chart falls back in.
        key = key.lower()
        alias = _ALIASES.get(key)
        return [key, alias] if alias else [key]

    def get_str(self, key: str) -> str | None:
        """Text of ``key`` (or its legacy alias); None when absent, empty, ``0`` or ``-1``.

        Rule: scan-chart ``getIniString``. Rich-text tags are kept: see ``strip_style_tags``.
        """
        for name in self._candidates(key):
            value = self.get(name)
            if value and value not in ("0", "-1"):
                return value
        return None

    def get_float(self, key: str) -> float | None:
        """Number of ``key`` (or its alias); None when absent, not a number, or ``-1``."""
        for name in self._candidates(key):
            number = parse_number(self.get(name))
            if number is not None and number != -1:
                return number
        return None

    def get_int(self, key: str) -> int | None:
        """``get_float`` rounded half up, as scan-chart rounds a non-integer; ``-1`` → None."""
        number = self.get_float(key)
        return None if number is None else _js_round(number)

    def get_bool(self, key: str) -> bool | None:
        """Boolean of ``key`` (or its alias): ``True``/``False`` any case, ``1``/``0``."""
        for name in self._candidates(key):
            value = parse_bool(self.get(name))
            if value is not None:
                return value
        return None

    def typed(self, key: str) -> str | int | float | bool | None:
        """``key``'s value read with the type ``KNOWN_KEYS`` gives it (str for unknown keys)."""
        known = KNOWN_KEYS.get(key.lower())
        kind = known.type if known else "str"
        if kind == "int":
            return self.get_int(key)
        if kind == "float":
            return self.get_float(key)
        if kind == "bool":
            return self.get_bool(key)
        return self.get_str(key)

    def items(self) -> list[tuple[str, str]]:
        """The song section's ``(key, value)`` pairs in file order, keys as written.

        A duplicated key appears once, at its first position with its first (winning) value.
        """
        seen: set[str] = set()
        items = []
        for line in self._song_pairs():
            if line.key.lower() not in seen:
                seen.add(line.key.lower())
                items.append((line.key, line.value))
        return items

    def to_dict(self) -> dict[str, str]:
        """The song section as ``{lower-case key: raw value}``, e.g. for chart analysis."""
        return {key.lower(): value for key, value in self.items()}

    # -- checks --------------------------------------------------------------------------

    @property
    def issues(self) -> list[Issue]:
        """Problems in the file as it is now, in scan-chart's order and names.

        ``badIniLine`` (first 10 lines, then a count), ``invalidMetadata`` (no song
        section; no metadata checks then), ``invalidValue`` (integer fields, then
        ``multiplier_note``, then ``pro_drums`` with ``five_lane_drums``), ``missingValue``
        (name, artist, album, genre, year, charter/frets absent or equal to scan-chart's
        "Unknown ..." default).
        """
        issues = self._line_issues()
        if self.section_name is None:
            issues.append(Issue("invalidMetadata",
                                f'"{self.source_name}" doesn\'t have a "[Song]" section.'))
            return issues
        issues += self._integer_issues()
        for key, default in REQUIRED_KEYS.items():
            value = self.get_str(key)
            if value is None or strip_style_tags(value) in ("", default):
                issues.append(Issue("missingValue", f'Metadata is missing the "{key}" property.'))
        multiplier = self.get_int("multiplier_note")
        if multiplier is not None and multiplier not in VALID_MULTIPLIER_NOTES:
            issues.append(Issue(
                "invalidValue",
                f'The "multiplier_note" value in "{self.source_name}" is "{multiplier}", which '
                "is not a valid value (0, 103 or 116)."))
        if self.get_bool("pro_drums") and self.get_bool("five_lane_drums"):
            issues.append(Issue(
                "invalidValue",
                'Metadata contains both the "pro_drums" and "five_lane_drums" properties, '
                "which is not supported."))
        return issues

    def _line_issues(self) -> list[Issue]:
        bad = [(n, ln) for n, ln in enumerate(self._lines, 1) if ln.kind == "bad"]
        issues = []
        for number, line in bad[:_MAX_BAD_LINE_ISSUES]:
            text = "".join(c if c.isprintable() else "\ufffd" for c in line.text.strip())
            if len(text) > _MAX_LINE_IN_MESSAGE:
                text = text[:_MAX_LINE_IN_MESSAGE - 3] + "..."
            issues.append(Issue(
                "badIniLine",
                f'Line {number} of "{self.source_name}" is not a "key = value" line, a '
                f'[section] or a comment: "{text}"'))
        if len(bad) > _MAX_BAD_LINE_ISSUES:
            issues.append(Issue(
                "badIniLine",
                f'"{self.source_name}" has {len(bad) - _MAX_BAD_LINE_ISSUES} more lines that '
                "cannot be read."))
        return issues

    def _integer_issues(self) -> list[Issue]:
        issues = []
        for key, value in self.items():
            known = KNOWN_KEYS.get(key.lower())
            if known is None or known.type != "int" or value == "":
                continue
            number = parse_number(value)
            if number is None:  # (chmanager) scan-chart silently uses the default here
                problem = "not a number"
            elif not number.is_integer():
                problem = "not an integer"
            else:
                continue
            issues.append(Issue("invalidValue", f'The "{key}" value in "{self.source_name}" '
                                                f'is "{value}", which is {problem}.'))
        return issues

    # -- editing -------------------------------------------------------------------------

    def set(self, key: str, value: str | bool | int | float) -> None:
        """Set ``key`` in the song section, changing only that line's bytes.

        An existing key (any case) keeps its spelling and the spacing before its value (its
        later duplicates, which YARG ignores but scan-chart would read, are removed); a
        new key is added after the section's last key as ``key = value`` (creating a
        ``[song]`` section at the end if there is none). ``value`` is written with
        ``format_value``. Raises ValueError for a key that is empty, has surrounding spaces,
        holds ``=`` or a line break or starts with ``[``, ``;`` or ``#``, or for a value with
        a line break; TypeError for other value types.

        A character the file's encoding cannot hold (cp1252 only) re-encodes the whole
        file as UTF-8 (no BOM) rather than losing it.
        """
        _check_key(key)
        text = format_value(value)
        existing, *duplicates = self._pairs_of(key) or [None]
        if duplicates:
            doomed = {id(line) for line in duplicates}
            self._lines = [line for line in self._lines if id(line) not in doomed]
        if existing is not None:
            before, _, after = existing.text.partition("=")
            spacing = after[:len(after) - len(after.lstrip())]
            existing.text = f"{before}={spacing}{text}"
            existing.value = text
            existing.raw = self._encode(existing.text + existing.eol)
            return
        self._insert_pair(key, text)

    def delete(self, key: str) -> bool:
        """Remove every line of ``key`` (any case) from the song section. True if any was."""
        doomed = {id(ln) for ln in self._song_pairs() if ln.key.lower() == key.lower()}
        self._lines = [ln for ln in self._lines if id(ln) not in doomed]
        return bool(doomed)

    def to_bytes(self) -> bytes:
        """The file's bytes: the original ones for every line that was not edited."""
        bom = _BOM_OF[self.encoding] if self.bom else b""
        return bom + b"".join(line.raw for line in self._lines)

    # -- internals -----------------------------------------------------------------------

    def _encode(self, text: str) -> bytes:
        try:
            return text.encode(self.encoding)
        except UnicodeEncodeError:
            # Only cp1252 lacks characters: keeping the text beats keeping the encoding.
            self._reencode_as_utf8()
            return text.encode("utf-8")

    def _reencode_as_utf8(self) -> None:
        self.encoding, self.bom = "utf-8", False
        for line in self._lines:
            line.raw = (line.text + line.eol).encode("utf-8", errors="surrogateescape")

    def _terminate(self, index: int) -> None:
        """Give line ``index`` a line break if it is the unterminated last line."""
        line = self._lines[index]
        if not line.eol:
            line.eol = self.newline
            line.raw = self._encode(line.text + line.eol)

    def _append_line(self, text: str, at: int | None = None) -> _Line:
        at = len(self._lines) if at is None else at
        if at > 0:
            self._terminate(at - 1)
        section = self._lines[at - 1].section if at > 0 else None
        line = _classify(text, section)
        line.eol = self.newline
        line.raw = self._encode(text + self.newline)
        self._lines.insert(at, line)
        return line

    def _insert_pair(self, key: str, text: str) -> None:
        section = self.section_name or next(
            (name for name in SONG_SECTION_NAMES
             if any(ln.kind == "section" and ln.section == name for ln in self._lines)),
            None)
        if section is None:
            header = self._append_line("[song]")
            section = header.section
        anchor = max(i for i, ln in enumerate(self._lines)
                     if ln.section == section and ln.kind in ("pair", "section"))
        self._append_line(f"{key} = {text}", at=anchor + 1)

    def __repr__(self) -> str:
        return (f"<SongIni {self.source_name} {self.encoding}{' BOM' if self.bom else ''} "
                f"{len(self.items())} keys>")
