"""Audio → Clone Hero chart generator (pure Python, no Django).

Public API::

    from content.generator import generate, write_song_folder, GeneratedSong, GeneratorError

    song = generate(Path("song.ogg"), name="Title", artist="Band",
                    progress=lambda step, total, message: ...)
    song.note_counts   # {"guitar": {"Expert": 812, "Hard": 520, "Medium": 300, "Easy": 179},
                       #  "bass": {...} with a bass stem}
    song.drum_counts   # {"Expert": 1900, ...} for the drum chart ({} without a drum stem)
    song.bpm, song.chart_text, song.song_ini, song.audio_files, song.seconds
    write_song_folder(song, Path("out/Band - Title"))   # notes.chart, song.ini, audio, art

``source`` is an audio file (ogg, opus, mp3, wav, flac) or a folder of Clone Hero stems
(song, guitar, rhythm, bass, keys, drums …). Bad input raises ``GeneratorError``
(``.path``, ``.reason``).

Modules, one job each: ``audio`` (decoding), ``tags`` (names, album, cover art), ``spectrum``
(the one STFT), ``tempo`` (beats, tempo map), ``onsets`` (detection, grid), ``lanes`` (Expert
notes), ``reduce`` (lower difficulties), ``drums`` (drum chart), ``structure`` (sections, star
power), ``writer`` (notes.chart, audio files), ``pipeline`` (the order of work). Rules and
measurements behind them: ``../shared/reference/chart-generation.md``; the quality benchmark:
``bench/bench_generator.py``.
"""
from content.generator.errors import GeneratorError
from content.generator.pipeline import GeneratedSong, generate, write_song_folder

__all__ = ["GeneratedSong", "GeneratorError", "generate", "write_song_folder"]
