"""``manage.py generate_chart AUDIO_OR_STEM_FOLDER [--name N --artist A] (--out DIR | --import)``

Generates a Clone Hero chart from an audio file or a folder of stems and prints the tempo,
the note count of each difficulty and the seconds taken. ``--out DIR`` writes the song
folder (notes.chart, song.ini, audio) into DIR itself; ``--import`` adds it to the library
through the same import as uploads. Unusable audio is a CommandError naming the file.
"""
from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Generate a Clone Hero chart (Expert to Easy guitar; rhythm, bass, keys and drums "
            "from their stems; a lone stem gives its own part only) from "
            "an audio file (ogg, opus, mp3, wav, flac) or a folder of stems (song.ogg, "
            "guitar.ogg, bass.ogg, drums.ogg ...), and write it to a folder or import it into "
            "the library.")

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, metavar="AUDIO_OR_STEM_FOLDER")
        parser.add_argument("--name", help="song name (default: the audio's tags, else the "
                                           "file or folder name, the folder's for a stem such "
                                           "as guitar.ogg; 'Artist - Title' is split)")
        parser.add_argument("--artist", help="artist (default: the audio's tags, else the "
                                             "'Artist' of an 'Artist - Title' name)")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--out", type=Path, metavar="DIR",
                           help="write the song folder into DIR (created if missing)")
        where.add_argument("--import", dest="import_", action="store_true",
                           help="import the song into the library (local folder or Nextcloud)")

    def handle(self, *args, source: Path, name: str | None, artist: str | None,
               out: Path | None, import_: bool, **options):
        # Imported here, not at module level: the generator's imports take seconds, which
        # --help and argument errors need not wait for.
        from content.generator import GeneratorError, generate, write_song_folder
        from content.library.generation import max_audio_seconds, song_generate, song_summary
        from content.storage import library_storage

        if not source.exists():
            raise CommandError(f"{source}: no such file or folder")
        started = time.perf_counter()
        summary: dict = {}
        try:
            if out is not None:
                song = generate(source, name=name, artist=artist,
                                max_seconds=max_audio_seconds())
                summary = song_summary(song)
                folder = write_song_folder(song, out)
                outcome = f"wrote {folder}"
            else:
                result = song_generate(audio=source, name=name, artist=artist,
                                       storage=library_storage(),
                                       on_generated=lambda s: summary.update(song_summary(s)))
                if result.status == "rejected":
                    raise CommandError(f"{source}: the generated song was not imported: "
                                       f"{result.reason}")
                outcome = (f"imported as {result.song_path} (song {result.song_id})"
                           if result.status == "imported" else
                           f"not imported, a duplicate: {result.reason}")
        except GeneratorError as error:
            raise CommandError(str(error)) from None
        except FileExistsError as error:
            raise CommandError(f"{error}; choose an empty --out folder") from None
        self._print(summary, time.perf_counter() - started)
        self.stdout.write(outcome)

    def _print(self, summary: dict, seconds: float) -> None:
        self.stdout.write(f"{summary['artist']} - {summary['name']}")
        tempo = f"tempo: {summary['bpm']:g} BPM"
        if summary["tempo_markers"] > 1:
            tempo += (f" (range {summary['bpm_min']:g}-{summary['bpm_max']:g} BPM, "
                      f"{summary['tempo_markers']} tempo markers)")
        self.stdout.write(f"{tempo}, {summary['beats_per_bar']}/4 time")
        if summary["tempo_note"]:
            self.stdout.write(f"  {summary['tempo_note']}")
        if summary["audio_note"]:
            self.stdout.write(f"audio: {summary['audio_note']}")
        for part in summary["parts"]:
            self.stdout.write(f"{part['instrument']} notes: "
                              + ", ".join(f"{d} {n}" for d, n in part["notes"]))
        star_power = ", ".join(
            f"{part['instrument']} {part['star_power']}"
            + (f" with {part['fills']} fills" if "fills" in part else "")
            for part in summary["parts"])
        self.stdout.write(f"sections: {summary['sections']}, star power phrases: {star_power}")
        self.stdout.write(f"lead-in: first note at {summary['first_note_s']:.2f} s "
                          f"({summary['lead_in_s']:.2f} s of silence added before the audio)")
        self.stdout.write(f"seconds: {seconds:.1f} (generator {summary['seconds']:.1f})")
