"""Short synthetic songs for the generator's web and library tests, made at test time.

A click on every beat (a low thump with a noise attack) and a harmonic tone with a sharp
attack on every 8th note, its pitch walking a pentatonic scale: enough rhythm and pitch for
the generator to find a steady tempo, notes, sections and star power. Nothing is stored in git.
"""
from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import mutagen
import numpy as np
import soundfile
from mutagen.flac import Picture
from mutagen.id3 import APIC

SR = 44100
PENTATONIC = (0, 3, 5, 7, 10)


def click_track(*, bpm: float = 150.0, seconds: float = 28.0, start: float = 0.5,
                seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(samples, beat times): mono float32 at ``SR`` Hz, ``seconds`` long, beats from
    ``start`` s at ``bpm``, tones on every 8th note."""
    rng = np.random.default_rng(seed)
    total = int(seconds * SR)
    mix = np.zeros(total, np.float32)
    period = 60.0 / bpm
    beats = np.arange(start, seconds - 1.0, period)
    t = np.arange(int(0.08 * SR)) / SR
    thump = (np.sin(2 * np.pi * 60 * t) * np.exp(-t / 0.03)) * 0.5
    tone_t = np.arange(int(0.25 * SR)) / SR
    step = 7
    for beat in beats:
        i = int(round(beat * SR))
        click = thump + rng.standard_normal(len(t)) * np.exp(-t / 0.004) * 0.15
        mix[i:i + len(t)] += click[: total - i]
        for offset in (0.0, 0.5):
            step = int(np.clip(step + rng.integers(-2, 3), 0, 14))
            pitch = 45 + 12 * (step // 5) + PENTATONIC[step % 5]
            f0 = 440.0 * 2 ** ((pitch - 69) / 12)
            # 2 ms attack and a 30 ms fade out: a hard cut would be a click (a false onset).
            envelope = (np.exp(-tone_t / 0.12) * np.minimum(1, tone_t / 0.002)
                        * np.minimum(1, (tone_t[-1] - tone_t) / 0.03))
            tone = sum(np.sin(2 * np.pi * f0 * h * tone_t) / h for h in range(1, 6)) * envelope
            j = int(round((beat + offset * period) * SR))
            end = min(total, j + len(tone))
            mix[j:end] += 0.1 * tone[: end - j]
    return mix.astype(np.float32), beats


def hiss(length: int, *, seed: int = 8) -> np.ndarray:
    """Pink noise (power falling 3 dB an octave, like an amp's hiss or a room), ``length``
    samples, RMS 1, float32."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(length))
    spectrum[0] = 0
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    noise = np.fft.irfft(spectrum, length)
    return (noise / np.sqrt(np.mean(noise ** 2))).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray) -> Path:
    """Write ``samples`` (mono, ``SR`` Hz) to ``path``; the suffix picks the format
    (.wav, .ogg)."""
    soundfile.write(path, samples, SR)
    return path


TAGS = {"title": "Tagged Song", "artist": "Tag Band", "album": "Tag Album", "genre": "Rock",
        "date": "2004-05-01", "track": "3/12"}


def image(path: Path) -> bytes:
    """A 32×32 red picture, its format from the suffix (.jpg, .png), made by ffmpeg."""
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=32x32",
                    "-frames:v", "1", str(path)], check=True)
    return path.read_bytes()


def tagged_audio(path: Path, samples: np.ndarray, pictures: list[tuple[int, bytes]]) -> Path:
    """``samples`` encoded by ffmpeg to ``path`` (.mp3, .ogg, .opus, .flac) with ``TAGS``,
    then ``pictures`` ((picture type, image bytes), 3 = front cover) embedded as each format
    stores them: ID3 APIC, FLAC picture blocks, Vorbis-comment METADATA_BLOCK_PICTURE."""
    wav = write_audio(path.with_suffix(".src.wav"), samples)
    metadata = [arg for key, value in TAGS.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), *metadata, str(path)], check=True)
    wav.unlink()
    audio = mutagen.File(path)
    for kind, data in pictures:
        if path.suffix == ".mp3":
            audio.tags.add(APIC(encoding=3, mime="image/jpeg", type=kind, desc=str(kind),
                                data=data))
            continue
        picture = Picture()
        picture.type, picture.mime, picture.data = kind, "image/jpeg", data
        if path.suffix == ".flac":
            audio.add_picture(picture)
        else:
            encoded = base64.b64encode(picture.write()).decode("ascii")
            audio.tags["metadata_block_picture"] = [
                *audio.tags.get("metadata_block_picture", []), encoded]
    audio.save()
    return path
