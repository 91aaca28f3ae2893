"""Audio → Clone Hero chart generator (pure Python, no Django).

Public API::

    from content.generator import generate, write_song_folder, GeneratedSong, GeneratorError

    song = generate(Path("song.ogg"), name="Title", artist="Band",
                    progress=lambda step, total, message: ...)
    song.note_counts   # {"Expert": 812, "Hard": 520, "Medium": 300, "Easy": 179}
    write_song_folder(song, Path("out/Band - Title"))

Modules, one job each: ``audio`` (decoding), ``spectrum`` (the one STFT), ``tempo`` (beats,
tempo map), ``onsets`` (detection, grid), ``lanes`` (Expert notes), ``reduce`` (lower
difficulties), ``structure`` (sections, star power), ``writer`` (notes.chart, audio files),
``pipeline`` (the order of work). Rules and measurements behind them:
``../shared/reference/chart-generation.md``; the quality benchmark: ``bench/bench_generator.py``.
"""
from content.generator.errors import GeneratorError
from content.generator.pipeline import GeneratedSong, generate, write_song_folder

__all__ = ["GeneratedSong", "GeneratorError", "generate", "write_song_folder"]
