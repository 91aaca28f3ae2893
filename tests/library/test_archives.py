"""content/library/archives.py: safe extraction of zip / 7z / rar and folder copies.

Every archive here is real: built in tmp_path at run time with zipfile / py7zr (hostile fields
patched into the bytes where the writers refuse them), or read in place from
fixtures/hostile/ (zbsm.zip and the RAR samples; their .rar.exp listings are the expected
values). Every refusal must name the archive file and leave nothing behind.
"""
from __future__ import annotations

import contextlib
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import py7zr
import pytest
import rarfile

from content.library import archives
from content.library.archives import (
    ArchiveError,
    ArchiveKind,
    ArchiveLimitError,
    ArchiveLimits,
    copy_folder,
    detect_kind,
    extract_archive,
)

MiB = 1024 * 1024


# ------------------------------------------------------------------------------------------
# helpers


def assert_clean(dest: Path) -> None:
    """Nothing left behind: dest is gone again (we created it) or still empty."""
    assert not dest.exists() or not any(dest.iterdir()), sorted(dest.rglob("*"))


def refused(archive: Path, dest: Path, limits: ArchiveLimits = archives.DEFAULT_LIMITS,
            **kwargs) -> ArchiveError:
    """Extract, expect a refusal that names the archive file, and check that dest is clean."""
    with pytest.raises(ArchiveError) as caught:
        extract_archive(archive, dest, limits, **kwargs)
    error = caught.value
    assert str(error).startswith(f"{kwargs.get('name', archive.name)}: "), str(error)
    assert_clean(dest)
    return error


def tree(root: Path) -> dict[str, bytes | None]:
    """Relative path -> bytes (None for a folder), for byte-identical comparisons."""
    return {p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


def snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def make_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]],
             method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def patch_single_entry_zip(path: Path, *, flags: int | None = None,
                           method: int | None = None) -> None:
    """Rewrite the general-purpose flags / method of a one-entry zip in both of its headers
    (zipfile's writer resets them, so hostile values must be patched in)."""
    data = bytearray(path.read_bytes())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    if flags is not None:
        struct.pack_into("<H", data, local + 6, flags)
        struct.pack_into("<H", data, central + 8, flags)
    if method is not None:
        struct.pack_into("<H", data, local + 8, method)
        struct.pack_into("<H", data, central + 10, method)
    path.write_bytes(bytes(data))


def make_7z(path: Path, members: list[tuple[str, bytes]], **options) -> Path:
    with py7zr.SevenZipFile(path, "w", **options) as archive:
        for name, data in members:
            # _writestr: the public writestr() refuses hostile names, which we need to build.
            archive._writestr(data, name)
    return path


def zeros_zip(path: Path, size: int, name: str = "zeros.bin") -> Path:
    """A plain deflate bomb: one entry of ``size`` zero bytes (about 1000:1)."""
    chunk = bytes(MiB)
    with (zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
          archive.open(name, "w") as out):
        for _ in range(size // MiB):
            out.write(chunk)
    return path


def song_folder(root: Path, fixtures: Path) -> Path:
    """A small pack of two songs as a user would have it on disk (binary, unicode, spaces)."""
    pack = root / "Pack"
    one = pack / "Artist - Song One"
    two = pack / "Björk – Jóga (live)"
    for folder in (one, two):
        folder.mkdir(parents=True)
    (one / "song.ini").write_text("[song]\nname = Song One\nartist = Artist\n", encoding="utf-8")
    (one / "notes.chart").write_bytes((fixtures / "charts/chartparse/test.chart").read_bytes())
    (one / "guitar.ogg").write_bytes(os.urandom(300_000))
    (one / "album.png").write_bytes(os.urandom(12_345))
    (two / "song.ini").write_bytes((fixtures / "charts/chorus/mids/song.ini").read_bytes())
    (two / "notes.mid").write_bytes((fixtures / "charts/chorus/mids/lol.mid").read_bytes())
    (two / "empty.txt").write_bytes(b"")
    return pack


def zip_folder(folder: Path, path: Path, extra: list[tuple[str, bytes]] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.parent.rglob("*")):
            archive.write(item, item.relative_to(folder.parent).as_posix())
        for name, data in extra:
            archive.writestr(name, data)
    return path


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """A staging folder that does not exist yet (as imports.py passes it)."""
    return tmp_path / "scratch" / "archive"


@pytest.fixture(autouse=True)
def _scratch(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()


@pytest.fixture(scope="module")
def bomb_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 200 MB entry of zeros, about 200 KB compressed (built once for the module)."""
    return zeros_zip(tmp_path_factory.mktemp("bomb") / "bomb.zip", 200 * MiB)


@pytest.fixture(scope="module")
def bomb_7z(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bomb7z") / "bomb.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(bytes(32 * MiB), "zeros.bin")
    return path


# ------------------------------------------------------------------------------------------
# type detection


def test_detect_kind_by_magic_bytes(tmp_path: Path, fixtures: Path) -> None:
    zip_path = make_zip(tmp_path / "a.zip", [("a.txt", b"a")])
    seven = make_7z(tmp_path / "a.7z", [("a.txt", b"a")])
    sng = tmp_path / "song.sng"
    sng.write_bytes(b"SNGPKG\x01\x00\x00\x00" + bytes(40))
    assert detect_kind(zip_path) is ArchiveKind.ZIP
    assert detect_kind(seven) is ArchiveKind.SEVEN_ZIP
    assert detect_kind(fixtures / "hostile/rar/rar3-subdirs.rar") is ArchiveKind.RAR
    assert detect_kind(fixtures / "hostile/rar/rar5-solid.rar") is ArchiveKind.RAR
    assert detect_kind(sng) == "sng"  # the caller compares with the plain string
    # A temporary upload name has no meaningful extension: the content decides.
    assert detect_kind(zip_path.rename(tmp_path / "upload.tmp")) is ArchiveKind.ZIP


def test_unknown_content_is_refused_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"just some text")
    with pytest.raises(ArchiveError, match=r"^notes\.txt: .*unrecognised content"):
        detect_kind(path)
    empty = tmp_path / "empty.zip"
    empty.write_bytes(b"")
    with pytest.raises(ArchiveError, match=r"^empty\.zip: is empty"):
        detect_kind(empty)


def test_extension_is_a_cross_check(tmp_path: Path, dest: Path) -> None:
    fake = make_zip(tmp_path / "pack.rar", [("a.txt", b"a")])
    error = refused(fake, dest)
    assert "named .rar but its content is a zip" in str(error)
    # The upload's original name (not the temp file's) is what is checked and shown.
    temp = make_zip(tmp_path / "upload-1234.part", [("a.txt", b"a")])
    error = refused(temp, dest, name="songs.7z")
    assert "songs.7z" in str(error) and "upload-1234" not in str(error)


def test_sng_is_named_not_extracted(tmp_path: Path, dest: Path) -> None:
    sng = tmp_path / "Artist - Song.sng"
    sng.write_bytes(b"SNGPKG" + bytes(64))
    error = refused(sng, dest)
    assert ".sng song file, not an archive" in str(error)


def test_split_zip_part_is_multi_volume(tmp_path: Path, dest: Path) -> None:
    part = tmp_path / "pack.z01"
    part.write_bytes(b"PK\x07\x08" + make_zip(tmp_path / "x.zip", [("a", b"a")]).read_bytes())
    assert "multi-volume archive" in str(refused(part, dest))


# ------------------------------------------------------------------------------------------
# zip: hostile names, types, flags


@pytest.mark.parametrize(("name", "reason"), [
    ("../evil.txt", "path traversal"),
    ("/abs.txt", "absolute path"),
    ("C:\\x.txt", "drive letter"),
    ("a\\..\\..\\b.txt", "path traversal"),
    ("songs/../../b.txt", "path traversal"),
    ("\\\\server\\share\\x.txt", "UNC"),
    ("ctl\x01.txt", "control character"),
    ("song/NUL.ogg", "reserved Windows device name"),
    ("song./notes.chart", "ends with a dot or a space"),
    ("song /notes.chart", "ends with a dot or a space"),
])
def test_zip_hostile_names_refuse_the_whole_archive(tmp_path: Path, dest: Path, name: str,
                                                    reason: str) -> None:
    archive = make_zip(tmp_path / "evil.zip", [("good/first.txt", b"written first?"),
                                              (name, b"evil")])
    error = refused(archive, dest)
    assert reason in str(error)
    assert repr(name) in str(error)  # the offending entry, shown unambiguously
    assert error.archive == "evil.zip" and error.entry == name
    # Nothing anywhere: not the good entry, not the evil one next to or above dest.
    assert snapshot(tmp_path) == {"evil.zip", "scratch"}


def test_zip_nul_in_name_is_refused(tmp_path: Path, dest: Path) -> None:
    # zipfile cuts ZipInfo.filename at a NUL ("a\x00b.txt" reads as "a"): patch one in and make
    # sure the check looks at the name the archive really holds.
    archive = make_zip(tmp_path / "nul.zip", [("aXb.txt", b"x")])
    archive.write_bytes(archive.read_bytes().replace(b"aXb.txt", b"a\x00b.txt"))
    assert "U+0000" in str(refused(archive, dest))


def test_zip_symlink_entry_is_refused(tmp_path: Path, dest: Path) -> None:
    link = zipfile.ZipInfo("song/link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(tmp_path / "link.zip", [("song/notes.chart", b"x"),
                                              (link, b"../../etc/passwd")])
    error = refused(archive, dest)
    assert "symbolic link" in str(error) and "'song/link'" in str(error)


def test_zip_fifo_and_device_entries_are_refused(tmp_path: Path, dest: Path) -> None:
    for kind, word in ((stat.S_IFIFO, "FIFO"), (stat.S_IFCHR, "character device")):
        special = zipfile.ZipInfo("song/special")
        special.create_system = 3
        special.external_attr = (kind | 0o644) << 16
        archive = make_zip(tmp_path / f"special{kind}.zip", [(special, b"")])
        assert word in str(refused(archive, dest))


def test_links_are_refused_even_where_entries_would_be_skipped(tmp_path: Path, dest: Path) -> None:
    link = zipfile.ZipInfo("__MACOSX/link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip(tmp_path / "mac.zip", [("song/a.txt", b"a"), (link, b"/")])
    assert "symbolic link" in str(refused(archive, dest))


def test_encrypted_zip_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "secret.zip", [("song/notes.chart", b"x" * 100)],
                       zipfile.ZIP_STORED)
    patch_single_entry_zip(archive, flags=0x0001)
    with zipfile.ZipFile(archive) as check:  # the flag really is what zipfile sees
        assert check.infolist()[0].flag_bits & 1
    assert "encrypted archive" in str(refused(archive, dest))


def test_unsupported_zip_method_is_refused(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "d64.zip", [("song/notes.chart", b"x" * 100)],
                       zipfile.ZIP_STORED)
    patch_single_entry_zip(archive, method=9)
    assert "unsupported compression method 9 (Deflate64)" in str(refused(archive, dest))


def test_zip_entry_on_another_disk_is_multi_volume(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "split.zip", [("song/notes.chart", b"x")])
    data = bytearray(archive.read_bytes())
    struct.pack_into("<H", data, data.index(b"PK\x01\x02") + 34, 1)  # "disk number start"
    archive.write_bytes(bytes(data))
    assert "multi-volume archive" in str(refused(archive, dest))


def test_too_many_entries(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "many.zip", [(f"song/{i}.txt", b"x") for i in range(6)])
    error = refused(archive, dest, ArchiveLimits(max_entries=5))
    assert isinstance(error, ArchiveLimitError) and error.limit == 5
    assert "6 entries, over the limit of 5" in str(error)
    assert len(extract_archive(archive, dest, ArchiveLimits(max_entries=6)).files) == 6


@pytest.mark.parametrize(("names", "words"), [
    (["Song/notes.chart", "song/song.ini"], "differ only in letter case"),
    (["song/a.ogg", "song/A.OGG"], "collides with"),
    (["song/caf\u00e9.ogg", "song/cafe\u0301.ogg"], "collides with"),  # NFC vs NFD
    (["song", "song/notes.chart"], "that is a file"),
    (["song/x/notes.chart", "song/X"], "as a folder"),
    (["song/a.ogg", "song/a.ogg"], "collides with"),
])
def test_collisions_are_refused(tmp_path: Path, dest: Path, names: list[str], words: str) -> None:
    duplicate = len(set(names)) < len(names)  # zipfile warns when writing a duplicate name
    with pytest.warns(UserWarning) if duplicate else contextlib.nullcontext():
        archive = make_zip(tmp_path / "twins.zip", [(n, b"data") for n in names])
    assert words in str(refused(archive, dest))


def test_depth_and_name_length_caps(tmp_path: Path, dest: Path) -> None:
    deep = make_zip(tmp_path / "deep.zip", [("a/b/c/d.txt", b"x")])
    assert "4 levels deep, over the limit of 3" in str(
        refused(deep, dest, ArchiveLimits(max_depth=3)))
    long_part = make_zip(tmp_path / "long.zip",
                         [("song/" + "é" * 128 + ".ogg", b"x")])  # 260 bytes
    assert "longer than 255 bytes" in str(refused(long_part, dest))
    long_path = make_zip(tmp_path / "path.zip", [("song/" + "x" * 30 + "/a.ogg", b"x")])
    assert "longer than 20 bytes" in str(
        refused(long_path, dest, ArchiveLimits(max_path_bytes=20)))


def test_macos_junk_and_dot_files_are_skipped(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "mac.zip", [
        ("Song/notes.chart", b"chart"),
        ("__MACOSX/Song/._notes.chart", b"fork"),
        ("Song/.DS_Store", b"junk"),
        (".git/config", b"[core]"),
    ])
    result = extract_archive(archive, dest)
    assert tree(dest) == {"Song": None, "Song/notes.chart": b"chart"}
    assert result.skipped == ("__MACOSX/Song/._notes.chart", "Song/.DS_Store", ".git/config")
    assert result.files == (dest.absolute() / "Song/notes.chart",)
    assert result.bytes_written == 5


def test_backslash_separators_and_dot_components_are_normalised(tmp_path: Path,
                                                                dest: Path) -> None:
    archive = make_zip(tmp_path / "win.zip", [("Pack\\Song\\notes.chart", b"c"),
                                              ("./Pack//Song/song.ini", b"i")])
    extract_archive(archive, dest)
    assert tree(dest) == {"Pack": None, "Pack/Song": None, "Pack/Song/notes.chart": b"c",
                          "Pack/Song/song.ini": b"i"}


# ------------------------------------------------------------------------------------------
# zip: bombs


def test_zbsm_overlapping_bomb_is_refused(fixtures: Path, dest: Path) -> None:
    # With the default caps its declared 5.46 GB is refused before anything is written...
    error = refused(fixtures / "hostile/zbsm.zip", dest)
    assert isinstance(error, ArchiveLimitError) and "declares" in str(error)


def test_zbsm_overlap_is_refused_even_under_generous_caps(fixtures: Path, dest: Path) -> None:
    # ...and with caps that let its declared sizes through, zipfile's "Overlapped entries"
    # (CVE-2024-0450) becomes an ArchiveError too.
    generous = ArchiveLimits(max_total_bytes=8 * 1024**3, total_ratio=None)
    error = refused(fixtures / "hostile/zbsm.zip", dest, generous)
    assert "overlap" in str(error) and "zip bomb" in str(error)


def test_bomb_refused_from_declared_sizes(bomb_zip: Path, dest: Path) -> None:
    error = refused(bomb_zip, dest, ArchiveLimits(max_total_bytes=10 * MiB))
    assert isinstance(error, ArchiveLimitError)
    assert "declares 209,715,200 bytes unpacked" in str(error)
    # The default ratio rule alone (4 x 200 KB + 256 MiB) lets 200 MB through: real packs may be.
    assert archives.DEFAULT_LIMITS.total_cap(bomb_zip.stat().st_size) > 200 * MiB


def test_byte_budget_stops_a_bomb_on_its_own(bomb_zip: Path, dest: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Headers can lie: switch the declared-size check off and the counting writer must stop
    # the 200 MB entry at the 10 MiB cap, having written no more than the cap.
    monkeypatch.setattr(archives, "_check_declared_sizes", lambda job, entries: None)
    cap = 10 * MiB
    error = refused(bomb_zip, dest, ArchiveLimits(max_total_bytes=cap))
    assert isinstance(error, ArchiveLimitError) and error.limit == cap
    assert cap - MiB <= error.written <= cap  # it wrote up to the cap, then stopped
    assert "stopped after writing" in str(error) and "'zeros.bin'" in str(error)


def test_per_entry_cap_stops_a_bomb_on_its_own(bomb_zip: Path, dest: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "_check_declared_sizes", lambda job, entries: None)
    error = refused(bomb_zip, dest, ArchiveLimits(max_entry_bytes=3 * MiB))
    assert isinstance(error, ArchiveLimitError) and error.limit == 3 * MiB
    assert "per-entry limit" in str(error) and error.written <= 3 * MiB


def test_nested_archive_is_a_plain_file(tmp_path: Path, dest: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", [("Song/notes.chart", b"inner chart")]).read_bytes()
    outer = make_zip(tmp_path / "outer.zip", [("Pack/inner.zip", inner),
                                              ("Pack/readme.txt", b"hi")])
    result = extract_archive(outer, dest)
    assert tree(dest) == {"Pack": None, "Pack/inner.zip": inner, "Pack/readme.txt": b"hi"}
    assert len(result.files) == 2


# ------------------------------------------------------------------------------------------
# 7z


@pytest.mark.parametrize(("name", "reason"), [
    ("../evil.txt", "path traversal"),
    ("/abs.txt", "absolute path"),
    ("C:\\x.txt", "drive letter"),
    ("a\\..\\..\\b.txt", "path traversal"),
])
def test_7z_hostile_names_are_refused(tmp_path: Path, dest: Path, name: str, reason: str) -> None:
    archive = make_7z(tmp_path / "evil.7z", [("good/first.txt", b"first"), (name, b"evil")])
    error = refused(archive, dest)
    assert reason in str(error)
    assert snapshot(tmp_path) == {"evil.7z", "scratch"}


def test_7z_symlink_is_refused(tmp_path: Path, dest: Path) -> None:
    src = tmp_path / "src"
    (src / "song").mkdir(parents=True)
    (src / "song/notes.chart").write_bytes(b"chart")
    # py7zr only archives links whose target exists; the refusal does not depend on the target.
    (src / "song/link").symlink_to("notes.chart")
    archive = tmp_path / "link.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        out.writeall(src / "song", "song")
    assert "symbolic link" in str(refused(archive, dest))


@pytest.mark.parametrize("header_encryption", [False, True])
def test_encrypted_7z_is_refused(tmp_path: Path, dest: Path, header_encryption: bool) -> None:
    archive = tmp_path / "secret.7z"
    with py7zr.SevenZipFile(archive, "w", password="pw",
                            header_encryption=header_encryption) as out:
        out.writestr(b"chart", "song/notes.chart")
    assert "encrypted archive" in str(refused(archive, dest))


def test_7z_bomb_refused_from_declared_sizes(bomb_7z: Path, dest: Path) -> None:
    error = refused(bomb_7z, dest, ArchiveLimits(max_total_bytes=4 * MiB))
    assert isinstance(error, ArchiveLimitError) and "declares" in str(error)


def test_7z_byte_budget_stops_a_bomb_on_its_own(bomb_7z: Path, dest: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archives, "_check_declared_sizes", lambda job, entries: None)
    cap = 4 * MiB
    error = refused(bomb_7z, dest, ArchiveLimits(max_total_bytes=cap))
    assert isinstance(error, ArchiveLimitError) and error.limit == cap
    assert error.written <= cap


def test_7z_skips_junk_and_keeps_empty_folders(tmp_path: Path, dest: Path) -> None:
    src = tmp_path / "src"
    (src / "Song/empty").mkdir(parents=True)
    (src / "Song/notes.chart").write_bytes(b"chart")
    (src / "Song/.DS_Store").write_bytes(b"junk")
    archive = tmp_path / "song.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        out.writeall(src / "Song", "Song")
    result = extract_archive(archive, dest)
    assert tree(dest) == {"Song": None, "Song/empty": None, "Song/notes.chart": b"chart"}
    assert result.skipped == ("Song/.DS_Store",)


# ------------------------------------------------------------------------------------------
# good archives of a song pack: byte-identical


def test_good_zip_of_a_song_pack_is_byte_identical(tmp_path: Path, dest: Path,
                                                   fixtures: Path) -> None:
    pack = song_folder(tmp_path / "src", fixtures)
    archive = zip_folder(pack, tmp_path / "pack.zip",
                         extra=[("__MACOSX/Pack/._song.ini", b"fork")])
    result = extract_archive(archive, dest)
    assert tree(dest) == tree(pack.parent)
    assert result.kind is ArchiveKind.ZIP
    assert sorted(result.files) == sorted(p.absolute() for p in dest.rglob("*") if p.is_file())
    assert result.bytes_written == sum(p.stat().st_size for p in pack.rglob("*") if p.is_file())
    assert result.skipped == ("__MACOSX/Pack/._song.ini",)


def test_good_7z_of_a_song_pack_is_byte_identical(tmp_path: Path, dest: Path,
                                                  fixtures: Path) -> None:
    pack = song_folder(tmp_path / "src", fixtures)
    archive = tmp_path / "pack.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        out.writeall(pack, "Pack")
    result = extract_archive(archive, dest)
    assert tree(dest) == tree(pack.parent)
    assert result.kind is ArchiveKind.SEVEN_ZIP and len(result.files) == 7


# ------------------------------------------------------------------------------------------
# rar (fixtures/hostile/rar, read in place)

RAR = "hostile/rar"


def rar_expected(exp: Path) -> tuple[dict[str, tuple[int, int]], set[str]]:
    """Files {name: (size, crc32)} and folder names from rarfile's .rar.exp header dump."""
    files: dict[str, tuple[int, int]] = {}
    folders: set[str] = set()
    for block in re.split(r"^(?:R5_)?FILE:", exp.read_text(encoding="utf-8"), flags=re.M)[1:]:
        kind = re.search(r"\bis=(\S+)", block).group(1)
        name = re.search(r"^\s*name=(.*)$", block, re.M).group(1)
        if kind[0] == "F":
            size = int(re.search(r"\bdec=(\d+)", block).group(1))
            crc = int(re.search(r"\bcrc=0x([0-9a-f]+)", block).group(1), 16)
            files[name] = (size, crc)
        elif kind[1] == "D":
            folders.add(name.rstrip("/"))
    return files, folders


@pytest.mark.parametrize("sample", ["rar3-subdirs", "rar5-subdirs", "rar5-solid"])
def test_ordinary_rar_extracts_like_its_listing(fixtures: Path, dest: Path, sample: str) -> None:
    files, folders = rar_expected(fixtures / RAR / f"{sample}.rar.exp")
    result = extract_archive(fixtures / RAR / f"{sample}.rar", dest)
    got_files = {p.relative_to(dest).as_posix(): (p.stat().st_size, zlib.crc32(p.read_bytes()))
                 for p in dest.rglob("*") if p.is_file()}
    got_folders = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_dir()}
    assert got_files == files  # names (unicode, spaces), sizes and contents (CRC)
    assert folders <= got_folders  # explicit folders, the empty one included
    assert (result.kind is ArchiveKind.RAR
            and result.bytes_written == sum(s for s, _ in files.values()))


def test_rar_uses_unar_whatever_was_configured_before(fixtures: Path, dest: Path) -> None:
    # bsdtar (libarchive 3.6.2) cannot read rar5-solid: if our explicit configuration did not
    # win over a previous one, this extraction would fail.
    try:
        rarfile.tool_setup(unrar=False, unar=False, bsdtar=True, sevenzip=False, sevenzip2=False,
                           force=True)
    except rarfile.RarCannotExec:
        pytest.skip("bsdtar is not installed")
    extract_archive(fixtures / RAR / "rar5-solid.rar", dest)
    assert rarfile.CURRENT_SETUP.setup is rarfile.UNAR_CONFIG


@pytest.mark.parametrize(("sample", "entry", "words"), [
    ("rar3-symlink-unix", "data_link", "symbolic link"),
    ("rar5-symlink-unix", "data_link", "Unix symbolic link to 'data.txt'"),
    ("rar5-symlink-win", "links/bad_link", "Windows symbolic link to '../../missing'"),
    ("rar5-hlink", "stest2.txt", "hard link to 'stest1.txt'"),
    ("rar5-evil-symlink-traversal", "up", "Unix symbolic link to '..'"),
])
def test_rar_links_are_refused(fixtures: Path, tmp_path: Path, sample: str, entry: str,
                               words: str) -> None:
    # dest sits deep so that "up -> .." then "up/pwned.txt" would land visibly inside tmp_path.
    dest = tmp_path / "scratch" / "job" / "archive"
    dest.parent.mkdir()
    before = snapshot(tmp_path)
    error = refused(fixtures / RAR / f"{sample}.rar", dest)
    assert words in str(error) and error.entry == entry
    assert "links are never extracted" in str(error)
    assert snapshot(tmp_path) == before  # nothing written anywhere, inside or outside dest
    assert not list(tmp_path.rglob("pwned.txt"))


def test_multi_volume_rar_is_refused(fixtures: Path, tmp_path: Path, dest: Path) -> None:
    # rar3-subdirs with the main header's "volume" flag set (header CRC16 recomputed): rarfile
    # would go looking for the next part beside the upload; we stop at the main header.
    data = bytearray((fixtures / RAR / "rar3-subdirs.rar").read_bytes())
    _crc, kind, flags, size = struct.unpack_from("<HBHH", data, 7)
    assert kind == 0x73  # the main header follows the 7-byte marker
    struct.pack_into("<H", data, 10, flags | 0x0001)
    struct.pack_into("<H", data, 7, zlib.crc32(data[9:7 + size]) & 0xFFFF)
    part = tmp_path / "pack.part1.rar"
    part.write_bytes(bytes(data))
    assert "multi-volume archive" in str(refused(part, dest))


@pytest.mark.parametrize("sample", ["rar5-psw", "rar5-hpsw"])
def test_encrypted_rar_is_refused(fixtures: Path, dest: Path, sample: str) -> None:
    error = refused(fixtures / RAR / f"{sample}.rar", dest)
    assert "encrypted archive" in str(error)


# ------------------------------------------------------------------------------------------
# staging folder contract


def test_dest_must_be_empty(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", [("a.txt", b"a")])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "old.txt").write_bytes(b"old")
    with pytest.raises(ValueError, match="not empty"):
        extract_archive(archive, busy)
    assert tree(busy) == {"old.txt": b"old"}


def test_dest_must_not_be_a_symlink(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", [("a.txt", b"a")])
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with pytest.raises(ValueError, match="symbolic link"):
        extract_archive(archive, tmp_path / "alias")
    assert not any((tmp_path / "real").iterdir())


def test_existing_empty_dest_stays_after_failure(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    archive = make_zip(tmp_path / "evil.zip", [("ok/a.txt", b"a"), ("../b.txt", b"b")])
    refused(archive, staging)
    assert staging.is_dir()


def test_failure_after_writing_removes_what_was_written(tmp_path: Path, dest: Path) -> None:
    # A CRC error on the third entry: the first two were already on disk and must go again.
    archive = make_zip(tmp_path / "crc.zip",
                       [("s/a.txt", b"a" * 10), ("s/b.txt", b"b" * 10),
                        ("s/c.txt", b"PAYLOAD-TO-CORRUPT")], zipfile.ZIP_STORED)
    archive.write_bytes(archive.read_bytes().replace(b"PAYLOAD-TO-CORRUPT", b"PAYLOAD-CORRUPTED!"))
    error = refused(archive, dest)
    assert "'s/c.txt'" in str(error) and "damaged" in str(error)


# ------------------------------------------------------------------------------------------
# folders


def test_copy_folder_is_byte_identical(tmp_path: Path, dest: Path, fixtures: Path) -> None:
    pack = song_folder(tmp_path / "src", fixtures)
    (pack / ".DS_Store").write_bytes(b"junk")
    (pack / ".git").mkdir()
    (pack / ".git/config").write_bytes(b"[core]")
    result = copy_folder(pack, dest)
    expected = {k: v for k, v in tree(pack).items() if not k.startswith(".")}
    assert tree(dest) == expected
    assert result.kind is None and set(result.skipped) == {".DS_Store", ".git"}


@pytest.mark.parametrize("make", ["file-link", "dir-link", "hard-link", "fifo"])
def test_copy_folder_refuses_links_and_special_files(tmp_path: Path, dest: Path,
                                                     make: str) -> None:
    pack = tmp_path / "pack"
    (pack / "Song").mkdir(parents=True)
    (pack / "Song/notes.chart").write_bytes(b"chart")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"secret")
    if make == "file-link":
        (pack / "Song/guitar.ogg").symlink_to(secret)
        words = "symbolic link"
    elif make == "dir-link":
        (pack / "Song/more").symlink_to(tmp_path, target_is_directory=True)
        words = "symbolic link"
    elif make == "hard-link":
        os.link(secret, pack / "Song/guitar.ogg")
        words = "hard link"
    else:
        os.mkfifo(pack / "Song/guitar.ogg")
        words = "FIFO"
    with pytest.raises(ArchiveError, match=r"^pack: ") as caught:
        copy_folder(pack, dest)
    assert words in str(caught.value) and "Song/" in str(caught.value)
    assert_clean(dest)


def test_copy_folder_refuses_a_symlinked_root(tmp_path: Path, dest: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real/a.txt").write_bytes(b"a")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    with pytest.raises(ArchiveError, match=r"^alias: is a symbolic link"):
        copy_folder(tmp_path / "alias", dest)


def test_copy_folder_caps(tmp_path: Path, dest: Path) -> None:
    pack = tmp_path / "pack"
    (pack / "a/b/c").mkdir(parents=True)
    (pack / "a/b/c/deep.txt").write_bytes(b"x" * 2000)
    with pytest.raises(ArchiveError, match="over the limit of 3"):
        copy_folder(pack, dest, ArchiveLimits(max_depth=3))
    assert_clean(dest)
    with pytest.raises(ArchiveLimitError,
                       match="holds 2,000 bytes, over the limit of 1,000 bytes"):
        copy_folder(pack, dest, ArchiveLimits(max_total_bytes=1000))
    assert_clean(dest)
    # The copy itself is counted too, not only the sizes seen while listing.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(archives, "_check_declared_sizes", lambda job, entries: None)
        with pytest.raises(ArchiveLimitError, match="stopped after copying") as caught:
            copy_folder(pack, dest, ArchiveLimits(max_total_bytes=1000))
    assert caught.value.written <= 1000
    assert_clean(dest)
    with pytest.raises(ArchiveLimitError, match="more than 3 entries"):
        copy_folder(pack, dest, ArchiveLimits(max_entries=3))
    assert_clean(dest)


# ------------------------------------------------------------------------------------------
# limits


def test_limits_defaults_follow_reliability_section_1_6() -> None:
    limits = ArchiveLimits()
    assert (limits.max_entries, limits.max_entry_bytes, limits.max_depth) == (10_000, 1024**3, 8)
    assert (limits.max_component_bytes, limits.max_path_bytes) == (255, 1024)
    assert limits.total_cap(100 * MiB) == 4 * 100 * MiB + 256 * MiB
    assert limits.total_cap(4 * 1024**3) == 8 * 1024**3  # min(8 GiB, ...)
    assert limits.total_cap(None) == 8 * 1024**3
    with pytest.raises(ValueError):
        ArchiveLimits(max_entries=-1)


def test_error_message_shape() -> None:
    # imports.py raises its own ArchiveError("<file>: <reason>") with a single message.
    plain = ArchiveError("pack.zip: no song folder")
    assert str(plain) == "pack.zip: no song folder" and plain.reason == str(plain)
