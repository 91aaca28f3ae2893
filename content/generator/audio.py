"""Audio input: decode a song file or a folder of stems to mono float32 at ``SR`` Hz.

Decoding follows the fast recipe measured in chart-generation.md §4.2: libsndfile (WAV, FLAC,
OGG Vorbis, Opus, MP3) read in blocks, channel mean, ``soxr`` streaming resampling; anything
libsndfile rejects goes through the Debian ``ffmpeg`` binary, which decodes straight to mono
float32 at ``SR``. Several stems are decoded in parallel threads (libsndfile and ffmpeg run
outside the GIL).

Inputs: a single audio file (``.ogg .opus .mp3 .wav .flac``) or a folder holding Clone Hero's
reserved stem names (``song``, ``guitar``, ``rhythm``, ``bass``, ``keys``, ``drums``,
``drums_1``..``drums_4``, ``vocals`` … formats.md §1.1). Errors are ``GeneratorError`` naming
the file: not audio, empty, shorter than ``MIN_SECONDS`` or longer than the caller's
``max_seconds`` (default ``MAX_SECONDS``), or a folder without audio.
"""
from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import soundfile
import soxr
from scipy import signal

from content.formats.scan import AUDIO_STEMS, music_stems
from content.generator.errors import GeneratorError

SR = 22050  # Hz; all analysis runs at this rate (librosa's default, enough for onsets and pitch)
MIN_SECONDS = 10.0
# Analysis holds the whole song in memory: a 59-minute file peaked at 2.5 GB (about 43 MB a
# minute), so the default stops at an hour (past any single song; album-length charts aside).
MAX_SECONDS = 60 * 60.0
AUDIO_EXTENSIONS = (".ogg", ".opus", ".mp3", ".wav", ".flac")
# Stems charted as a five-fret part each (as the instrument names of formats.chart), in
# chart order; [*Single] follows the full mix when there is no guitar stem.
FRET_STEMS = ("guitar", "rhythm", "bass", "keys")
_BLOCK_FRAMES = 1 << 16  # decoded at a time (1.5 s at 44.1 kHz)
# A stem is held in song.* (a full mix given as song.*) when song.* carries its waveform at
# this gain or more: the least-squares gain at the best lag within HELD_LAG_S, over the
# stem's loudest HELD_WINDOW_S. Separate instruments do not share a waveform, while a mix is
# its stems' sum: on the rendered fixture songs (bench_generator.py's library), each full
# render holds its 183 audible stems at 0.80 or more (median 0.99), and the vocals render of
# the 6 songs with one, a backing track, holds their 23 other stems at 0.03 at most. A
# mastered mix scales its stems, so the bar sits well below 1.
HELD_GAIN = 0.25
HELD_LAG_S = 0.1  # song.* may start a little off its stems (an MP3 encoder adds ≈ 26 ms)
HELD_WINDOW_S = 10.0
_AUDIBLE_POWER = 1e-8  # mean square below this (-80 dBFS) over the window: the stem is silent


@dataclass(frozen=True, slots=True)
class Audio:
    """One decoded file: ``samples`` mono float32 at ``sr`` Hz, shape (n,)."""

    path: Path
    samples: np.ndarray
    sr: int = SR

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sr

    def delayed(self, samples: int) -> Audio:
        """The same audio after ``samples`` samples of silence."""
        return Audio(self.path, np.concatenate([np.zeros(samples, np.float32), self.samples]),
                     self.sr)


@dataclass(frozen=True, slots=True)
class SourceAudio:
    """What the generator analyses and what the song folder will play.

    mix: the whole song — tempo, sections, energy: a single file, or the sum of a folder's
        music stems (but those in ``held_in_song``). Clone Hero plays the stems together,
        and ``song`` is "background audio not associated with any particular instrument, or
        the main audio stream if it is the only one present" (GuitarGame_ChartFormats
        ``Supported-Audio-Files.md``): beside other stems it is the backing track, not the
        song.
    parts: five-fret instrument (``FRET_STEMS`` order) → the audio its chart transcribes:
        each ``guitar``/``rhythm``/``bass``/``keys`` stem given, and for ``guitar`` without
        a guitar stem the mix that holds it: ``song.*`` (the backing track, which then holds
        the guitar), a single file not named like a stem, or the sum of a folder whose stems
        are neither five-fret nor drum stems. Empty for drum stems alone: there is no melodic
        part to chart.
    guitar_from_mix: ``parts["guitar"]`` is a mix (listened to in the guitar's band), not a
        guitar stem.
    drums: the drum stem(s) summed (a folder's, or a single file named like one), or None.
    files: the audio files to put in the song folder, as (source path, stem name) pairs.
    tag_file: the file whose tags (title, artist) name the song.
    held_in_song: the music stems that ``song.*`` already holds (``held_in``): a full mix
        given as ``song.*``. They are charted, but left out of ``mix`` and ``files``: Clone
        Hero plays ``song.*`` with every stem, so they would sound twice.
    """

    mix: Audio
    parts: dict[str, Audio]
    guitar_from_mix: bool
    drums: Audio | None
    files: tuple[tuple[Path, str], ...]
    tag_file: Path
    held_in_song: tuple[str, ...] = ()

    @property
    def lone_stem(self) -> bool:
        """The whole input is one five-fret stem (a lone ``guitar.ogg``, ``bass.ogg`` …): no
        mix or drums hold the beat, only that part's notes."""
        return not self.guitar_from_mix and any(a is self.mix for a in self.parts.values())


def decode(path: Path, *, max_seconds: float = MAX_SECONDS) -> Audio:
    """``path`` decoded to mono float32 at ``SR``.

    Raises GeneratorError when the file is missing, empty, not decodable audio, shorter than
    ``MIN_SECONDS`` or longer than ``max_seconds`` (found before more than that is decoded).
    """
    path = Path(path)
    if not path.is_file():
        raise GeneratorError(path, "no such audio file")
    if path.stat().st_size == 0:
        raise GeneratorError(path, "the file is empty")
    try:
        samples = _read_mono(path, max_seconds)
    except (soundfile.LibsndfileError, RuntimeError, ValueError):
        # libsndfile misses some MP3/Opus variants and every AAC/M4A: let ffmpeg try.
        samples = _ffmpeg_decode(path, max_seconds)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if len(samples) / SR < MIN_SECONDS:
        raise GeneratorError(path, f"the audio is {len(samples) / SR:.1f} s long; "
                                   f"at least {MIN_SECONDS:.0f} s are needed to chart it")
    if len(samples) / SR > max_seconds:
        raise _too_long(path, max_seconds)
    return Audio(path, samples)


def _too_long(path: Path, max_seconds: float) -> GeneratorError:
    limit = f"{max_seconds / 60:g} min" if max_seconds >= 60 else f"{max_seconds:g} s"
    return GeneratorError(path, f"the audio is longer than {limit}, the most the generator "
                                "charts")


def _read_mono(path: Path, max_seconds: float) -> np.ndarray:
    """libsndfile's decode of ``path`` as mono float32 at ``SR``, shape (n,).

    Block by block through a streaming resampler: the whole song never exists as 44.1 kHz
    stereo, which cut the CPU time of a 3.7-minute OGG from 0.40 to 0.30 s (same samples).
    Raises soundfile.LibsndfileError (or RuntimeError/ValueError) when libsndfile cannot,
    and GeneratorError, before decoding, when the header says it is over ``max_seconds``.
    """
    with soundfile.SoundFile(path) as audio:
        if audio.frames > max_seconds * audio.samplerate:
            raise _too_long(path, max_seconds)
        resampler = (soxr.ResampleStream(audio.samplerate, SR, 1, dtype="float32")
                     if audio.samplerate != SR else None)
        parts = []
        while True:
            block = audio.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
            last = len(block) < _BLOCK_FRAMES
            mono = _downmix(block)
            parts.append(resampler.resample_chunk(mono, last=last) if resampler else mono)
            if last:
                return np.concatenate(parts)


def _downmix(data: np.ndarray) -> np.ndarray:
    """Mean of the channels of ``data`` (frames, channels) → (frames,) float32.

    Column by column: ``data.mean(axis=1)`` reduces across the interleaved layout, several
    times slower.
    """
    mono = data[:, 0].copy()
    for channel in range(1, data.shape[1]):
        mono += data[:, channel]
    if data.shape[1] > 1:
        mono /= data.shape[1]
    return mono


def _ffmpeg_decode(path: Path, max_seconds: float) -> np.ndarray:
    """ffmpeg's decode of ``path`` as mono float32 at ``SR``; it stops a second past
    ``max_seconds``, so an over-long file costs no more memory than that."""
    if shutil.which("ffmpeg") is None:
        raise GeneratorError(path, "not audio that libsndfile can read, and ffmpeg is not "
                                   "installed to try further")
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1",
         "-ar", str(SR), "-t", f"{max_seconds + 1:g}", "-f", "f32le", "-"],
        capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        reason = _ffmpeg_reason(proc.stderr.decode("utf-8", "replace"), path)
        raise GeneratorError(path, "not a readable audio file"
                             + (f" ({reason})" if reason else ""))
    return np.frombuffer(proc.stdout[: len(proc.stdout) // 4 * 4], dtype="<f4")


def _ffmpeg_reason(stderr: str, path: Path) -> str:
    """The line of ffmpeg's error output that says what is wrong with ``path``: its first
    line that is no decoder's or filter's own note (``[mp3float @ 0x…] Header missing``) or
    repeat count, e.g. ``Invalid data found when processing input``, else its last line,
    without the path ffmpeg may put first (the error names the file already). The last line
    alone is often a consequence (``Error configuring filter graph``)."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    plain = [line for line in lines
             if not line.startswith("[") and not line.startswith("Last message repeated")]
    reason = (plain or lines or [""])[0 if plain else -1]
    return reason.removeprefix(f"{path}: ")


def stems_in(folder: Path) -> dict[str, Path]:
    """Reserved-name audio files in ``folder``: stem name → path (first extension of
    ``AUDIO_EXTENSIONS`` wins). Names match in any case (``Guitar.OGG`` is the guitar stem):
    stems exported on Windows or macOS often are capitalised, and the song folder written
    gives them Clone Hero's lower-case names (``writer.write_audio``); the exact lower-case
    name wins over another case of it."""
    files = sorted((p for p in folder.iterdir() if p.is_file()),
                   key=lambda p: (p.name != p.name.lower(), p.name))
    by_name: dict[str, Path] = {}
    for path in files:
        by_name.setdefault(path.name.lower(), path)
    found: dict[str, Path] = {}
    for ext in AUDIO_EXTENSIONS:
        for name in AUDIO_STEMS:
            path = by_name.get(f"{name}{ext}")
            if name not in found and path is not None:
                found[name] = path
    return found


def open_source(source: Path, *, max_seconds: float = MAX_SECONDS) -> SourceAudio:
    """Decode ``source`` (a file or a folder of stems) into the signals the generator needs.

    Raises GeneratorError for a missing path, a folder without reserved-name audio, or any
    file that ``decode`` rejects (``max_seconds`` applies to each file).
    """
    source = Path(source)
    if source.is_dir():
        stems = stems_in(source)
        music = {n: stems[n] for n in music_stems(stems)}
        if not music:
            raise GeneratorError(source, "the folder has no audio named like a Clone Hero stem "
                                         f"({', '.join(AUDIO_STEMS[:6])} … with "
                                         f"{'/'.join(AUDIO_EXTENSIONS)})")
        with ThreadPoolExecutor(max_workers=min(4, len(music))) as pool:
            decoded = dict(zip(music, pool.map(partial(decode, max_seconds=max_seconds),
                                               music.values()), strict=True))
        song = decoded.get("song")
        held = tuple(n for n, a in decoded.items()
                     if song is not None and a is not song and held_in(song, a))
        mix = _sum(source, [a for n, a in decoded.items() if n not in held])
        parts = {n: decoded[n] for n in FRET_STEMS if n in decoded}
        drum_parts = [a for n, a in decoded.items() if is_drum_stem(n)]
        # Without a guitar stem, [*Single] follows the mix only where there is one: a folder
        # of other parts' stems alone gets their charts, not a guitar chart of them.
        has_mix = "song" in decoded or not (parts or drum_parts)
        from_mix = "guitar" not in parts and has_mix
        if from_mix:
            parts = {"guitar": decoded.get("song", mix), **parts}
        drums = _sum(source, drum_parts) if drum_parts else None
        tag_file = stems.get("song") or next(iter(music.values()))
        return SourceAudio(mix, parts, from_mix, drums,
                           tuple((p, n) for n, p in stems.items() if n not in held), tag_file,
                           held)
    audio = decode(source, max_seconds=max_seconds)
    # A single file named like a stem is that stem alone: a lone drums.ogg gets a drum chart
    # and a lone bass.ogg a bass chart (and no guitar chart made of its notes).
    name = source.stem.lower()
    if is_drum_stem(name):
        return SourceAudio(audio, {}, False, audio, ((source, "song"),), source)
    part = name if name in FRET_STEMS else "guitar"
    return SourceAudio(audio, {part: audio}, name not in FRET_STEMS, None, ((source, "song"),),
                       source)


def held_in(song: Audio, stem: Audio) -> bool:
    """Whether ``song`` carries ``stem``'s waveform at ``HELD_GAIN`` or more (see there):
    ``song`` is then a mix holding the stem, not a backing track beside it. Both are decoded
    audio at the same rate; only their common length counts. False for a silent stem or one
    under a second."""
    n = min(len(song.samples), len(stem.samples))
    lag = int(HELD_LAG_S * stem.sr)
    seconds = stem.samples[: n // stem.sr * stem.sr].reshape(-1, stem.sr)
    energy = np.einsum("ij,ij->i", seconds, seconds)
    span = min(len(energy), int(HELD_WINDOW_S))
    if span == 0:
        return False
    start = int(np.argmax(np.convolve(energy, np.ones(span), "valid"))) * stem.sr
    part = stem.samples[start:start + span * stem.sr].astype(np.float64)
    power = float(part @ part)
    if power < _AUDIBLE_POWER * len(part):
        return False
    # The stem against song.* from ``lag`` before to ``lag`` after: every lag within ±lag.
    lo = max(start - lag, 0)
    whole = song.samples[lo:start + len(part) + lag].astype(np.float64)
    products = signal.correlate(whole, part, mode="valid", method="fft")
    return float(np.max(products)) / power >= HELD_GAIN


def is_drum_stem(name: str) -> bool:
    """``drums`` or ``drums_1``..``drums_4`` (a lower-case stem base name)."""
    return name in AUDIO_STEMS and name.startswith("drums")


def _sum(folder: Path, parts: list[Audio]) -> Audio:
    if len(parts) == 1:
        return parts[0]
    total = np.zeros(max(len(a.samples) for a in parts), dtype=np.float32)
    for part in parts:
        total[: len(part.samples)] += part.samples
    return Audio(folder, total)
