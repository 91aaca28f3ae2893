"""``python manage.py seed_songs --count 50000 [--seed N] [--force]`` / ``seed_songs --delete``:
synthetic songs for load tests (content/library/synthetic.py)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from content.library.synthetic import (SYNTHETIC_PREFIX, RealSongsPresent, synthetic_delete,
                                       synthetic_seed)


class Command(BaseCommand):
    help = (f"Add synthetic songs under {SYNTHETIC_PREFIX} (with files, chart tracks, issues and "
            "search words) for load tests, or delete them. Refuses a database with real songs.")

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=50_000,
                            help="songs to add (default 50000)")
        parser.add_argument("--seed", type=int, default=0,
                            help="vocabulary and draw seed: the same seed gives the same songs")
        parser.add_argument("--force", action="store_true",
                            help="add them even though the database holds real songs")
        parser.add_argument("--delete", action="store_true",
                            help=f"delete every song under {SYNTHETIC_PREFIX} instead")

    def handle(self, *args, count: int, seed: int, force: bool, delete: bool, **options):
        if delete:
            self.stdout.write(f"deleted {synthetic_delete()} synthetic songs")
            return
        if count < 0:
            raise CommandError(f"--count must be 0 or more, not {count}")
        try:
            result = synthetic_seed(count=count, seed=seed, force=force)
        except RealSongsPresent as error:
            raise CommandError(f"seed_songs refused: {error}") from None
        self.stdout.write(
            f"added {result.created} synthetic songs under {SYNTHETIC_PREFIX} with "
            f"{result.files} files, {result.tracks} chart tracks and {result.issues} issues "
            f"in {result.seconds:.1f} s")
