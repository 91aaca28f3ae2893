"""song.ini reading, checks and byte-exact round trips (content.formats.songini)."""
from __future__ import annotations

import random

import pytest

from content.formats.songini import KNOWN_KEYS, SongIni, format_value, parse_number

INI_FIXTURES = [
    "charts/chorus/ini/c3.ini",
    "charts/chorus/ini/the-needle-lies.ini",
    "charts/chorus/ini/something-with-equal.ini",
    "charts/chorus/mids/song.ini",
]


def _read(fixtures, name: str) -> bytes:
    return (fixtures / name).read_bytes()


def _raw_lines(data: bytes, encoding: str) -> list[bytes]:
    """Cut ``data`` after each line feed of ``encoding`` (test-side, independent of the module)."""
    newline = {"utf-16-le": b"\n\x00", "utf-16-be": b"\x00\n"}.get(encoding, b"\n")
    parts = data.split(newline)
    return [p + newline for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _types(ini: SongIni) -> list[str]:
    return [i.type for i in ini.issues]


# -- reading the fixtures --------------------------------------------------------------------


def test_it_reads_c3_ini_as_cp1252_with_crlf(fixtures):
    ini = SongIni.from_bytes(_read(fixtures, "charts/chorus/ini/c3.ini"))
    assert (ini.encoding, ini.bom, ini.newline, ini.section_name) == (
        "cp1252", False, "\r\n", "song")
    assert ini.get("charter") == "Tails4eva, Pablo_F\u00e9nix85"
    assert ini.get("artist") == "Ella Henderson"
    assert ini.get_int("diff_guitar") == 4
    assert ini.get_int("diff_drums") is None  # -1 means unset
    assert ini.get_int("album_track") == 1  # through the legacy "track" key
    assert ini.get_int("hopo_frequency") == 170
    assert ini.get_int("multiplier_note") == 116
    assert ini.get_int("preview_start_time") == 77000
    assert ini.items()[:3] == [("delay", "0"), ("multiplier_note", "116"),
                               ("artist", "Ella Henderson")]
    assert len(ini.items()) == 36
    assert ini.issues == []


def test_it_reads_utf16_le_with_bom(fixtures):
    ini = SongIni.from_bytes(_read(fixtures, "charts/chorus/ini/the-needle-lies.ini"))
    assert (ini.encoding, ini.bom, ini.newline) == ("utf-16-le", True, "\r\n")
    assert ini.get("artist") == "Queensr\u00ffche"
    assert ini.get("name") == "The Needle Lies (Live)"
    assert ini.get("album") == "Operation: LIVEcrime"
    assert ini.get_str("charter") == "Siavash"
    assert ini.get_bool("sysex_slider") is True
    assert ini.get_int("song_length") == 183293
    assert ini.issues == []


def test_it_splits_on_the_first_equals_sign(fixtures):
    ini = SongIni.from_bytes(_read(fixtures, "charts/chorus/ini/something-with-equal.ini"))
    assert ini.encoding == "utf-8" and ini.newline == "\n"
    assert ini.get("artist") == "Something=something"
    assert ini.get("name") == "BRING+EYES=DEAD+INVITE"
    assert ini.get("frets") == "I'm = eeee"
    assert ini.get("album") == "II=I"
    assert ini.get_str("charter") == "Siavash"  # charter wins over the legacy frets
    assert ini.issues == []


def test_it_reports_missing_values_like_scan_chart(fixtures):
    ini = SongIni.from_bytes(_read(fixtures, "charts/chorus/mids/song.ini"))
    assert ini.get("name") == "Untitled"
    assert ini.get_int("song_length") == 204521
    assert ini.get_int("diff_guitar_coop") is None
    # "Unknown Artist" is scan-chart's default, so it counts as missing.
    assert [(i.type, i.message) for i in ini.issues] == [
        ("missingValue", f'Metadata is missing the "{key}" property.')
        for key in ("artist", "album", "genre", "year", "charter")]


@pytest.mark.parametrize("name", INI_FIXTURES)
def test_an_unedited_file_round_trips_byte_for_byte(fixtures, name):
    data = _read(fixtures, name)
    assert SongIni.from_bytes(data).to_bytes() == data


@pytest.mark.parametrize("name", INI_FIXTURES)
def test_an_edit_changes_only_the_edited_line(fixtures, name):
    data = _read(fixtures, name)
    ini = SongIni.from_bytes(data)
    ini.set("NAME", "New Name \u00e9")  # any case finds the key
    after = ini.to_bytes()
    before_lines = _raw_lines(data, ini.encoding)
    after_lines = _raw_lines(after, ini.encoding)
    assert len(after_lines) == len(before_lines)
    changed = [i for i, (a, b) in enumerate(zip(before_lines, after_lines)) if a != b]
    assert len(changed) == 1
    assert after_lines[changed[0]].decode(ini.encoding) == f"name = New Name \u00e9{ini.newline}"
    assert SongIni.from_bytes(after).get("name") == "New Name \u00e9"


@pytest.mark.parametrize("name", INI_FIXTURES)
def test_a_new_key_goes_after_the_last_key_of_the_section(fixtures, name):
    data = _read(fixtures, name)
    ini = SongIni.from_bytes(data)
    last_key = ini.items()[-1][0]
    ini.set("sub_genre", "Hi")
    ini.set("pro_drums", True)
    ini.set("song_length", 5)  # present in every fixture: edited in place
    reread = SongIni.from_bytes(ini.to_bytes())
    keys = [k for k, _ in reread.items()]
    assert keys[-2:] == ["sub_genre", "pro_drums"]
    assert reread.get("pro_drums") == "True" and reread.get_bool("pro_drums") is True
    assert reread.get_int("song_length") == 5
    assert reread.encoding == ini.encoding and reread.bom == ini.bom
    assert keys.index(last_key) < keys.index("pro_drums")


def test_new_keys_go_before_trailing_comments(fixtures):
    ini = SongIni.from_bytes(_read(fixtures, "charts/chorus/ini/c3.ini"))
    ini.set("tags", "pop")
    text = ini.to_bytes().decode("cp1252")
    assert "diff_dance = -1\r\ntags = pop\r\n\r\n; Converted using" in text
    assert text.endswith("; www.customscreators.com\r\n")


def test_delete_removes_only_that_line(fixtures):
    data = _read(fixtures, "charts/chorus/ini/c3.ini")
    ini = SongIni.from_bytes(data)
    assert ini.delete("Icon") is True
    assert ini.delete("icon") is False
    assert ini.to_bytes() == data.replace(b"icon = ccc\r\n", b"")
    assert "icon" not in ini


def test_absent_keys_are_never_written(fixtures):
    data = _read(fixtures, "charts/chorus/ini/something-with-equal.ini")
    ini = SongIni.from_bytes(data)
    for key in KNOWN_KEYS:
        ini.typed(key)
    ini.issues  # noqa: B018 - reading must not write
    assert ini.to_bytes() == data


# -- syntax details --------------------------------------------------------------------------


def test_section_spellings_are_kept(fixtures):
    for spelling in ("song", "Song", "SONG"):
        data = f"[{spelling}]\nname = a\n".encode()
        ini = SongIni.from_bytes(data)
        assert (ini.section_name == spelling and ini.get("name") == "a"
                and ini.issues[0].type == "missingValue")
        ini.set("artist", "b")
        assert ini.to_bytes() == f"[{spelling}]\nname = a\nartist = b\n".encode()


def test_other_section_spellings_are_invalid_metadata():
    ini = SongIni.from_bytes(b"[sOnG]\nname = a\n")
    assert _types(ini) == ["invalidMetadata"]
    assert ini.get("name") is None


def test_keys_are_case_insensitive_but_keep_their_case():
    ini = SongIni.from_bytes(b"[song]\r\nNAME=a\r\n  Artist   =   b  \r\n")
    assert ini.get("name") == "a" and ini.get("ARTIST") == "b"
    ini.set("name", "x")
    ini.set("artist", "y")
    assert ini.to_bytes() == b"[song]\r\nNAME=x\r\n  Artist   =   y\r\n"
    assert ini.items() == [("NAME", "x"), ("Artist", "y")]
    assert ini.to_dict() == {"name": "x", "artist": "y"}


def test_comments_and_blank_lines_survive_and_trailing_comments_stay_in_values():
    data = b"; top\n# hash\n\n[song]\n; inside\nname = Foo ; bar\nhopo_frequency = 170 ; fast\n"
    ini = SongIni.from_bytes(data)
    assert not [i for i in ini.issues if i.type == "badIniLine"]
    assert ini.get("name") == "Foo ; bar"
    assert ini.get_int("hopo_frequency") == 170
    ini.set("name", "Baz")
    assert ini.to_bytes() == data.replace(b"Foo ; bar", b"Baz")


def test_duplicate_keys_first_wins_and_set_removes_the_others():
    data = b"[song]\nname = a\nartist = x\nNAME = b\n"
    ini = SongIni.from_bytes(data)
    assert ini.get("name") == "a"  # YARG reads the first; scan-chart would read "b"
    assert ini.items() == [("name", "a"), ("artist", "x")]
    ini.set("name", "c")
    assert ini.to_bytes() == b"[song]\nname = c\nartist = x\n"
    ini = SongIni.from_bytes(data)
    assert ini.delete("name") is True
    assert ini.to_bytes() == b"[song]\nartist = x\n"


def test_keys_outside_the_song_section_are_kept_but_not_read():
    data = b"orphan = 1\n[other]\nname = no\n[song]\nname = yes\n[more]\nx = 2\n"
    ini = SongIni.from_bytes(data)
    assert ini.get("name") == "yes" and ini.get("orphan") is None and ini.get("x") is None
    ini.set("artist", "a")
    assert ini.to_bytes() == data.replace(b"name = yes\n", b"name = yes\nartist = a\n")


def test_set_without_a_song_section_creates_one():
    ini = SongIni.from_bytes(b"; only a comment")
    ini.set("name", "a")
    assert ini.to_bytes() == b"; only a comment\r\n[song]\r\nname = a\r\n"


def test_set_in_an_empty_section_goes_right_after_the_header():
    ini = SongIni.from_bytes(b"[song]\n\n; end\n")
    assert _types(ini) == ["invalidMetadata"]  # a section without keys does not count
    ini.set("name", "a")
    assert ini.to_bytes() == b"[song]\nname = a\n\n; end\n"


def test_set_terminates_an_unterminated_last_line():
    ini = SongIni.from_bytes(b"[song]\nname = a")
    ini.set("artist", "b")
    assert ini.to_bytes() == b"[song]\nname = a\nartist = b\n"


def test_a_character_cp1252_cannot_hold_reencodes_the_file_as_utf8(fixtures):
    ini = SongIni.from_bytes(_read(fixtures, "charts/chorus/ini/c3.ini"))
    ini.set("name", "\u5e7d\u970a")
    data = ini.to_bytes()
    reread = SongIni.from_bytes(data)
    assert reread.encoding == "utf-8"
    assert reread.get("name") == "\u5e7d\u970a"
    assert reread.get("charter") == "Tails4eva, Pablo_F\u00e9nix85"


def test_set_rejects_keys_and_values_that_would_break_the_file():
    ini = SongIni.from_bytes(b"[song]\n")
    for key in ("", " name", "a=b", "[x", ";x", "#x", "a\nb"):
        with pytest.raises(ValueError):
            ini.set(key, "v")
    with pytest.raises(ValueError):
        ini.set("name", "two\nlines")
    with pytest.raises(TypeError):
        ini.set("name", None)  # type: ignore[arg-type]
    assert ini.to_bytes() == b"[song]\n"


# -- typed values and checks -----------------------------------------------------------------


def test_typed_accessors():
    ini = SongIni.from_bytes(
        b"[song]\nsong_length = 1000\ndelay = -1\npreview_start_time = 1.5\n"
        b"modchart = true\nlyrics = 0\npro_drums = TRUE\nfive_lane_drums = maybe\n"
        b"album_track = -1\ntrack = 7\nname = 0\nhopofreq = 2\nvideo_start_time = -500\n")
    assert ini.get_int("song_length") == 1000
    assert ini.get_int("delay") is None
    assert ini.get_float("preview_start_time") == 1.5
    assert ini.get_int("preview_start_time") == 2  # rounded half up, as scan-chart does
    assert ini.get_bool("modchart") is True and ini.get_bool("lyrics") is False
    assert ini.get_bool("pro_drums") is True and ini.get_bool("five_lane_drums") is None
    assert ini.get_int("album_track") == 7  # -1 falls back to the legacy key
    assert ini.get_int("hopo_frequency") == 2
    assert ini.get_str("name") is None  # "0" is unset for text, as in scan-chart
    assert ini.get_int("video_start_time") == -500
    assert ini.typed("modchart") is True and ini.typed("song_length") == 1000
    assert ini.typed("missing") is None


def test_invalid_values_are_reported():
    ini = SongIni.from_bytes(
        b"[song]\nname = a\nartist = b\nalbum = c\ngenre = d\nyear = 1\ncharter = e\n"
        b"song_length = 1.5\ndiff_guitar = hard\nmultiplier_note = 50\ndelay = 12 ; ms\n"
        b"pro_drums = True\nfive_lane_drums = 1\n")
    messages = [(i.type, i.message) for i in ini.issues]
    assert messages == [
        ("invalidValue", 'The "song_length" value in "song.ini" is "1.5", which is not an '
                         "integer."),
        ("invalidValue", 'The "diff_guitar" value in "song.ini" is "hard", which is not a '
                         "number."),
        ("invalidValue", 'The "multiplier_note" value in "song.ini" is "50", which is not a valid '
                         "value (0, 103 or 116)."),
        ("invalidValue", 'Metadata contains both the "pro_drums" and "five_lane_drums" '
                         "properties, which is not supported."),
    ]


def test_style_tags_do_not_hide_a_missing_value():
    ini = SongIni.from_bytes(b"[song]\nname = <b></b>\n"
                             b"artist = <color=#fff>Unknown Artist</color>\n"
                             b"album = a\ngenre = g\nyear = 1\nfrets = f\n")
    assert [i.message for i in ini.issues] == [
        'Metadata is missing the "name" property.', 'Metadata is missing the "artist" property.']


def test_bad_lines_are_reported_with_their_number_and_text():
    ini = SongIni.from_bytes(b"[song]\nname = a\nthis line has no equals\n[broken\n")
    bad = [i for i in ini.issues if i.type == "badIniLine"]
    assert len(bad) == 2
    assert "Line 3" in bad[0].message and '"this line has no equals"' in bad[0].message
    assert "Line 4" in bad[1].message and '"[broken"' in bad[1].message


def test_many_bad_lines_are_capped():
    ini = SongIni.from_bytes(b"[song]\n" + b"junk\n" * 25)
    bad = [i for i in ini.issues if i.type == "badIniLine"]
    assert len(bad) == 11 and "15 more lines" in bad[-1].message


@pytest.mark.parametrize("data", [
    b"",
    b"\x00" * 64,
    bytes(range(256)) * 4,
    b"\xff\xfe\x00",  # UTF-16 BOM with an odd byte
    b"\xfe\xff\x00[\x00s",
    b"\xef\xbb\xbf\xff\xfe[song]\nname = \x81\x8d\n",
    b"no section at all\nkey = value\n",
    b"[song\n=\n==\n[]\n[ ]\n",
])
def test_malformed_input_gives_issues_not_exceptions(data):
    ini = SongIni.from_bytes(data)
    assert ini.to_bytes() == data
    assert "invalidMetadata" in _types(ini) or ini.section_name is not None
    ini.set("name", "ok")
    assert SongIni.from_bytes(ini.to_bytes()).get("name") == "ok"


def test_random_garbage_never_raises():
    rng = random.Random(1234)
    for _ in range(200):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        if rng.random() < 0.5:
            data = b"[song]\n" + data
        ini = SongIni.from_bytes(data)
        ini.issues  # noqa: B018
        assert ini.to_bytes() == data


# -- building from a mapping -----------------------------------------------------------------


def test_from_mapping_writes_values_as_clone_hero_expects():
    ini = SongIni.from_mapping({"name": "Song", "pro_drums": True, "song_length": 1234,
                                "vocal_scroll_speed": 1.25, "modchart": False})
    assert ini.to_bytes() == (b"[song]\r\nname = Song\r\npro_drums = True\r\n"
                              b"song_length = 1234\r\n"
                              b"vocal_scroll_speed = 1.25\r\nmodchart = False\r\n")
    assert ini.items()[0] == ("name", "Song")
    reread = SongIni.from_bytes(ini.to_bytes())
    assert reread.items() == ini.items()


def test_from_mapping_keeps_order_and_rejects_unwritable_keys():
    ini = SongIni.from_mapping([("b", "1"), ("a", "2")], newline="\n")
    assert ini.to_bytes() == b"[song]\nb = 1\na = 2\n"
    with pytest.raises(ValueError):
        SongIni.from_mapping({"a=b": "1"})


@pytest.mark.parametrize(("value", "text"), [
    (True, "True"), (False, "False"), (3, "3"), (-1, "-1"), (1.0, "1.0"), (0.5, "0.5"),
    (1e-7, "0.0000001"), ("x", "x"),
])
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize(("text", "number"), [
    ("12", 12.0), (" -3.5x", -3.5), ("1e3", 1000.0), (".5", 0.5), ("abc", None), ("", None),
    ("170 ; comment", 170.0),
])
def test_parse_number_reads_the_leading_number_like_javascript(text, number):
    assert parse_number(text) == number
