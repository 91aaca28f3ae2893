"""Chart generation as a library service: audio in, a song in the library out.

``song_generate`` runs the generator (content/generator), writes the song folder into a
scratch folder and imports it with ``songs_import`` — the same path as uploaded archives,
so a generated song lands in the library storage (local folder or Nextcloud) with the same
checks, naming and duplicate detection. ``generate_job`` is the same work as a job function
for content/library/jobs.py (the Generator page).
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from content.generator import GeneratedSong, GeneratorError, generate, write_song_folder
from content.generator.audio import is_drum_stem
from content.storage import library_storage
from content.storage.base import Storage, staging_name

from .imports import ImportResult, Progress, songs_import
from .jobs import JobFailed, scratch_path
from .naming import safe_component

# Steps song_generate reports after the generator's own: writing the folder, importing.
_EXTRA_STEPS = 2


def song_generate(*, audio: Path, name: str | None = None, artist: str | None = None,
                  progress: Progress | None = None, storage: Storage,
                  on_generated: Callable[[GeneratedSong], None] | None = None) -> ImportResult:
    """Generate a chart for ``audio`` and import the song folder into ``storage``.

    audio: an audio file (ogg, opus, mp3, wav, flac) or a folder of Clone Hero stems
    (song.ogg, guitar.ogg, drums.ogg …), passed to the generator as it is.
    name / artist: override the audio's tags. progress: ``progress(step, total, message)``,
    the generator's steps followed by writing and importing; it may raise to stop the work
    (nothing is imported then). on_generated: called with the GeneratedSong before it is
    written (tempo, note counts and timing for the caller to show).
    Returns the ImportResult: "imported" (song_id / song_path set), "duplicate" (the same
    chart is in the library already; song_id is that song) or "rejected" (reason says why).
    Raises GeneratorError when the audio cannot be charted (the message names the file), as
    when a file is longer than ``max_audio_seconds()``. The scratch folder is always removed.
    """
    audio = Path(audio)
    total = [0]

    def generator_progress(step: int, steps: int, message: str) -> None:
        total[0] = steps + _EXTRA_STEPS
        if progress:
            # The generator's last call says "done"; for us writing and importing follow.
            progress(step, total[0], message if step < steps else "writing the song folder")

    scratch = Path(settings.SCRATCH_ROOT) / staging_name("-generate")
    try:
        song = generate(audio, name=name, artist=artist, progress=generator_progress,
                        max_seconds=max_audio_seconds())
        if on_generated:
            on_generated(song)
        folder = write_song_folder(
            song, scratch / safe_component(f"{song.artist} - {song.name}", "Generated song"))
        if progress:
            progress(total[0] - 1, total[0], "importing into the library")
        report = songs_import(sources=[folder], storage=storage, label=audio.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if progress:
        progress(total[0], total[0], "done")
    return report.results[0]


def max_audio_seconds() -> float:
    """The longest audio the generator takes here (s), from settings.GENERATOR_MAX_MINUTES."""
    return settings.GENERATOR_MAX_MINUTES * 60


# Shown by generate_chart and on the job page when the tempo map follows a lone stem.
BEATS_FROM_NOTES = ("from the stem's notes alone: where the part does not show the "
                    "beat, bar lines can sit an 8th or a 16th off (give song.ogg or drums.ogg "
                    "beside it for a surer tempo map)")


def held_note(song: GeneratedSong) -> str:
    """What the user is told when their ``song.*`` already holds some of the stems given
    beside it (``GeneratedSong.held_in_song``), else ""."""
    if not song.held_in_song:
        return ""
    mix = next((path.name for path, stem in song.audio_files if stem == "song"), "song.ogg")
    stems = _stems(song.held_in_song)
    it = "them" if len(song.held_in_song) > 1 else "it"
    charted = [stem for stem in song.held_in_song
               if stem in song.parts or (is_drum_stem(stem) and song.drums)]
    charts = ""
    if charted:  # a held vocals stem charts nothing
        verb = "still chart their parts" if len(charted) > 1 else "still charts its part"
        charts = f" {_stems(charted).capitalize()} {verb}."
    return (f"{mix} already holds {stems} (it is the full mix), so the song folder leaves {it} "
            f"out: Clone Hero plays {mix} together with every stem, and {stems} would sound "
            f"twice.{charts} For Clone Hero to quiet a part on a missed note, give a backing "
            f"track without that part as {mix}.")


def _stems(names: list[str] | tuple[str, ...]) -> str:
    """"the guitar stem", "the guitar and drums stems", "the guitar, bass and drums stems"."""
    *others, last = names
    return f"the {', '.join(others)} and {last} stems" if others else f"the {last} stem"


def song_summary(song: GeneratedSong) -> dict:
    """JSON summary of a generated chart: names, tempo (BPM: main, lowest, highest, number of
    tempo markers; ``beats_per_bar``: quarter notes per bar, 3 or 4; ``tempo_note``:
    ``BEATS_FROM_NOTES`` when the tempo map follows a lone stem's notes, else ""),
    ``audio_note``: ``held_note`` (else ""), ``parts``: one
    ``{"instrument", "notes": [[difficulty, count], …], "star_power": phrases}`` per part in
    chart order (guitar, rhythm, bass, keys, drums; drums also ``"fills"``), sections,
    ``first_note_s`` (chart time of the first note of any part), ``lead_in_s`` (silence added
    before the audio for it) and generator seconds. Lists, not mappings, keep that order:
    PostgreSQL's jsonb, where jobs keep the summary, sorts object keys."""
    bpms = [bpm / 1000 for _, bpm in song.tempo.tempos]
    return {
        "name": song.name, "artist": song.artist,
        "bpm": round(song.bpm, 2), "bpm_min": round(min(bpms), 2),
        "bpm_max": round(max(bpms), 2), "tempo_markers": len(bpms),
        "beats_per_bar": song.tempo.beats_per_bar,
        "tempo_note": BEATS_FROM_NOTES if song.beats_from_notes else "",
        "audio_note": held_note(song),
        "parts": [
            *({"instrument": instrument, "notes": list(song.note_counts[instrument].items()),
               "star_power": len(part.star_power)} for instrument, part in song.parts.items()),
            *([{"instrument": "drums", "notes": list(song.drum_counts.items()),
                "star_power": len(song.drum_star_power), "fills": len(song.drum_fills)}]
              if song.drums else [])],
        "sections": len(song.sections),
        "first_note_s": round(song.first_note_s, 3), "lead_in_s": round(song.lead_in_s, 3),
        "seconds": round(song.seconds, 2),
    }


def generate_job(*, arguments: dict, progress: Progress) -> dict:
    """Job function (jobs.JOB_FUNCTIONS["generate"]): generate and import an uploaded song.

    arguments: ``scratch`` (the upload's staging folder, removed by the runner), ``audio``
    (the file or stem folder inside it), ``label`` (the uploaded file names, for messages),
    optional ``name`` and ``artist``.
    Returns the song_summary plus the import's ``status``, ``reason``, ``song_id`` and
    ``song_path``. Raises JobFailed with a message naming the uploaded file when the audio
    cannot be charted or the import rejects the song.
    """
    upload = scratch_path(arguments["scratch"])
    audio = upload / arguments["audio"]
    if not audio.resolve().is_relative_to(upload.resolve()):
        raise JobFailed(f"{arguments['audio']}: not inside the job's upload folder")
    summary: dict = {}
    try:
        result = song_generate(
            audio=audio, name=arguments.get("name") or None,
            artist=arguments.get("artist") or None, progress=progress,
            storage=library_storage(),
            on_generated=lambda song: summary.update(song_summary(song)))
    except GeneratorError as error:
        name = _upload_name(error.path, upload, arguments)
        # ffmpeg's detail repeats the path: users know the file by its name, and the
        # server's folders are none of their business.
        reason = error.reason.replace(str(error.path), name).replace(f"{upload}/", "")
        raise JobFailed(f"{name}: {reason}") from None
    if result.status == "rejected":
        raise JobFailed(f"The generated song could not be added to the library: {result.reason}")
    return {**summary, "status": result.status, "reason": result.reason,
            "song_id": result.song_id, "song_path": result.song_path}


def _upload_name(path: Path, upload: Path, arguments: dict) -> str:
    """What the user calls ``path``: the uploaded file's name, not the server's scratch path."""
    try:
        inside = path.relative_to(upload)
    except ValueError:
        return path.name
    if inside == Path(arguments["audio"]) and path.is_dir():
        return f"the uploaded stems ({arguments.get('label', '')})"
    return inside.name
