"""Writing a generated song: ``notes.chart`` text and the audio files of the song folder.

Chart layout follows chart-generation.md §5.1 and formats.md §1.3 (GuitarGame_ChartFormats):
``[Song]`` with ``Resolution = 192``; ``[SyncTrack]`` with ``TS`` and ``B`` (BPM × 1000) at
tick 0; ``[Events]`` with ``section`` names and one ``end``; for each five-fret part
``[ExpertSingle]`` … ``[EasySingle]`` (``DoubleRhythm``, ``DoubleBass``, ``Keyboard`` for
rhythm, bass, keys) with ``N lane length`` per gem and ``S 2 length`` star power, the same
for ``[ExpertDrums]`` … plus ``S 64 length`` drum fills (activation lanes). No
``*Stream`` keys: reserved audio names take priority and a path breaks when audio is
transcoded (SngFileFormat issue #9).

Lead-in: every chart needs ≥ 2 s before its first note (scan-chart ``smallLeadingSilence``;
its code flags < 1 s, its text and the community convention say 2 s). When the audio starts
too early the generator puts the silence *into the audio files* (ffmpeg ``adelay``, re-encoded
as Ogg Vorbis q8, the recommended encoding) rather than using song.ini ``delay`` or the
chart's ``Offset``: ``delay`` shifts gameplay without changing the chart hash and is "not
recommended" (formats.md §1.2, Standard-Tags.md), and both are offsets that previewers,
editors and scanners may apply differently, whereas silence in the audio is heard and timed
identically by every player. Files that need no padding are copied byte for byte (FLAC,
which Clone Hero does not play, is transcoded).
"""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from content.formats.chart import TRACK_SECTIONS
from content.generator.errors import GeneratorError
from content.generator.lanes import Note
from content.generator.structure import Section
from content.generator.tempo import RESOLUTION, TempoMap

PLAYABLE_EXTENSIONS = (".ogg", ".opus", ".mp3", ".wav")  # formats.md §1.1
DIFFICULTIES = ("Expert", "Hard", "Medium", "Easy")
STAR_POWER = 2
DRUM_FILL = 64
# (instrument, difficulty) → section name, as the chart reader maps them (("guitar",
# "expert") → "ExpertSingle" …).
_SECTIONS = {key: name for name, key in TRACK_SECTIONS.items()}


@dataclass(frozen=True)
class FretPart:
    """One five-fret instrument's chart: ``tracks`` difficulty (``"Expert"``, ``"Hard"``,
    ``"Medium"``, ``"Easy"``) → notes, and its ``star_power`` (tick, length) phrases, shared by
    every difficulty."""

    tracks: dict[str, list[Note]]
    star_power: list[tuple[int, int]]


def chart_text(*, name: str, artist: str, tempo: TempoMap, sections: list[Section],
               end_tick: int, parts: Mapping[str, FretPart],
               drums: Mapping[str, list[Note]] | None = None,
               drum_star_power: Sequence[tuple[int, int]] = (),
               drum_fills: Sequence[tuple[int, int]] = ()) -> str:
    """The whole ``notes.chart`` as text (CRLF line ends, as editors write them).

    parts: five-fret instrument (``"guitar"``, ``"rhythm"``, ``"bass"``, ``"keys"``) → its
    notes per difficulty (``"Expert"`` …), written as ``[ExpertSingle]``,
    ``[ExpertDoubleRhythm]``, ``[ExpertDoubleBass]``, ``[ExpertKeyboard]`` …, with its star
    power phrases in every difficulty.
    drums: difficulty → drum notes, written as ``[ExpertDrums]`` … with ``drum_star_power``
    phrases and ``drum_fills`` (tick, length) in every difficulty.
    """
    lines = ["[Song]", "{",
             f'  Name = "{_quote(name)}"', f'  Artist = "{_quote(artist)}"',
             '  Charter = "chmanager"', f"  Resolution = {RESOLUTION}", "  Offset = 0", "}",
             "[SyncTrack]", "{", f"  0 = TS {tempo.beats_per_bar}"]
    lines += [f"  {tick} = B {milli}" for tick, milli in tempo.tempos]
    lines += ["}", "[Events]", "{"]
    lines += [f'  {s.tick} = E "section {_quote(s.name)}"' for s in sections]
    lines += [f'  {end_tick} = E "end"', "}"]
    drum_phrases = ([(STAR_POWER, tick, length) for tick, length in drum_star_power]
                    + [(DRUM_FILL, tick, length) for tick, length in drum_fills])
    blocks = [(_SECTIONS[instrument, d.lower()], part.tracks[d],
               [(STAR_POWER, tick, length) for tick, length in part.star_power])
              for instrument, part in parts.items() for d in DIFFICULTIES if d in part.tracks]
    blocks += [(_SECTIONS["drums", d.lower()], (drums or {})[d], drum_phrases)
               for d in DIFFICULTIES if d in (drums or {})]
    for title, notes, specials in blocks:
        events: list[tuple[int, int, str]] = []
        for note in notes:
            events += [(note.tick, 0, f"N {lane} {note.length}") for lane in note.lanes]
        events += [(tick, 1, f"S {kind} {length}") for kind, tick, length in specials]
        events.sort()
        lines += [f"[{title}]", "{", *(f"  {t} = {text}" for t, _, text in events), "}"]
    return "\r\n".join(lines) + "\r\n"


def _quote(text: str) -> str:
    # .chart strings have no escapes (formats.md §1.3): a quote would end the value.
    return text.replace('"', "'").replace("\r", " ").replace("\n", " ")


def write_audio(source: Path, stem: str, out_dir: Path, pad_seconds: float) -> Path:
    """Put one audio file in ``out_dir`` as ``<stem>.<ext>``, padded with leading silence.

    Copies unchanged when no padding is needed and Clone Hero plays the format; otherwise
    re-encodes with ffmpeg to Ogg Vorbis q8. Raises GeneratorError if ffmpeg fails.
    """
    ext = source.suffix.lower()
    if pad_seconds <= 0 and ext in PLAYABLE_EXTENSIONS:
        target = out_dir / f"{stem}{ext}"
        shutil.copyfile(source, target)
        return target
    target = out_dir / f"{stem}.ogg"
    delay_ms = max(0, round(pad_seconds * 1000))
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source), "-vn",
         "-af", f"adelay=delays={delay_ms}:all=1", "-c:a", "libvorbis", "-q:a", "8",
         str(target)], capture_output=True, check=False)
    if proc.returncode != 0:
        raise GeneratorError(source, "ffmpeg could not re-encode it: "
                             + proc.stderr.decode("utf-8", "replace").strip()[-300:])
    return target
