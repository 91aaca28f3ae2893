"""``python manage.py import_songs PATH...``: archives, .sng files or song folders."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from content.library.imports import songs_import
from content.storage import library_storage


class Command(BaseCommand):
    help = ("Import Clone Hero songs from zip/7z/rar archives, .sng files or folders into the "
            "library (Songs/<artist>/<name>/), skipping duplicates by chart MD5.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path)

    def handle(self, *args, paths: list[Path], **options):
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise CommandError(f"not found: {', '.join(missing)}")
        report = songs_import(sources=[p.resolve() for p in paths], storage=library_storage())
        for result in report.results:
            line = f"{result.status:9} {result.source}"
            if result.song_path and result.status == "imported":
                line += f" -> {result.song_path}"
            if result.reason:
                line += f" ({result.reason})"
            self.stdout.write(line)
        self.stdout.write(f"imported {report.count('imported')}, duplicates "
                          f"{report.count('duplicate')}, rejected {report.count('rejected')}")
        if report.stopped:
            raise CommandError(f"stopped, out of disk space: {report.stopped}")
        if report.count("rejected") and not report.count("imported"):
            raise CommandError("nothing was imported")
