"""The .sng container: writing, index-only reads, unmasking, and refusing malformed files."""
from __future__ import annotations

import io
import random
import struct

import pytest

from content.formats.sng import (
    CHUNK_BYTES,
    SngError,
    check_file_name,
    iter_sng_file,
    local_range_reader,
    read_sng_file,
    read_sng_index,
    read_sng_index_path,
    write_sng,
    write_sng_path,
)

MASK = bytes(range(7, 23))
CHART = "charts/chartparse/test.chart"
MIDI = "charts/yarg-core/test.mid"


def _reader(data: bytes, log: list[tuple[int, int]] | None = None):
    def read_range(offset: int, length: int) -> bytes:
        if log is not None:
            log.append((offset, length))
        return data[offset:offset + length]
    return read_range


def _pack(metadata=(), entries=(), data=b"", *, magic=b"SNGPKG", version=1, mask=MASK,
          meta_len=None, meta_count=None, index_len=None, index_count=None, data_len=None):
    """A .sng built by hand so each field can be made wrong (entries: name, size, offset)."""
    meta = b"".join(struct.pack("<i", len(k)) + k + struct.pack("<i", len(v)) + v
                    for k, v in metadata)
    meta = struct.pack("<Q", len(metadata) if meta_count is None else meta_count) + meta
    index = b"".join(bytes([len(n)]) + n + struct.pack("<QQ", s, o) for n, s, o in entries)
    index = struct.pack("<Q", len(entries) if index_count is None else index_count) + index
    return (magic + struct.pack("<I", version) + mask
            + struct.pack("<Q", len(meta) if meta_len is None else meta_len) + meta
            + struct.pack("<Q", len(index) if index_len is None else index_len) + index
            + struct.pack("<Q", len(data) if data_len is None else data_len) + data)


def _data_start(metadata=(), entries=()) -> int:
    return len(_pack(metadata, entries))


def _naive_unmask(data: bytes, mask: bytes) -> bytes:
    # The spec's pseudo code, byte by byte.
    return bytes(b ^ (mask[i % 16] ^ (i & 0xFF)) for i, b in enumerate(data))


@pytest.fixture
def song_sng(tmp_path, fixtures):
    """A .sng with a real chart, a real MIDI (as "song.ogg"), zero-filled audio and metadata."""
    audio = tmp_path / "drums.opus"
    audio.write_bytes(bytes(3000))
    path = tmp_path / "song.sng"
    size = write_sng_path(
        {"name": "Test", "artist": "Someone", "song_length": 1234, "pro_drums": True,
         "loading_phrase": "a=b; c"},
        {"notes.chart": fixtures / CHART, "song.ogg": fixtures / MIDI, "drums.opus": audio,
         "album.png": b"\x89PNG fake"},
        path, xor_mask=MASK)
    assert size == path.stat().st_size
    return path


def test_it_reads_back_what_it_wrote(song_sng, fixtures):
    index = read_sng_index_path(song_sng)
    assert index.version == 1 and index.xor_mask == MASK
    assert index.metadata == {"name": "Test", "artist": "Someone", "song_length": "1234",
                              "pro_drums": "True", "loading_phrase": "a=b; c"}
    assert [(e.name, e.size) for e in index.files] == [
        ("notes.chart", (fixtures / CHART).stat().st_size),
        ("song.ogg", (fixtures / MIDI).stat().st_size),
        ("drums.opus", 3000), ("album.png", 9)]
    with local_range_reader(song_sng) as (read_range, size):
        assert size == index.size
        assert read_sng_file(index, "notes.chart", read_range) == (fixtures / CHART).read_bytes()
        assert read_sng_file(index, index.files[1], read_range) == (fixtures / MIDI).read_bytes()
        assert read_sng_file(index, "drums.opus", read_range) == bytes(3000)
        assert read_sng_file(index, "ALBUM.PNG", read_range) == b"\x89PNG fake"
        chunks = list(iter_sng_file(index, "song.ogg", read_range, chunk_bytes=1000))
        assert b"".join(chunks) == (fixtures / MIDI).read_bytes()
        assert max(len(c) for c in chunks) == 1000


def test_stored_bytes_are_masked_as_the_spec_says(song_sng, fixtures):
    raw = song_sng.read_bytes()
    entry = read_sng_index_path(song_sng).entry("song.ogg")
    stored = raw[entry.offset:entry.offset + entry.size]
    assert stored != (fixtures / MIDI).read_bytes()
    assert _naive_unmask(stored, MASK) == (fixtures / MIDI).read_bytes()


def test_reading_the_index_never_touches_file_data(song_sng):
    raw = song_sng.read_bytes()
    log: list[tuple[int, int]] = []
    index = read_sng_index(_reader(raw, log), len(raw))
    first_data = min(e.offset for e in index.files)
    assert len(log) == 3
    assert all(offset + length <= first_data for offset, length in log)
    log.clear()
    read_sng_file(index, "notes.chart", _reader(raw, log))
    entry = index.entry("notes.chart")
    assert log == [(entry.offset, entry.size)]


def test_large_files_are_streamed_in_chunks(tmp_path):
    big = tmp_path / "song.ogg"
    payload = random.Random(5).randbytes(2 * CHUNK_BYTES + 777)
    big.write_bytes(payload)
    out = io.BytesIO()
    write_sng({"name": "x"}, {"song.ogg": big}, out, xor_mask=MASK)
    raw = out.getvalue()
    index = read_sng_index(_reader(raw), len(raw))
    chunks = list(iter_sng_file(index, "song.ogg", _reader(raw)))
    assert [len(c) for c in chunks] == [CHUNK_BYTES, CHUNK_BYTES, 777]
    assert b"".join(chunks) == payload


def test_an_empty_sng_is_valid():
    out = io.BytesIO()
    write_sng({}, {}, out)
    raw = out.getvalue()
    index = read_sng_index(_reader(raw), len(raw))
    assert index.metadata == {} and index.files == ()


def test_empty_inner_files_are_allowed():
    raw = _pack(entries=[(b"a.txt", 0, _data_start(entries=[(b"a.txt", 0, 0)]))])
    index = read_sng_index(_reader(raw), len(raw))
    assert read_sng_file(index, "a.txt", _reader(raw)) == b""


def test_a_default_mask_is_random(fixtures):
    a, b = io.BytesIO(), io.BytesIO()
    write_sng({}, {"notes.chart": fixtures / CHART}, a)
    write_sng({}, {"notes.chart": fixtures / CHART}, b)
    assert a.getvalue()[10:26] != b.getvalue()[10:26]


# -- malformed files -------------------------------------------------------------------------


def test_every_truncation_is_refused_with_a_message(song_sng):
    raw = song_sng.read_bytes()
    index_end = min(e.offset for e in read_sng_index_path(song_sng).files)
    for cut in list(range(0, index_end + 1)) + [len(raw) - 1, len(raw) - 1000]:
        with pytest.raises(SngError) as caught:
            read_sng_index(_reader(raw[:cut]), cut)
        assert str(caught.value)


def test_a_short_read_is_refused(song_sng):
    raw = song_sng.read_bytes()
    index = read_sng_index(_reader(raw), len(raw))
    with pytest.raises(SngError, match="truncated"):
        read_sng_file(index, "album.png", _reader(raw[:-10]))
    with pytest.raises(SngError, match="no file named"):
        read_sng_file(index, "missing.ogg", _reader(raw))
    with pytest.raises(SngError, match="limit"):
        read_sng_file(index, "song.ogg", _reader(raw), max_bytes=10)


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "too short"),
    (b"PK\x03\x04" + bytes(100), "not a .sng"),
    (_pack(magic=b"SNGPKH"), "not a .sng"),
    (_pack(version=2), "version 2"),
    (_pack(meta_len=4), "less than its 8-byte count"),
    (_pack(meta_len=1 << 40), "limit"),
    (_pack(meta_len=500), "past the end"),
    (_pack(meta_count=1 << 60), "pairs"),
    (_pack([(b"k", b"v")], meta_count=2), "claims 2 pairs"),
    (_pack([(b"k" * 20, b"v")], meta_count=2), "runs past"),
    (_pack(index_count=1 << 50), "claims"),
    (_pack(index_len=3), "less than"),
    (_pack(data_len=10), "truncated"),
])
def test_malformed_headers_are_refused(raw, message):
    with pytest.raises(SngError, match=message):
        read_sng_index(_reader(raw), len(raw))


def test_negative_lengths_and_overruns_in_metadata_are_refused():
    meta = struct.pack("<Q", 1) + struct.pack("<i", -5) + b"kkkk"
    raw = (b"SNGPKG" + struct.pack("<I", 1) + MASK + struct.pack("<Q", len(meta)) + meta
           + struct.pack("<Q", 8) + struct.pack("<Q", 0) + struct.pack("<Q", 0))
    with pytest.raises(SngError, match="key length of -5"):
        read_sng_index(_reader(raw), len(raw))
    raw = raw.replace(struct.pack("<i", -5), struct.pack("<i", 100))
    with pytest.raises(SngError, match="key length of 100"):
        read_sng_index(_reader(raw), len(raw))


def test_entries_outside_the_data_or_overlapping_are_refused():
    start = _data_start(entries=[(b"a.ogg", 0, 0), (b"b.ogg", 0, 0)])
    for entries, data, message in [
        ([(b"a.ogg", 5, start - 1), (b"b.ogg", 0, start)], bytes(10), "outside"),
        ([(b"a.ogg", 11, start), (b"b.ogg", 0, start)], bytes(10), "outside"),
        ([(b"a.ogg", 6, start), (b"b.ogg", 4, start + 5)], bytes(10), "overlaps"),
        ([(b"a.ogg", 1 << 62, start), (b"b.ogg", 0, start)], bytes(10), "outside"),
    ]:
        raw = _pack(entries=entries, data=data)
        with pytest.raises(SngError, match=message):
            read_sng_index(_reader(raw), len(raw))


@pytest.mark.parametrize("name", [
    b"", b"../evil.ogg", b"a/b.ogg", b"a\\b.ogg", b"C:x", b"CON", b"con.txt", b"LPT1.ogg",
    b"song.ogg.", b"song.ogg ", b"a\x01b", b"what?.ogg", b"\xff\xfe.ogg",
])
def test_unsafe_names_are_refused(name):
    raw = _pack(entries=[(name, 0, _data_start(entries=[(name, 0, 0)]))])
    with pytest.raises(SngError):
        read_sng_index(_reader(raw), len(raw))


def test_duplicate_names_ignoring_case_are_refused():
    entries = [(b"song.ogg", 0, 0), (b"Song.ogg", 0, 0)]
    start = _data_start(entries=entries)
    raw = _pack(entries=[(n, s, start) for n, s, _ in entries])
    with pytest.raises(SngError, match="two files"):
        read_sng_index(_reader(raw), len(raw))


def test_random_corruption_raises_only_sng_error(song_sng):
    raw = song_sng.read_bytes()
    header_end = min(e.offset for e in read_sng_index_path(song_sng).files)
    rng = random.Random(42)
    for _ in range(500):
        broken = bytearray(raw)
        for _ in range(rng.randrange(1, 4)):
            broken[rng.randrange(header_end)] = rng.randrange(256)
        try:
            read_sng_index(_reader(bytes(broken)), len(broken))
        except SngError:
            pass


def test_garbage_is_refused():
    rng = random.Random(7)
    for _ in range(50):
        raw = rng.randbytes(rng.randrange(200))
        with pytest.raises(SngError):
            read_sng_index(_reader(raw), len(raw))


# -- the writer refuses what the reader would -------------------------------------------------


@pytest.mark.parametrize(("metadata", "files"), [
    ({"a=b": "1"}, {}),
    ({"a;b": "1"}, {}),
    ({"": "1"}, {}),
    ({"name": "two\nlines"}, {}),
    ({}, {"../x.ogg": b""}),
    ({}, {"song.ogg": b"", "SONG.ogg": b""}),
    ({}, {"missing.ogg": "/nonexistent/file.ogg"}),
])
def test_the_writer_refuses_bad_input(metadata, files):
    with pytest.raises(SngError):
        write_sng(metadata, files, io.BytesIO())


def test_a_file_that_grows_while_packed_is_refused(tmp_path, monkeypatch):
    source = tmp_path / "song.ogg"
    source.write_bytes(bytes(100))
    import content.formats.sng as sng

    real = sng._source_size
    monkeypatch.setattr(sng, "_source_size", lambda name, src: real(name, src) - 1)
    with pytest.raises(SngError, match="changed size"):
        write_sng({}, {"song.ogg": source}, io.BytesIO())


def test_check_file_name_accepts_ordinary_names():
    for name in ("notes.chart", "song.opus", "Song Name [Y].chart", "notes(unbroke).chart",
                 "vocals_1.ogg", "Queensr\u00ffche.png", "video.webm"):
        check_file_name(name)
