"""The .sng container (Clone Hero v1.0+, YARG): read its index without its data, write one.

Layout (mdsitton/SngFileFormat ``README.md``; readers Geomitron/parse-sng ``index.ts`` and
YARG.Core ``IO/SngHandler/SngFile.cs`` agree), everything little-endian::

  "SNGPKG" | version u32 | xorMask 16 bytes
  metadataLen u64 | metadataCount u64 | {keyLen i32, key, valueLen i32, value} * count
  fileMetaLen u64 | fileCount u64 | {nameLen u8, name, contentsLen u64, contentsIndex u64} * count
  fileDataLen u64 | masked file bytes

``metadataLen`` and ``fileMetaLen`` count the bytes after themselves (count field included).
``contentsIndex`` is an absolute offset. File byte ``i`` is masked with
``xorMask[i % 16] ^ (i & 0xFF)``. The metadata is the song.ini ``[song]`` section; there is no
song.ini file inside.

Readers take ``read_range(offset, length) -> bytes`` so a caller can do ranged reads over the
network: reading the index costs three small reads and never touches file data.

Rules of this reader, stricter or looser than the reference readers:

* Only version 1 is accepted (the only published version; SngCli writes 1).
* Every length, count and offset is checked against the file size; file data must lie inside
  the data section, without overlaps.
* Names must be safe as the spec's "File Names" section says (no ``<>:"/\\|?*``, control
  characters, ``..``, trailing dot or space, Windows reserved names) and unique ignoring case
  (YARG looks names up lower-cased).
* Bytes left over at the end of the metadata or index section are ignored, as every reference
  reader does; metadata text that is not UTF-8 reads with replacement characters.
"""
from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from content.formats.songini import format_value

MAGIC = b"SNGPKG"
VERSION = 1
HEADER_SIZE = len(MAGIC) + 4 + 16
# Real metadata and index sections are a few KiB; a bigger one is corrupt or hostile.
MAX_SECTION_BYTES = 16 * 1024 * 1024
# Multiple of 256 so each chunk starts at the same point of the 256-byte mask cycle.
CHUNK_BYTES = 1024 * 1024
_MIN_ENTRY_BYTES = 1 + 1 + 8 + 8
_MIN_PAIR_BYTES = 4 + 4
_FORBIDDEN_NAME_CHARS = set('<>:"/\\|?*\x7f') | {chr(c) for c in range(32)}
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{d}" for p in ("COM", "LPT") for d in range(10)
}

ReadRange = Callable[[int, int], bytes]
"""``read_range(offset, length)``: exactly ``length`` bytes of the .sng from byte ``offset``."""

FileSource = bytes | str | os.PathLike
"""What ``write_sng`` packs: the file's bytes, or the path of a file to stream from."""


class SngError(ValueError):
    """The .sng is malformed, or cannot be written; the message names the problem."""


@dataclass(frozen=True, slots=True)
class SngEntry:
    """One file in a .sng: its name, its size and the absolute offset of its data (bytes)."""

    name: str
    size: int
    offset: int


@dataclass(frozen=True, slots=True)
class SngIndex:
    """Everything in a .sng but the file data.

    version: format version (1). xor_mask: the 16 mask bytes. metadata: the song.ini keys and
    values in file order (a repeated key keeps its last value). files: the entries in index
    order. size: the .sng's total size in bytes.
    """

    version: int
    xor_mask: bytes
    metadata: dict[str, str]
    files: tuple[SngEntry, ...]
    size: int

    def entry(self, name: str) -> SngEntry | None:
        """The entry called ``name`` (exact, else ignoring case), or None."""
        folded = None
        for entry in self.files:
            if entry.name == name:
                return entry
            if folded is None and entry.name.casefold() == name.casefold():
                folded = entry
        return folded


def check_file_name(name: str) -> None:
    """Raise SngError unless ``name`` is a safe .sng file name (spec "File Names")."""
    if not name:
        raise SngError("a file in the .sng has an empty name")
    if len(name.encode("utf-8")) > 255:
        raise SngError(f"file name {name[:40]!r}... is longer than 255 bytes")
    bad = sorted(set(name) & _FORBIDDEN_NAME_CHARS)
    if bad:
        raise SngError(f"file name {name!r} holds the forbidden character(s) {''.join(bad)!r}")
    if ".." in name:
        raise SngError(f"file name {name!r} holds '..'")
    if name[-1] in ". ":
        raise SngError(f"file name {name!r} ends with a dot or a space")
    if name.split(".")[0].strip().upper() in _RESERVED_NAMES:
        raise SngError(f"file name {name!r} is a reserved Windows device name")


def _u64(data: bytes, pos: int) -> int:
    return struct.unpack_from("<Q", data, pos)[0]


def _fetch(read_range: ReadRange, offset: int, length: int, what: str) -> bytes:
    data = read_range(offset, length)
    if len(data) != length:
        raise SngError(f"the .sng is truncated: reading the {what} at byte {offset} wanted "
                       f"{length} bytes and got {len(data)}")
    return data


def _section_length(length: int, start: int, size: int, what: str) -> None:
    if length < 8:
        raise SngError(f"the {what} section length is {length}, less than its 8-byte count")
    if length > MAX_SECTION_BYTES:
        raise SngError(f"the {what} section claims {length} bytes, more than the "
                       f"{MAX_SECTION_BYTES}-byte limit")
    # The section and the 8-byte length field that follows it must fit in the file.
    if start + length + 8 > size:
        raise SngError(f"the {what} section ({length} bytes at byte {start}) runs past the end "
                       f"of the {size}-byte file")


def _parse_metadata(section: bytes) -> dict[str, str]:
    count = _u64(section, 0)
    if count > (len(section) - 8) // _MIN_PAIR_BYTES:
        raise SngError(f"the metadata section claims {count} pairs, more than its "
                       f"{len(section)} bytes can hold")
    metadata: dict[str, str] = {}
    pos = 8
    for number in range(count):
        texts = []
        for part in ("key", "value"):
            if pos + 4 > len(section):
                raise SngError(f"metadata pair {number} runs past the end of its section")
            length = struct.unpack_from("<i", section, pos)[0]
            pos += 4
            if length < 0 or pos + length > len(section):
                raise SngError(f"metadata pair {number} has a {part} length of {length}, "
                               "outside its section")
            texts.append(section[pos:pos + length].decode("utf-8", errors="replace"))
            pos += length
        metadata[texts[0]] = texts[1]
    return metadata


def _parse_index(section: bytes) -> list[SngEntry]:
    count = _u64(section, 0)
    if count > (len(section) - 8) // _MIN_ENTRY_BYTES:
        raise SngError(f"the file index claims {count} files, more than its {len(section)} "
                       "bytes can hold")
    entries = []
    pos = 8
    for number in range(count):
        name_length = section[pos] if pos < len(section) else -1
        end = pos + 1 + name_length + 16
        if name_length < 0 or end > len(section):
            raise SngError(f"file index entry {number} runs past the end of its section")
        try:
            name = section[pos + 1:pos + 1 + name_length].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SngError(f"file index entry {number} has a name that is not UTF-8") from exc
        check_file_name(name)
        size, offset = struct.unpack_from("<QQ", section, pos + 1 + name_length)
        entries.append(SngEntry(name, size, offset))
        pos = end
    return entries


def _check_entries(entries: list[SngEntry], data_start: int, data_end: int) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        folded = entry.name.casefold()
        if folded in seen:
            raise SngError(f"the .sng holds two files named {seen[folded]!r} and {entry.name!r}")
        seen[folded] = entry.name
        if entry.offset < data_start or entry.offset + entry.size > data_end:
            raise SngError(f"{entry.name!r} ({entry.size} bytes at byte {entry.offset}) lies "
                           f"outside the file data section (bytes {data_start}..{data_end})")
    previous: SngEntry | None = None
    for entry in sorted(entries, key=lambda e: (e.offset, e.size)):
        if entry.size == 0:
            continue
        if previous is not None and entry.offset < previous.offset + previous.size:
            raise SngError(f"the data of {entry.name!r} overlaps the data of {previous.name!r}")
        previous = entry


def read_sng_index(read_range: ReadRange, size: int) -> SngIndex:
    """Read a .sng's header, metadata and file index, never its file data.

    ``size`` is the .sng's total size in bytes. Makes three calls to ``read_range``.
    Raises SngError naming the problem for a malformed or truncated file; errors raised by
    ``read_range`` itself (e.g. OSError) pass through.
    """
    if size < HEADER_SIZE + 8:
        raise SngError(f"the file is {size} bytes, too short for a .sng header")
    head = _fetch(read_range, 0, HEADER_SIZE + 8, "header")
    if head[:len(MAGIC)] != MAGIC:
        raise SngError("not a .sng file: it does not start with 'SNGPKG'")
    version = struct.unpack_from("<I", head, len(MAGIC))[0]
    if version != VERSION:
        raise SngError(f"unsupported .sng version {version} (only version {VERSION} is known)")
    xor_mask = head[len(MAGIC) + 4:HEADER_SIZE]

    pos = HEADER_SIZE + 8
    metadata_length = _u64(head, HEADER_SIZE)
    _section_length(metadata_length, pos, size, "metadata")
    chunk = _fetch(read_range, pos, metadata_length + 8, "metadata")
    metadata = _parse_metadata(chunk[:-8])

    pos += metadata_length + 8
    index_length = _u64(chunk, metadata_length)
    _section_length(index_length, pos, size, "file index")
    chunk = _fetch(read_range, pos, index_length + 8, "file index")
    entries = _parse_index(chunk[:-8])

    data_start = pos + index_length + 8
    data_length = _u64(chunk, index_length)
    if data_start + data_length > size:
        raise SngError(f"the file data section claims {data_length} bytes but only "
                       f"{size - data_start} follow: the .sng is truncated")
    _check_entries(entries, data_start, data_start + data_length)
    return SngIndex(version, bytes(xor_mask), metadata, tuple(entries), size)


def _keystream(xor_mask: bytes, start: int, length: int) -> bytes:
    cycle = bytes(xor_mask[i % 16] ^ i for i in range(256))
    shift = start % 256
    cycle = cycle[shift:] + cycle[:shift]
    return (cycle * (length // 256 + 1))[:length]


def unmask(data: bytes, xor_mask: bytes, start: int = 0) -> bytes:
    """``data`` XOR the .sng mask, ``start`` being the first byte's position in its file.

    The mask is its own inverse, so this also masks.
    """
    if not data:
        return b""
    key = _keystream(xor_mask, start, len(data))
    mixed = int.from_bytes(data, "little") ^ int.from_bytes(key, "little")
    return mixed.to_bytes(len(data), "little")


def _resolve(index: SngIndex, entry: SngEntry | str) -> SngEntry:
    if isinstance(entry, SngEntry):
        return entry
    found = index.entry(entry)
    if found is None:
        raise SngError(f"the .sng holds no file named {entry!r}")
    return found


def iter_sng_file(index: SngIndex, entry: SngEntry | str, read_range: ReadRange, *,
                  chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """One inner file's plain bytes, in chunks of at most ``chunk_bytes``.

    ``entry`` is an index entry or a file name. Raises SngError for an unknown name or a
    short read.
    """
    entry = _resolve(index, entry)
    done = 0
    while done < entry.size:
        length = min(chunk_bytes, entry.size - done)
        data = _fetch(read_range, entry.offset + done, length, repr(entry.name))
        yield unmask(data, index.xor_mask, done)
        done += length


def read_sng_file(index: SngIndex, entry: SngEntry | str, read_range: ReadRange, *,
                  max_bytes: int | None = None) -> bytes:
    """One inner file's plain bytes (e.g. ``notes.chart``), read in one range.

    Raises SngError for an unknown name, a short read, or a file over ``max_bytes``.
    """
    entry = _resolve(index, entry)
    if max_bytes is not None and entry.size > max_bytes:
        raise SngError(f"{entry.name!r} is {entry.size} bytes, over the {max_bytes}-byte limit")
    return unmask(_fetch(read_range, entry.offset, entry.size, repr(entry.name)),
                  index.xor_mask)


@contextmanager
def local_range_reader(path: str | os.PathLike) -> Iterator[tuple[ReadRange, int]]:
    """Open a local .sng for ranged reads: ``with local_range_reader(p) as (read_range, size)``."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size

        def read_range(offset: int, length: int) -> bytes:
            handle.seek(offset)
            return handle.read(length)

        yield read_range, size


def read_sng_index_path(path: str | os.PathLike) -> SngIndex:
    """``read_sng_index`` for a local file."""
    with local_range_reader(path) as (read_range, size):
        return read_sng_index(read_range, size)


# -- writing ----------------------------------------------------------------------------


def _metadata_text(text: str, what: str, forbidden: str) -> bytes:
    bad = sorted(set(text) & set(forbidden))
    if bad:
        raise SngError(f"metadata {what} {text!r} holds the forbidden character(s) {bad!r}")
    return text.encode("utf-8")


def _metadata_section(metadata: Mapping[str, str | bool | int | float]) -> bytes:
    parts = [struct.pack("<Q", len(metadata))]
    for key, value in metadata.items():
        if not key:
            raise SngError("a metadata key is empty")
        # Spec "Metadata Strings": keys must survive being written as song.ini lines.
        raw_key = _metadata_text(key, "key", ";=\r\n\0")
        raw_value = _metadata_text(format_value(value) if not isinstance(value, str) else value,
                                   "value", "\r\n\0")
        parts += [struct.pack("<i", len(raw_key)), raw_key,
                  struct.pack("<i", len(raw_value)), raw_value]
    return b"".join(parts)


def _source_size(name: str, source: FileSource) -> int:
    if isinstance(source, bytes | bytearray | memoryview):
        return len(source)
    try:
        return os.stat(source).st_size
    except OSError as exc:
        raise SngError(f"cannot pack {name!r}: {exc}") from exc


def _stream(name: str, source: FileSource, size: int, xor_mask: bytes, out: BinaryIO) -> None:
    if isinstance(source, bytes | bytearray | memoryview):
        for start in range(0, size, CHUNK_BYTES):
            out.write(unmask(bytes(source[start:start + CHUNK_BYTES]), xor_mask, start))
        return
    done = 0
    with open(source, "rb") as handle:
        while done < size and (chunk := handle.read(min(CHUNK_BYTES, size - done))):
            out.write(unmask(chunk, xor_mask, done))
            done += len(chunk)
        grew = bool(handle.read(1))
    if done != size or grew:
        raise SngError(f"{name!r} changed size while it was being packed "
                       f"({size} bytes when listed)")


def write_sng(metadata: Mapping[str, str | bool | int | float],
              files: Mapping[str, FileSource], out: BinaryIO, *,
              xor_mask: bytes | None = None) -> int:
    """Write a version-1 .sng to the binary stream ``out``; return the bytes written.

    ``metadata``: the song.ini ``[song]`` keys and values (non-strings written as song.ini
    writes them). ``files``: name → bytes or a path; paths are streamed in 1 MiB chunks, so
    audio is never held in memory. ``xor_mask``: 16 bytes, random by default.
    Raises SngError for an unsafe or duplicate name, a key holding ``;``/``=``/a line break,
    a value holding a line break, or a file that changes size while being packed.
    """
    xor_mask = os.urandom(16) if xor_mask is None else bytes(xor_mask)
    if len(xor_mask) != 16:
        raise SngError(f"the xor mask must be 16 bytes, not {len(xor_mask)}")
    names: dict[str, str] = {}
    for name in files:
        check_file_name(name)
        if name.casefold() in names:
            raise SngError(f"two files are named {names[name.casefold()]!r} and {name!r}")
        names[name.casefold()] = name
    meta = _metadata_section(metadata)
    sizes = {name: _source_size(name, source) for name, source in files.items()}
    encoded = {name: name.encode("utf-8") for name in files}
    index_length = 8 + sum(_MIN_ENTRY_BYTES - 1 + len(raw) for raw in encoded.values())
    offset = HEADER_SIZE + 8 + len(meta) + 8 + index_length + 8
    index = [struct.pack("<Q", len(files))]
    for name, raw in encoded.items():
        index += [bytes([len(raw)]), raw, struct.pack("<QQ", sizes[name], offset)]
        offset += sizes[name]

    out.write(MAGIC + struct.pack("<I", VERSION) + xor_mask)
    out.write(struct.pack("<Q", len(meta)) + meta)
    out.write(struct.pack("<Q", index_length) + b"".join(index))
    out.write(struct.pack("<Q", sum(sizes.values())))
    for name, source in files.items():
        _stream(name, source, sizes[name], xor_mask, out)
    return offset


def write_sng_path(metadata: Mapping[str, str | bool | int | float],
                   files: Mapping[str, FileSource], path: str | os.PathLike, *,
                   xor_mask: bytes | None = None) -> int:
    """``write_sng`` to a new local file at ``path``; return its size in bytes."""
    with open(Path(path), "wb") as out:
        return write_sng(metadata, files, out, xor_mask=xor_mask)
